"""Checkpoints carry no code, one process writes a run, and a damaged newest checkpoint is skipped.

Through the real command (``python -m agent.cli`` in a subprocess) where the issue is what a
user would run: ``wm-agent eval`` and ``--resume`` of a run directory someone else handed over.
"""

import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from agent.run.checkpoint import (CheckpointError, UnsafeCheckpoint, checkpoint_path, list_checkpoints, load_checkpoint,
                              restore_rng_state, rng_state)
from agent.cli import main
from agent.learn.replay import EpisodeReplay
from agent.run.lock import LOCK_FILE
from tests.support import TINY_ONE_THREAD as TINY
from tests.support import ROOT



class WritesAMarker:
    """Unpickling this runs ``open(marker, 'w')``: what a crafted checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT), "MUJOCO_GL": "egl"})


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and "Warning" not in line
             and not line.startswith("  ")]  # torch/gym warnings are not ours
    assert len(lines) == 1 and lines[0].startswith("wm-agent: error: ") and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.fixture(scope="module")
def run_with_two_checkpoints(tmp_path_factory) -> Path:
    """Reacher-v5, 100 env steps, checkpoints at 50 and 100."""
    logdir = tmp_path_factory.mktemp("safe")
    assert main(["train", "--env", "Reacher-v5", "--steps", "100", "--seed-steps", "50", "--eval-every", "100",
                 "--checkpoint-every", "50", "--video-every", "0", "--logdir", str(logdir), "--run-name", "run",
                 *TINY]) == 0
    run = logdir / "run"
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["ckpt_000000050.pt", "ckpt_000000100.pt"]
    return run


def test_checkpoints_hold_only_plain_data(run_with_two_checkpoints):
    path = list_checkpoints(run_with_two_checkpoints / "checkpoints")[-1]
    state = torch.load(path, weights_only=True)  # no allow-list: tensors and plain values only
    assert state["format_version"] == 2 and state["env_steps"] == 100


def test_rng_state_round_trips_through_a_checkpoint(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.standard_normal()  # leaves a cached Gaussian in the legacy state
    torch.save(rng_state(), tmp_path / "rng.pt")
    expected = (random.random(), np.random.standard_normal(), torch.rand(1).item())
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert (random.random(), np.random.standard_normal(), torch.rand(1).item()) == expected


def test_a_crafted_checkpoint_runs_no_code_on_eval_or_resume(run_with_two_checkpoints, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_with_two_checkpoints, run)
    marker = tmp_path / "marker"
    with open(checkpoint_path(run / "checkpoints", 150), "wb") as f:  # newer than the run's own
        torch.save({"format_version": 2, "agent": WritesAMarker(marker)}, f)
    for args in (["eval", str(run), "--episodes", "1"], ["train", "--resume", str(run), "--steps", "200",
                                                         "--no-progress"]):
        result = cli(*args)
        assert result.returncode == 2, result.stderr
        line = one_line(result.stderr)
        assert "ckpt_000000150.pt" in line and "could run code" in line and "--trust-checkpoint" in line
        assert not marker.exists()
    # Nor does a raw pickle (not torch's zip format) get through.
    with open(checkpoint_path(run / "checkpoints", 150), "wb") as f:
        pickle.dump({"format_version": 2, "agent": WritesAMarker(marker)}, f)
    result = cli("eval", str(run / "checkpoints" / "ckpt_000000150.pt"), "--episodes", "1")
    assert result.returncode == 2 and "could run code" in one_line(result.stderr) and not marker.exists()


def test_a_format_1_checkpoint_loads_only_with_the_opt_in(run_with_two_checkpoints, tmp_path):
    """What older versions wrote: NumPy's RNG state pickled as a tuple with an ndarray."""
    run = tmp_path / "run"
    shutil.copytree(run_with_two_checkpoints, run)
    path = list_checkpoints(run / "checkpoints")[-1]
    state = torch.load(path, weights_only=True)
    n = state["rng"]["numpy"]
    state["rng"]["numpy"] = (n["algorithm"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                             n["cached_gaussian"])
    state["format_version"] = 1
    torch.save(state, path)
    with pytest.raises(UnsafeCheckpoint, match="--trust-checkpoint"):
        load_checkpoint(path)
    assert load_checkpoint(path, trust=True)["rng"]["numpy"]["keys"].dtype == torch.int64  # upgraded in memory
    refused = cli("eval", str(run), "--episodes", "1")
    assert refused.returncode == 2 and "--trust-checkpoint" in one_line(refused.stderr)
    assert main(["train", "--resume", str(run), "--steps", "150", "--trust-checkpoint", "--no-progress"]) == 0
    assert torch.load(list_checkpoints(run / "checkpoints")[-1], weights_only=True)["format_version"] == 2


def test_nonfinite_weights_are_refused(run_with_two_checkpoints, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(run_with_two_checkpoints, run)
    path = list_checkpoints(run / "checkpoints")[-1]
    state = torch.load(path, weights_only=True)
    name = next(iter(state["agent"]["world_model"]))
    state["agent"]["world_model"][name] = torch.full_like(state["agent"]["world_model"][name], float("nan"))
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=f"NaN or Inf in world_model.{name}"):
        load_checkpoint(path)
    assert main(["eval", str(run), "--episodes", "1"]) == 2
    assert "weights are not finite" in capsys.readouterr().err


def test_a_truncated_newest_checkpoint_falls_back_to_the_newest_intact_one(run_with_two_checkpoints, tmp_path,
                                                                          capsys):
    run = tmp_path / "run"
    shutil.copytree(run_with_two_checkpoints, run)
    newest = list_checkpoints(run / "checkpoints")[-1]
    newest.write_bytes(newest.read_bytes()[:300])
    assert main(["train", "--resume", str(run), "--steps", "150", "--no-progress"]) == 0
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if "ckpt_000000100.pt" in line)
    assert "skipped ckpt_000000100.pt" in line and "newest intact one, ckpt_000000050.pt" in line
    assert line.split("wm-agent: ")[-1] in (run / "train.log").read_text()
    assert EpisodeReplay.load(run / "episodes").num_steps == 150


def _wait_for(predicate, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def test_one_writer_per_run_and_kill_9_frees_the_lock(run_with_two_checkpoints, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_with_two_checkpoints, run)
    episodes_before = EpisodeReplay.load(run / "episodes").num_episodes
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MUJOCO_GL": "egl"}
    first = subprocess.Popen([sys.executable, "-m", "agent.cli", "train", "--resume", str(run), "--steps", "300",
                              "--no-progress"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    lock = run / LOCK_FILE
    _wait_for(lambda: lock.is_file() and lock.read_text().strip() == str(first.pid), 120, first)
    second = cli("train", "--resume", str(run), "--steps", "300", "--no-progress")
    assert second.returncode == 2
    assert f"is being trained by process {first.pid}" in one_line(second.stderr)
    assert first.wait(timeout=300) == 0, first.communicate()[1]
    replay = EpisodeReplay.load(run / "episodes")
    assert (replay.num_episodes, replay.num_steps) == (episodes_before + 4, 300)  # all of the first's, no more
    eval_steps = [int(row.split(",")[0]) for row in (run / "eval.csv").read_text().splitlines()[1:]]
    assert eval_steps == sorted(set(eval_steps))

    # kill -9 of the holder: the kernel drops its lock, and the next resume goes on.
    holder = subprocess.Popen([sys.executable, "-m", "agent.cli", "train", "--resume", str(run), "--steps", "400",
                               "--no-progress"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    _wait_for(lambda: lock.read_text().strip() == str(holder.pid), 120, holder)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=60)
    after = cli("train", "--resume", str(run), "--steps", "400", "--no-progress")
    assert after.returncode == 0, after.stderr
    assert EpisodeReplay.load(run / "episodes").num_steps == 400
