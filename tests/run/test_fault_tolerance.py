"""Faults a run survives: kill -9, a full disk, a failed renderer (physics faults: test_envs_stability.py)."""

import errno
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import agent.run.checkpoint
import agent.learn.replay
from agent.run.checkpoint import list_checkpoints, load_checkpoint
from agent.cli import main
from agent.layout import EXIT_INTERRUPTED
from agent.learn.replay import EpisodeReplay, episode_files
from tests.support import ROOT, episode_ends, scalar_steps
from tests.support import TINY_ONE_THREAD as TINY


def digests(run_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in episode_files(run_dir / "episodes")}


def test_kill_9_at_a_random_moment_then_resume_loses_no_finished_episode(tmp_path):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "agent.cli", "train", "--env", "Reacher-v5", "--steps", "100000", "--seed-steps", "100",
           "--eval-every", "150", "--checkpoint-every", "50", "--video-every", "0", "--logdir", str(tmp_path),
           "--run-name", "run", *TINY]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "MUJOCO_GL": "egl"})
    deadline = time.time() + 240
    while len(episode_files(run_dir / "episodes")) < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(random.uniform(0, 1.5))  # somewhere in acting, updating, writing or evaluating
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err
    before = digests(run_dir)
    assert len(before) >= 4
    steps_before = sum(EpisodeReplay.load(run_dir / "episodes").episode_lengths)

    target = steps_before + 100  # two more 50-step episodes, past the planner's seed phase
    assert main(["train", "--resume", str(run_dir), "--steps", str(target), "--no-progress"]) == 0

    after = digests(run_dir)
    assert all(after.get(name) == digest for name, digest in before.items())  # nothing lost or rewritten
    assert len(set(after.values())) == len(after)  # nothing duplicated
    replay = EpisodeReplay.load(run_dir / "episodes")  # raises unless the indices are contiguous
    assert (replay.num_episodes, replay.num_steps) == (len(before) + 2, target)
    checkpoint = load_checkpoint(list_checkpoints(run_dir / "checkpoints")[-1])
    assert (checkpoint["env_steps"], checkpoint["episodes"]) == (target, replay.num_episodes)
    log = (run_dir / "train.log").read_text()
    assert f"{len(before)} episodes, {steps_before} env steps in replay" in log
    # TensorBoard continues without duplicate or missing steps: each episode end exactly once,
    # evaluations at distinct steps (the killed process's later events are purged).
    assert scalar_steps(run_dir, "train/episode_return") == episode_ends(replay)
    evals = scalar_steps(run_dir, "eval/return_mean")
    assert len(evals) == len(set(evals)) and evals == sorted(evals) and evals[-1] == target
    eval_csv_steps = [int(line.split(",")[0]) for line in (run_dir / "eval.csv").read_text().splitlines()[1:]]
    assert eval_csv_steps == evals


@pytest.fixture()
def full_disk_for(monkeypatch):
    """Make chosen calls (1-based) of ``module.name`` fail as on a full disk; returns the calls made."""
    def arm(module, name: str, failing_calls: set[int]) -> list[int]:
        real, calls = getattr(module, name), [0]

        def save(*args, **kwargs):
            calls[0] += 1
            if calls[0] in failing_calls:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, save)
        return calls

    return arm


def test_checkpoint_writer_removes_its_temp_file_when_the_disk_is_full(tmp_path, monkeypatch):
    import torch

    good = agent.run.checkpoint.save_checkpoint(tmp_path, 100, {"w": torch.ones(3)}, keep=2)

    def fail_mid_write(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(agent.run.checkpoint.torch, "save", fail_mid_write)
    with pytest.raises(OSError):
        agent.run.checkpoint.save_checkpoint(tmp_path, 200, {"w": torch.zeros(3)}, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [good.name]  # no temp file, previous one intact
    assert torch.equal(load_checkpoint(good)["w"], torch.ones(3))


def test_episode_writer_removes_its_temp_file_when_the_disk_is_full(tmp_path, monkeypatch):
    ep = agent.learn.replay.Episode(np.zeros((3, 2), np.float32), np.zeros((2, 1), np.float32), np.zeros(2, np.float32),
                              np.zeros(2, bool))

    def fail_mid_write(f, **arrays):
        f.write(b"half an episode")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(agent.learn.replay.np, "savez_compressed", fail_mid_write)
    replay = EpisodeReplay(tmp_path)
    replay.add(ep)  # kept in memory, not lost
    assert replay.num_episodes == 1 and len(replay.unsaved) == 1 and replay.last_write_error.errno == errno.ENOSPC
    assert not list(tmp_path.iterdir())
    monkeypatch.undo()
    replay.add(ep)  # the disk has room again: the waiting episode is written first, in order
    assert [p.name for p in episode_files(tmp_path)] == ["episode_000000_len2.npz", "episode_000001_len2.npz"]
    assert not replay.unsaved


def test_full_disk_on_checkpoint_and_episode_writes_is_reported_and_training_goes_on(tmp_path, capsys,
                                                                                     full_disk_for):
    import agent.run.trainer

    # Reacher-v5, 50-step episodes, a checkpoint after each. At 50 the checkpoint fails; episode 1
    # (ends at 100) fails, and again when the checkpoint at 100 retries it first, so that checkpoint
    # waits for the episode file; at 150 episodes 1 and 2 are written, then the checkpoint.
    ckpt_calls = full_disk_for(agent.run.trainer, "save_checkpoint", {1})
    episode_calls = full_disk_for(agent.learn.replay, "save_episode", {2, 3})
    code = main(["train", "--env", "Reacher-v5", "--steps", "200", "--seed-steps", "100", "--eval-every", "1000",
                 "--checkpoint-every", "50", "--video-every", "0", "--logdir", str(tmp_path), "--run-name", "run", *TINY])
    assert code == 0 and ckpt_calls == [3] and episode_calls == [6]
    run_dir = tmp_path / "run"
    err = capsys.readouterr().err
    log = (run_dir / "train.log").read_text()
    for text in ("checkpoint at 50 env steps not written", "No space left on device", "episode 1 could not be written",
                 "kept in memory", "checkpoint at 100 env steps skipped"):
        assert text in err and text in log, text
    assert "wrote the 2 episodes that were waiting for disk space" in log
    assert [line for line in err.splitlines() if "checkpoint at 50" in line][0].count("\n") == 0
    # Every episode reached the disk in the end, in order, and the last checkpoint matches it.
    replay = EpisodeReplay.load(run_dir / "episodes")
    assert (replay.num_episodes, replay.num_steps) == (4, 200)
    checkpoints = list_checkpoints(run_dir / "checkpoints")
    assert checkpoints[-1].name == "ckpt_000000200.pt" and load_checkpoint(checkpoints[-1])["env_steps"] == 200
    assert not list(run_dir.rglob("*.tmp"))


def test_a_failing_renderer_skips_the_eval_video_not_the_run(tmp_path, capsys, monkeypatch):
    from gymnasium.envs.mujoco import mujoco_rendering

    def no_gl(*args, **kwargs):
        raise RuntimeError("EGL_BAD_ACCESS: cannot create an OpenGL context")

    monkeypatch.setattr(mujoco_rendering.OffScreenViewer, "__init__", no_gl)
    assert main(["train", "--env", "Reacher-v5", "--steps", "100", "--seed-steps", "50", "--eval-every", "100",
                 "--logdir", str(tmp_path), "--run-name", "run", *TINY]) == 0
    err = capsys.readouterr().err
    assert "eval video at 100 env steps skipped: rendering failed (RuntimeError: EGL_BAD_ACCESS" in err
    run_dir = tmp_path / "run"
    assert scalar_steps(run_dir, "eval/return_mean") == [100]
    ea = EventAccumulator(str(run_dir), size_guidance={"images": 0})
    ea.Reload()
    assert "eval/rollout_real_vs_imagined" not in ea.Tags()["images"]


def test_pixel_observations_without_a_renderer_are_a_one_line_error(tmp_path, capsys, monkeypatch):
    from gymnasium.envs.mujoco import mujoco_rendering

    def no_gl(*args, **kwargs):
        raise RuntimeError("EGL_BAD_ACCESS: cannot create an OpenGL context")

    monkeypatch.setattr(mujoco_rendering.OffScreenViewer, "__init__", no_gl)
    assert main(["train", "--env", "Reacher-v5", "--obs", "pixels", "--logdir", str(tmp_path), *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("wm-agent: error: --obs pixels")
    assert "MUJOCO_GL" in err and "--obs state" in err and "EGL_BAD_ACCESS" in err
    assert not any(tmp_path.iterdir())  # refused before a run directory exists


def _run_stopped_inside_its_second_evaluation(tmp_path: Path, monkeypatch) -> Path:
    """A 300-step run with evaluations every 100, Ctrl-C'd inside its evaluation at 200: checkpointed at
    200, last evaluated at 100. ``evaluate`` is real again afterwards."""
    import agent.run.trainer

    real_evaluate, calls = agent.run.trainer.evaluate, [0]

    def ctrl_c_in_second_eval(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(agent.run.trainer, "evaluate", ctrl_c_in_second_eval)
    assert main(["train", "--env", "Reacher-v5", "--steps", "300", "--seed-steps", "100", "--eval-every", "100",
                 "--video-every", "0", "--logdir", str(tmp_path), "--run-name", "run", *TINY]) == EXIT_INTERRUPTED
    monkeypatch.setattr(agent.run.trainer, "evaluate", real_evaluate)
    return tmp_path / "run"


def _eval_steps(run_dir: Path) -> list[int]:
    return [int(line.split(",")[0]) for line in (run_dir / "eval.csv").read_text().splitlines()[1:]]


def test_a_run_stopped_during_an_evaluation_redoes_it_on_resume(tmp_path, monkeypatch):
    run_dir = _run_stopped_inside_its_second_evaluation(tmp_path, monkeypatch)
    assert _eval_steps(run_dir) == [100]  # stopped inside the evaluation at 200
    assert load_checkpoint(list_checkpoints(run_dir / "checkpoints")[-1])["env_steps"] == 200

    assert main(["train", "--resume", str(run_dir), "--no-progress"]) == 0
    assert _eval_steps(run_dir) == [100, 200, 300]


def test_a_run_resumed_below_its_steps_says_it_only_evaluates_a_step_not_yet_evaluated(tmp_path, monkeypatch,
                                                                                        capsys):
    run_dir = _run_stopped_inside_its_second_evaluation(tmp_path, monkeypatch)
    capsys.readouterr()
    # At 200, last evaluated at 100: --steps 150 trains nothing but evaluates 200 once, and says so first.
    assert main(["train", "--resume", str(run_dir), "--steps", "150", "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert "already has 200 env steps (--steps 150); its last evaluation was at 100, so it is evaluated once " \
           "at 200" in said, said
    assert _eval_steps(run_dir) == [100, 200]
    assert EpisodeReplay.load(run_dir / "episodes").num_steps == 200
    # Again: 200 is evaluated now, so nothing is done.
    assert main(["train", "--resume", str(run_dir), "--steps", "150", "--no-progress"]) == 0
    assert "already has 200 env steps (--steps 150); nothing to do" in capsys.readouterr().out
    assert _eval_steps(run_dir) == [100, 200]
