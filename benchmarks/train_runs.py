"""Train (or resume) the real ``wm-agent train`` runs a benchmark is made of, several at once.

Shared by the learning and safety benchmarks: a run directory that already has its
config is resumed to the requested env steps, otherwise it is created; each run's
output goes to ``<run_dir>.out`` beside it. ``evaluate_all`` gives finished runs a longer
evaluation (``wm-agent eval`` on one checkpoint) than the trainer's periodic one.

Stopping a benchmark (Ctrl-C, or SIGTERM to its process) stops its runs the way the suite
runner does: each child runs in a session of its own and gets one SIGTERM from here, checkpoints
and exits with EXIT_INTERRUPTED; no further run is started, and the benchmark exits with that
status too, so the same command resumes every run where it stopped. A run stopped on its own
(its exit status EXIT_INTERRUPTED) stops the benchmark the same way: going on would train later
stages or variants past an evaluation the stopped run still owes.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from agent.layout import CHECKPOINT_DIR, CONFIG_FILE, EXIT_INTERRUPTED
from agent.run.checkpoint import checkpoint_path
from agent.run.evaluate import eval_report_path
from agent.suite.runner import stop_children

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class TrainRun:
    run_dir: Path
    env: str
    seed: int
    options: list[str] = field(default_factory=list)  # 'wm-agent train' options of a new run
    resume_options: list[str] = field(default_factory=list)  # options added when it is resumed (with --override)


def training_command(script: str, argv: list[str]) -> str:
    """The command that trains (and resumes) a benchmark's runs: its own command line minus --report-only."""
    args = [os.path.relpath(script, ROOT), *(a for a in argv if a != "--report-only")]
    return "python " + " ".join(shlex.quote(a) for a in args)


def threads_per_run(parallel: int) -> int:
    """Torch threads for each of ``parallel`` runs sharing this machine's cores."""
    return max(1, (os.cpu_count() or 1) // parallel)


def train_or_resume(run: TrainRun, steps: int, threads: int) -> Path:
    if (run.run_dir / CONFIG_FILE).is_file():
        # Threads may differ between sittings (e.g. one run alone, then three at once).
        cmd = ["train", "--resume", str(run.run_dir), "--steps", str(steps), "--threads", str(threads),
               *run.resume_options]
    else:
        cmd = ["train", "--env", run.env, "--seed", str(run.seed), "--steps", str(steps),
               "--logdir", str(run.run_dir.parent), "--run-name", run.run_dir.name, "--threads", str(threads),
               *run.options]
    run.run_dir.parent.mkdir(parents=True, exist_ok=True)
    run_cli(cmd, run.run_dir)
    return run.run_dir


class _Children:
    """The running ``wm-agent`` children, so that a stop reaches each of them (they are in sessions of
    their own, out of reach of the terminal's Ctrl-C), and no new one starts after it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: set[subprocess.Popen] = set()
        self.stopping = False

    def start(self, cmd: list[str], out: object) -> subprocess.Popen | None:
        with self.lock:
            if self.stopping:
                return None
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
                                    env={**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")})
            self.running.add(proc)
            return proc

    def finished(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.running.discard(proc)

    def stop(self) -> None:
        """SIGTERM to every running child (each checkpoints), then wait for them; none starts after this."""
        with self.lock:
            self.stopping = True
            running = list(self.running)
        stop_children(running)


_children = _Children()


def run_cli(cmd: list[str], run_dir: Path) -> None:
    """``wm-agent <cmd>`` in a subprocess, its output appended to ``<run_dir>.out``."""
    log = run_dir.parent / f"{run_dir.name}.out"
    if _children.stopping:  # checked again, under the lock, when it starts
        raise RunInterrupted(f"{run_dir}: not started (the benchmark is stopping)")
    with open(log, "a") as out:
        proc = _children.start([sys.executable, "-m", "agent.cli", *cmd, "--no-progress"], out)
        if proc is None:
            raise RunInterrupted(f"{run_dir}: not started (the benchmark is stopping)")
        try:
            code = proc.wait()
        finally:
            _children.finished(proc)
    if code == EXIT_INTERRUPTED:
        raise RunInterrupted(f"{run_dir}: stopped (checkpointed); its log: {log}")
    if code != 0:
        raise RunFailed(f"{run_dir}: 'wm-agent {cmd[0]}' failed (exit {code}); its log: {log}")


class RunFailed(RuntimeError):
    pass


class RunInterrupted(RuntimeError):
    """A run was stopped before its steps (it checkpointed): the benchmark stops too."""


def train_all(runs: list[TrainRun], steps: int, parallel: int) -> None:
    """Train ``runs``, ``parallel`` at once; a failed run does not stop the others, and once all
    are done the failures end the benchmark with one line each naming the run's log."""
    threads = threads_per_run(parallel)
    _run_all([(train_or_resume, (run, steps, threads)) for run in runs], parallel)


def checkpoint_at(run_dir: Path, steps: int) -> Path:
    return checkpoint_path(run_dir / CHECKPOINT_DIR, steps)


def evaluate_checkpoint(run: TrainRun, steps: int, episodes: int) -> None:
    """``wm-agent eval`` of the run's checkpoint at ``steps`` over ``episodes`` episodes; reset seeds follow the
    run's seed (as in training), so two variants with the same seed are evaluated on the same episodes."""
    run_cli(["eval", str(checkpoint_at(run.run_dir, steps)), "--episodes", str(episodes), "--seed", str(run.seed)],
            run.run_dir)


def needs_final_eval(run_dir: Path, steps: int, episodes: int) -> bool:
    """The run has its checkpoint at ``steps`` but no report of at least ``episodes`` episodes on it."""
    if not checkpoint_at(run_dir, steps).is_file():
        return False
    report = eval_report_path(run_dir, steps)
    return not report.is_file() or json.loads(report.read_text())["episodes"] < episodes


def evaluate_all(runs: list[TrainRun], steps: int, episodes: int, parallel: int) -> None:
    """The final evaluation of every run that reached ``steps`` and lacks one (rerun: only the missing ones)."""
    todo = [run for run in runs if needs_final_eval(run.run_dir, steps, episodes)]
    _run_all([(evaluate_checkpoint, (run, steps, episodes)) for run in todo], parallel)


def _run_all(calls: list[tuple], parallel: int) -> None:
    """``fn(*args)`` for each call, ``parallel`` at once; a failure does not stop the others, and once all
    are done the failures end the benchmark with one line each. A stop (Ctrl-C, SIGTERM, or a run that
    was stopped) stops every running child, starts no other and exits with EXIT_INTERRUPTED."""
    _children.stopping = False
    main_thread = threading.current_thread() is threading.main_thread()  # only it may take signals
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt) if main_thread else None
    pool = ThreadPoolExecutor(parallel)
    futures = [pool.submit(fn, *args) for fn, args in calls]
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            if any(isinstance(f.exception(), RunInterrupted) for f in done):
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        _children.stop()
        pool.shutdown(wait=True)
        print("interrupted: the stopped runs have checkpointed; the same command resumes them", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    pool.shutdown(wait=True)
    failures = [e for e in (f.exception() for f in futures) if e is not None]
    if failures:
        raise SystemExit("\n".join(map(str, failures)))


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
