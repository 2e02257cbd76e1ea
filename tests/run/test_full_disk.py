"""A disk that fills up mid-run and later has room again: nothing finished is lost, the run goes on.

Two disks: a real tmpfs of a few MB filled with a ballast file (skipped where mounting is not
allowed), and a simulated one whose writers raise exactly what the real ones raise when it is
full: torch.save its ``RuntimeError: [enforce fail at inline_container.cc:672] ... unexpected pos``
chained to ENOSPC, numpy and the text appends ``OSError(ENOSPC)``, and TensorBoard's event file
writer ``OSError(ENOSPC)`` on its own thread.
"""

from __future__ import annotations

import errno
import os
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.compat.tensorflow_stub.io import gfile

import agent.run.checkpoint
import agent.run.logger
import agent.learn.replay
import agent.run.trainer
from agent.run.checkpoint import CheckpointWriteError, list_checkpoints, load_checkpoint, save_checkpoint
from agent.cli import main
from agent.learn.replay import EpisodeReplay
from tests.support import TINY_ONE_THREAD as TINY
from tests.support import episode_ends, scalar_steps

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
ENFORCE_FAIL = "[enforce fail at inline_container.cc:672] . unexpected pos 768 vs 662"


def torch_save_on_a_full_disk(obj, f, *args, **kwargs):
    """What torch.save does when f.write hits ENOSPC: a RuntimeError raised while handling it."""
    try:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    except OSError:
        raise RuntimeError(ENFORCE_FAIL)


class SimulatedDisk:
    """Every writer of a run fails as on a full disk while ``full`` is set."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root, self.full = root, False
        for module, name, failing in ((torch, "save", torch_save_on_a_full_disk),
                                      (np, "savez_compressed", None),
                                      (gfile.LocalFileSystem, "_write", None),  # TensorBoard's writer thread
                                      (agent.run.logger, "append_text", None)):  # train.log and the CSV files
            monkeypatch.setattr(module, name, self._when_full(getattr(module, name), failing))

    def _when_full(self, real, failing):
        def call(*args, **kwargs):
            if not self.full:
                return real(*args, **kwargs)
            if failing is not None:
                return failing(*args, **kwargs)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return call

    def fill(self) -> None:
        self.full = True

    def free(self) -> None:
        self.full = False


class Tmpfs:
    """A real small tmpfs; ``fill`` writes a ballast file until the kernel says ENOSPC."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ballast = root / f"ballast-{uuid.uuid4().hex}"

    def fill(self) -> None:
        with open(self.ballast, "wb", buffering=0) as f:
            for chunk in (1 << 20, 1 << 12, 1):
                try:
                    while f.write(b"\0" * chunk):
                        pass
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC

    def free(self) -> None:
        self.ballast.unlink()


@pytest.fixture(params=["simulated", "tmpfs"])
def disk(request, tmp_path, monkeypatch):
    root = tmp_path / "disk"
    root.mkdir()
    if request.param == "simulated":
        yield SimulatedDisk(root, monkeypatch)
        return
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(root)], capture_output=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.decode().strip()}")
    try:
        yield Tmpfs(root)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def schedule(monkeypatch, disk, fill_at_checkpoint: int | None, fill_at_episode: int | None,
             free_at_episode: int | None) -> list[tuple[int, float, int]]:
    """Fill/free the disk just before the n-th (1-based) call of the checkpoint or episode writer.

    Returns the episodes handed to the episode writer: (index, return, length), the first time each.
    """
    collected: dict[int, tuple[int, float, int]] = {}
    calls = {"checkpoint": 0, "episode": 0}
    real_checkpoint, real_episode = agent.run.trainer.save_checkpoint, agent.learn.replay.save_episode

    def checkpoint(*args, **kwargs):
        calls["checkpoint"] += 1
        if calls["checkpoint"] == fill_at_checkpoint:
            disk.fill()
        return real_checkpoint(*args, **kwargs)

    def episode(ep, directory, index):
        calls["episode"] += 1
        if calls["episode"] == fill_at_episode:
            disk.fill()
        if calls["episode"] == free_at_episode:
            disk.free()
        collected.setdefault(index, (index, ep.total_reward, len(ep)))
        return real_episode(ep, directory, index)

    monkeypatch.setattr(agent.run.trainer, "save_checkpoint", checkpoint)
    monkeypatch.setattr(agent.learn.replay, "save_episode", episode)
    return collected  # type: ignore[return-value]


def train(logdir: Path, steps: int) -> int:
    return main(["train", "--env", "Reacher-v5", "--steps", str(steps), "--seed-steps", "100", "--eval-every", "100",
                 "--checkpoint-every", "50", "--video-every", "0", "--logdir", str(logdir), "--run-name", "run", *TINY])


def warnings_are_one_line(err: str) -> None:
    assert "Traceback" not in err, err
    for line in err.splitlines():  # each warning is its own line: nothing continues it
        assert line.startswith(("warning: ", "wm-agent: ")), line


def test_checkpoint_on_a_full_disk_is_an_os_error_and_leaves_nothing(tmp_path, monkeypatch):
    good = save_checkpoint(tmp_path, 100, {"w": torch.ones(3)}, keep=2)
    monkeypatch.setattr(agent.run.checkpoint.torch, "save", torch_save_on_a_full_disk)
    with pytest.raises(CheckpointWriteError) as info:
        save_checkpoint(tmp_path, 200, {"w": torch.zeros(3)}, keep=2)
    assert info.value.errno == errno.ENOSPC and "No space left on device" in str(info.value)
    assert "\n" not in str(info.value)
    assert [p.name for p in tmp_path.iterdir()] == [good.name]


def test_checkpoint_unexpected_pos_without_the_os_error_is_still_a_write_error(tmp_path, monkeypatch):
    def fail(obj, f, *args, **kwargs):  # torch.save(obj, path): the C++ writer, no Python OSError
        raise RuntimeError(ENFORCE_FAIL)

    monkeypatch.setattr(agent.run.checkpoint.torch, "save", fail)
    with pytest.raises(CheckpointWriteError) as info:
        save_checkpoint(tmp_path, 200, {"w": torch.zeros(3)}, keep=2)
    assert info.value.errno == errno.EIO


def test_checkpoint_other_runtime_errors_are_not_swallowed(tmp_path, monkeypatch):
    def bug(obj, f, *args, **kwargs):
        raise RuntimeError("cannot pickle 'generator' object")

    monkeypatch.setattr(agent.run.checkpoint.torch, "save", bug)
    with pytest.raises(RuntimeError, match="cannot pickle") as info:
        save_checkpoint(tmp_path, 200, {"w": torch.zeros(3)}, keep=2)
    assert not isinstance(info.value, OSError)
    assert not list(tmp_path.iterdir())


def test_text_appends_on_a_full_disk_wait_and_never_leave_half_a_line(tmp_path, monkeypatch):
    real_write, fail = os.write, [True]

    def short_then_enospc(fd, data):  # the disk takes 3 bytes, then is full
        if not fail[0]:
            return real_write(fd, data)
        if len(data) > 3:
            return real_write(fd, data[:3])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    logger = agent.run.logger.RunLogger(tmp_path)
    monkeypatch.setattr(agent.run.logger.os, "write", short_then_enospc)
    logger.csv_row("eval.csv", "a,b\n", "1,2\n")
    agent.run.logger.append_log(tmp_path, "first line")
    assert (tmp_path / "eval.csv").read_bytes() == b"" and (tmp_path / "train.log").read_bytes() == b""
    fail[0] = False
    logger.csv_row("eval.csv", "a,b\n", "3,4\n")
    agent.run.logger.append_log(tmp_path, "second line")
    logger.close()
    assert (tmp_path / "eval.csv").read_text() == "a,b\n1,2\n3,4\n"
    log = (tmp_path / "train.log").read_text().splitlines()
    assert [line.split(" ", 2)[2] for line in log][1:3] == ["first line", "second line"]


def test_a_disk_full_for_a_while_loses_nothing_and_the_run_resumes(disk, capsys, monkeypatch):
    # Reacher-v5: 50-step episodes, a checkpoint after each, evaluations at 100, 200, 300. The disk
    # fills during the checkpoint at 50 and has room again when episode 2 (ends at 150) is written:
    # in between episode 1, its retry by the checkpoint at 100, the evaluation at 100 (eval.csv,
    # TensorBoard) and train.log all meet a full disk.
    collected = schedule(monkeypatch, disk, fill_at_checkpoint=1, fill_at_episode=None, free_at_episode=4)
    assert train(disk.root, 300) == 0
    err = capsys.readouterr().err
    warnings_are_one_line(err)
    assert err.count("eval.csv: row not written") <= 1  # once per outage, not once per try
    for text in ("checkpoint at 50 env steps not written ([Errno 28] No space left on device",
                 "episode 1 could not be written ([Errno 28] No space left on device); kept in memory",
                 "checkpoint at 100 env steps skipped"):
        assert text in err, text
    if isinstance(disk, SimulatedDisk):  # on tmpfs the event file's last page may still have room
        assert "TensorBoard events not written ([Errno 28] No space left on device)" in err
        assert "eval.csv: row not written" in err
    run_dir = disk.root / "run"
    replay = EpisodeReplay.load(run_dir / "episodes")
    # The episodes on disk are exactly the ones collected, in order.
    assert [(i, r, n) for i, (r, n) in enumerate(zip(replay.episode_returns, replay.episode_lengths))] == \
        [collected[i] for i in sorted(collected)]
    assert (replay.num_episodes, replay.num_steps) == (6, 300)
    assert load_checkpoint(list_checkpoints(run_dir / "checkpoints")[-1])["env_steps"] == 300
    assert scalar_steps(run_dir, "train/episode_return") == episode_ends(replay)  # each episode end once
    assert scalar_steps(run_dir, "eval/return_mean") == [100, 200, 300]
    eval_rows = (run_dir / "eval.csv").read_text().splitlines()
    assert eval_rows[0].startswith("env_steps,") and [int(r.split(",")[0]) for r in eval_rows[1:]] == [100, 200, 300]
    log = (run_dir / "train.log").read_text()
    assert "wrote the 2 episodes that were waiting for disk space" in log
    assert "checkpoint at 50 env steps not written" in log  # written once the disk had room
    assert not list(run_dir.rglob("*.tmp"))

    monkeypatch.undo()
    assert main(["train", "--resume", str(run_dir), "--steps", "400", "--no-progress"]) == 0
    replay = EpisodeReplay.load(run_dir / "episodes")
    assert (replay.num_episodes, replay.num_steps) == (8, 400)
    assert scalar_steps(run_dir, "train/episode_return") == episode_ends(replay)


def test_a_disk_that_stays_full_ends_the_run_with_status_1_and_a_checkpoint_to_resume(tmp_path, capsys,
                                                                                       monkeypatch):
    disk = SimulatedDisk(tmp_path, monkeypatch)
    collected = schedule(monkeypatch, disk, fill_at_checkpoint=None, fill_at_episode=3, free_at_episode=None)
    assert train(tmp_path, 200) == 1
    err = capsys.readouterr().err
    warnings_are_one_line(err)
    assert "wm-agent: error: 2 finished episodes could not be written" in err
    assert "not written when the run ended, lost: " in err and "TensorBoard events" in err
    run_dir = tmp_path / "run"
    assert [p.name for p in list_checkpoints(run_dir / "checkpoints")] == ["ckpt_000000050.pt", "ckpt_000000100.pt"]
    assert len(collected) == 3  # episode 3 waits behind episode 2, never tried

    disk.free()
    monkeypatch.undo()
    assert main(["train", "--resume", str(run_dir), "--steps", "200", "--no-progress"]) == 0
    replay = EpisodeReplay.load(run_dir / "episodes")
    assert (replay.num_episodes, replay.num_steps) == (4, 200)
    assert scalar_steps(run_dir, "train/episode_return") == episode_ends(replay)
