"""Run a suite's (task, seed) jobs: local processes bounded by ``--jobs``, or Ray tasks.

Each job is one ``python -m agent.cli train`` child in its own run directory
``<suite_dir>/runs/<task>-s<seed>``, its output in ``<suite_dir>/logs/<task>-s<seed>.log``.
Rerunning the same command keeps finished jobs and resumes unfinished ones from their
checkpoints (the trainer rebuilds the replay from its episode files), so a suite can
span several sittings. A job that exits non-zero is reported with its log and the
others go on.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from tqdm import tqdm

from agent.layout import CONFIG_FILE, SMALL_FILES
from agent.suite.results import RunResult, read_eval_csv, read_run, steps_done

POLL_S = 1.0
STOP_GRACE_S = 60.0  # a child writes a checkpoint on SIGTERM; give it time to


@dataclass(frozen=True)
class SuitePlan:
    """What a suite run trains; every job gets the same budget and extra train options."""

    suite: str
    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    steps: int
    suite_dir: Path
    train_args: tuple[str, ...] = ()
    threads: int = 1

    def jobs(self) -> list["Job"]:
        return [Job(task, seed) for task in self.tasks for seed in self.seeds]


@dataclass(frozen=True)
class Job:
    task: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.task}-s{self.seed}"


@dataclass
class Outcome:
    job: Job
    ok: bool
    log: Path
    message: str = ""
    result: RunResult | None = None
    files: dict[str, bytes] = field(default_factory=dict)


def run_dir_of(suite_dir: Path, job: Job) -> Path:
    return suite_dir / "runs" / job.name


def log_of(suite_dir: Path, job: Job) -> Path:
    return suite_dir / "logs" / f"{job.name}.log"


def is_finished(run_dir: Path, steps: int) -> bool:
    """The trainer evaluates at its last step, so a finished run's eval.csv reaches ``steps``."""
    rows = read_eval_csv(run_dir)
    return bool(rows) and int(rows[-1]["env_steps"]) >= steps


def child_command(job: Job, plan: SuitePlan, run_dir: Path) -> list[str]:
    """The ``wm-agent train`` command that starts or continues this job's run."""
    common = ["--steps", str(plan.steps), "--threads", str(plan.threads), "--no-progress", *plan.train_args]
    if (run_dir / CONFIG_FILE).is_file():
        return [sys.executable, "-m", "agent.cli", "train", "--resume", str(run_dir), *common]
    return [sys.executable, "-m", "agent.cli", "train", "--env", job.task, "--seed", str(job.seed),
            "--logdir", str(run_dir.parent), "--run-name", run_dir.name, *common]


def prepare_run_dir(run_dir: Path) -> None:
    """A directory without config.json is a start that died before writing it: start over."""
    if run_dir.exists() and not (run_dir / CONFIG_FILE).is_file():
        shutil.rmtree(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)


# The directory holding this package: children import the same wm-agent code as the suite.
CODE_ROOT = str(Path(__file__).resolve().parents[2])


def _child_env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (CODE_ROOT, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONPATH": path}


def _failure(log: Path, code: int) -> str:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()] if log.is_file() else []
    return f"exit {code}" + (f": {lines[-1].strip()[:200]}" if lines else "")


class _Stop(Exception):
    """SIGTERM to the suite: stop the children cleanly (they checkpoint) and return."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


class _Bars:
    """One bar over the suite's env steps, one per running job (polled from episode files)."""

    def __init__(self, plan: SuitePlan, jobs: list[Job], enabled: bool) -> None:
        self.plan, self.enabled = plan, enabled
        self.done = {job: min(steps_done(run_dir_of(plan.suite_dir, job)), plan.steps) for job in jobs}
        self.total = tqdm(total=plan.steps * len(jobs), initial=sum(self.done.values()), unit="step",
                          desc=f"{plan.suite} ({len(jobs)} jobs)", dynamic_ncols=True, disable=not enabled, position=0)
        self.bars: dict[Job, tqdm] = {}
        self.rows: dict[Job, int] = {}  # terminal row of each running job's bar, reused when it ends

    def start(self, job: Job) -> None:
        row = min(set(range(1, len(self.rows) + 2)) - set(self.rows.values()))
        self.rows[job] = row
        self.bars[job] = tqdm(total=self.plan.steps, initial=self.done[job], unit="step", desc=job.name,
                              dynamic_ncols=True, leave=False, disable=not self.enabled, position=row)

    def poll(self, job: Job) -> None:
        now = min(steps_done(run_dir_of(self.plan.suite_dir, job)), self.plan.steps)
        if job in self.bars and now > self.done[job]:
            self.bars[job].update(now - self.done[job])
            self.total.update(now - self.done[job])
            self.done[job] = now

    def finish(self, job: Job, outcome: Outcome) -> None:
        self.poll(job)
        self.bars.pop(job).close()
        del self.rows[job]
        status = "done" if outcome.ok else f"FAILED ({outcome.message}); log: {outcome.log}"
        tqdm.write(f"{job.name}: {status}")

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.total.close()


def run_local(plan: SuitePlan, jobs: list[Job], max_jobs: int, progress: bool = True) -> list[Outcome]:
    """Run ``jobs`` as child processes, at most ``max_jobs`` at once."""
    pending, running, outcomes = deque(jobs), {}, []
    bars = _Bars(plan, jobs, progress)
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        while pending or running:
            while pending and len(running) < max_jobs:
                job = pending.popleft()
                run_dir, log = run_dir_of(plan.suite_dir, job), log_of(plan.suite_dir, job)
                prepare_run_dir(run_dir)
                log.parent.mkdir(parents=True, exist_ok=True)
                with open(log, "a") as out:  # the child keeps its own copy of the descriptor
                    # A session of its own: Ctrl-C reaches the suite only, which stops each child in turn.
                    proc = subprocess.Popen(child_command(job, plan, run_dir), stdout=out, stderr=subprocess.STDOUT,
                                            env=_child_env(), start_new_session=True)
                running[job] = proc
                bars.start(job)
            time.sleep(POLL_S)
            for job, proc in list(running.items()):
                bars.poll(job)
                if proc.poll() is None:
                    continue
                del running[job]
                log = log_of(plan.suite_dir, job)
                ok = proc.returncode == 0
                outcome = Outcome(job, ok, log, "" if ok else _failure(log, proc.returncode))
                outcomes.append(outcome)
                bars.finish(job, outcome)
    except (KeyboardInterrupt, _Stop):
        stop_children(running.values())
        raise KeyboardInterrupt from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        bars.close()
    return outcomes


def stop_children(procs: Iterable[subprocess.Popen]) -> None:
    """SIGTERM to each child (a training run checkpoints on it), then wait; a child still there after
    STOP_GRACE_S is killed. Shared with the benchmarks' runner (benchmarks/train_runs.py)."""
    procs = list(procs)
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()


# --- Ray -------------------------------------------------------------------------------------


def ray_job(job: Job, plan: SuitePlan) -> Outcome:
    """Body of one Ray task: train (or resume) on the worker's node, send back the run's small files.

    The run lives at the driver's path when the worker can write there (same machine or a
    shared disk), else under the worker's temp directory, so a retry on that node resumes.
    """
    try:
        run_dir = run_dir_of(plan.suite_dir, job)
        run_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        run_dir = Path(tempfile.gettempdir()) / "wm-agent-suites" / plan.suite_dir.name / "runs" / job.name
    prepare_run_dir(run_dir)
    log = run_dir.parent.parent / "logs" / f"{job.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if not is_finished(run_dir, plan.steps):
        with open(log, "a") as out:
            code = subprocess.run(child_command(job, plan, run_dir), stdout=out, stderr=subprocess.STDOUT,
                                  env=_child_env()).returncode
    else:
        code = 0
    files = {name: (run_dir / name).read_bytes() for name in SMALL_FILES if (run_dir / name).is_file()}
    files["log"] = log.read_bytes() if log.is_file() else b""
    return Outcome(job, code == 0, log, "" if code == 0 else _failure(log, code), read_run(run_dir), files)


def ray_resources(plan: SuitePlan) -> dict[str, float]:
    """CPUs = torch threads per job; one GPU when the jobs train with --device cuda."""
    args = [part for a in plan.train_args for part in a.split("=", 1)]  # '--device=cuda' as '--device cuda'
    device = args[args.index("--device") + 1] if "--device" in args[:-1] else "cpu"
    return {"num_cpus": plan.threads, "num_gpus": 1 if device.startswith("cuda") else 0}


def gather(outcome: Outcome, plan: SuitePlan) -> Outcome:
    """Write a Ray job's small files into the local suite directory (a no-op on the same disk)."""
    run_dir, log = run_dir_of(plan.suite_dir, outcome.job), log_of(plan.suite_dir, outcome.job)
    run_dir.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    for name, data in outcome.files.items():
        path = log if name == "log" else run_dir / name
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
    if outcome.result is not None:
        outcome.result.run_dir = str(run_dir)
    outcome.log = log
    return outcome


def run_ray(plan: SuitePlan, jobs: list[Job], address: str, progress: bool = True,
            max_retries: int = 3) -> list[Outcome]:
    """One Ray task per job on the cluster at ``address``; a lost worker's task is retried."""
    import ray

    ray.init(address=address, log_to_driver=False, runtime_env={"env_vars": {"MUJOCO_GL": _child_env()["MUJOCO_GL"]}})
    try:
        # Retries cover lost workers and nodes only: a job exiting non-zero returns its failure.
        task = ray.remote(ray_job).options(max_retries=max_retries, retry_exceptions=False, **ray_resources(plan))
        refs = {task.remote(job, plan): job for job in jobs}
        bars = _Bars(plan, jobs, progress)
        for job in jobs:
            bars.start(job)
        outcomes = []
        try:
            while refs:
                ready, _ = ray.wait(list(refs), num_returns=1, timeout=POLL_S)
                for job in refs.values():
                    bars.poll(job)  # only moves where the driver sees the run's episodes
                for ref in ready:
                    job = refs.pop(ref)
                    try:
                        outcome = gather(ray.get(ref), plan)
                    except Exception as exc:  # a task that failed beyond its retries
                        outcome = Outcome(job, False, log_of(plan.suite_dir, job), f"ray: {type(exc).__name__}: "
                                          f"{str(exc).splitlines()[0][:200] if str(exc) else ''}")
                    outcomes.append(outcome)
                    bars.finish(job, outcome)
        finally:
            bars.close()
        return outcomes
    finally:
        ray.shutdown()
