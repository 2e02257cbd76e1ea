"""benchmarks/train_runs.py: a stopped benchmark stops its runs (each checkpoints), starts no other
and exits with EXIT_INTERRUPTED, so that the same command resumes where it stopped."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from agent.layout import EXIT_INTERRUPTED
from benchmarks.train_runs import RunFailed, RunInterrupted, _run_all
from tests.support import ROOT, TINY_ONE_THREAD


def test_a_stopped_run_stops_the_benchmark_and_nothing_after_it_starts():
    ran = []

    def stopped():
        raise RunInterrupted("run a: stopped (checkpointed)")

    with pytest.raises(SystemExit) as stop:
        _run_all([(stopped, ()), (ran.append, ("b",)), (ran.append, ("c",))], parallel=1)
    assert stop.value.code == EXIT_INTERRUPTED
    assert ran == []


def test_a_failed_run_does_not_stop_the_others_and_is_reported_at_the_end():
    ran = []

    def failed():
        raise RunFailed("run a: 'wm-agent train' failed (exit 1); its log: a.out")

    with pytest.raises(SystemExit) as stop:
        _run_all([(failed, ()), (ran.append, ("b",)), (ran.append, ("c",))], parallel=1)
    assert stop.value.code == "run a: 'wm-agent train' failed (exit 1); its log: a.out"
    assert ran == ["b", "c"]


def test_sigterm_to_a_benchmark_checkpoints_its_running_run_and_starts_no_other(tmp_path):
    options = [*TINY_ONE_THREAD, "--seed-steps", "60", "--eval-every", "100000"]
    harness = textwrap.dedent(f"""
        from pathlib import Path
        from benchmarks.train_runs import TrainRun, train_all
        runs = [TrainRun(Path({str(tmp_path)!r}) / name, "Reacher-v5", 1, {options!r}) for name in ("a", "b")]
        train_all(runs, 100000, 1)
    """)
    proc = subprocess.Popen([sys.executable, "-c", harness], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "MUJOCO_GL": "egl"})
    episodes = tmp_path / "a" / "episodes"
    deadline = time.monotonic() + 300
    while not (episodes.is_dir() and any(episodes.glob("*.npz"))):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the first run wrote no episode in time"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == EXIT_INTERRUPTED, out
    assert "the same command resumes them" in out
    log = (tmp_path / "a.out").read_text()
    assert "interrupted at" in log and list((tmp_path / "a" / "checkpoints").glob("ckpt_*.pt")), log
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.out").exists()  # never started
