"""Train (or resume) the real ``wm-agent train`` runs a benchmark is made of, several at once.

Shared by the learning and safety benchmarks: a run directory that already has its
config is resumed to the requested env steps, otherwise it is created; each run's
output goes to ``<run_dir>.out`` beside it. ``evaluate_all`` gives finished runs a longer
evaluation (``wm-agent eval`` on one checkpoint) than the trainer's periodic one.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from agent.layout import CHECKPOINT_DIR, CONFIG_FILE
from agent.run.checkpoint import checkpoint_path
from agent.run.evaluate import eval_report_path

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


def run_cli(cmd: list[str], run_dir: Path) -> None:
    """``wm-agent <cmd>`` in a subprocess, its output appended to ``<run_dir>.out``."""
    log = run_dir.parent / f"{run_dir.name}.out"
    with open(log, "a") as out:
        code = subprocess.run([sys.executable, "-m", "agent.cli", *cmd, "--no-progress"], stdout=out,
                              stderr=subprocess.STDOUT, cwd=ROOT,
                              env={**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}).returncode
    if code != 0:
        raise RunFailed(f"{run_dir}: 'wm-agent {cmd[0]}' failed (exit {code}); its log: {log}")


class RunFailed(RuntimeError):
    pass


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
    are done the failures end the benchmark with one line each."""
    with ThreadPoolExecutor(parallel) as pool:
        futures = [pool.submit(fn, *args) for fn, args in calls]
    failures = [e for e in (f.exception() for f in futures) if e is not None]
    if failures:
        raise SystemExit("\n".join(map(str, failures)))
