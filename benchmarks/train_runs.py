"""Train (or resume) the real ``wm-agent train`` runs a benchmark is made of, several at once.

Shared by the learning and safety benchmarks: a run directory that already has its
config is resumed to the requested env steps, otherwise it is created; each run's
output goes to ``<run_dir>.out`` beside it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class TrainRun:
    run_dir: Path
    env: str
    seed: int
    options: list[str] = field(default_factory=list)  # 'wm-agent train' options of a new run


def training_command(script: str, argv: list[str]) -> str:
    """The command that trains (and resumes) a benchmark's runs: its own command line minus --report-only."""
    args = [os.path.relpath(script, ROOT), *(a for a in argv if a != "--report-only")]
    return "python " + " ".join(shlex.quote(a) for a in args)


def threads_per_run(parallel: int) -> int:
    """Torch threads for each of ``parallel`` runs sharing this machine's cores."""
    return max(1, (os.cpu_count() or 1) // parallel)


def train_or_resume(run: TrainRun, steps: int, threads: int) -> Path:
    if (run.run_dir / "config.json").is_file():
        # Threads may differ between sittings (e.g. one run alone, then three at once).
        cmd = ["train", "--resume", str(run.run_dir), "--steps", str(steps), "--threads", str(threads)]
    else:
        cmd = ["train", "--env", run.env, "--seed", str(run.seed), "--steps", str(steps),
               "--logdir", str(run.run_dir.parent), "--run-name", run.run_dir.name, "--threads", str(threads),
               *run.options]
    run.run_dir.parent.mkdir(parents=True, exist_ok=True)
    log = run.run_dir.parent / f"{run.run_dir.name}.out"
    with open(log, "a") as out:
        code = subprocess.run([sys.executable, "-m", "agent.cli", *cmd, "--no-progress"], stdout=out,
                              stderr=subprocess.STDOUT, cwd=ROOT,
                              env={**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}).returncode
    if code != 0:
        raise RunFailed(f"{run.run_dir} failed (exit {code}); its log: {log}")
    return run.run_dir


class RunFailed(RuntimeError):
    pass


def train_all(runs: list[TrainRun], steps: int, parallel: int) -> None:
    """Train ``runs``, ``parallel`` at once; a failed run does not stop the others, and once all
    are done the failures end the benchmark with one line each naming the run's log."""
    threads = threads_per_run(parallel)
    with ThreadPoolExecutor(parallel) as pool:
        futures = [pool.submit(train_or_resume, run, steps, threads) for run in runs]
    failures = [e for e in (f.exception() for f in futures) if e is not None]
    if failures:
        raise SystemExit("\n".join(map(str, failures)))
