"""The run directory's layout: the names of what a run writes, and the one way a file there is written.

    <run>/config.json        the run's RunConfig (what --resume reads back)
    <run>/train.log          the log, one line per event
    <run>/eval.csv           one row per evaluation (eval_safety.csv beside it with a safety budget)
    <run>/checkpoints/       ckpt_<env steps>.pt, the newest few
    <run>/episodes/          episode_<index>_len<length>.npz, one per finished episode (the replay)
    <run>/events.out.tfevents.*  TensorBoard scalars and videos (agent.run.logger)

Imports nothing of the project and no torch, so suite reports and benchmarks read run directories
without loading the training loop.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

CONFIG_FILE = "config.json"
TRAIN_LOG = "train.log"
EVAL_CSV = "eval.csv"
EVAL_SAFETY_CSV = "eval_safety.csv"
CHECKPOINT_DIR = "checkpoints"
EPISODE_DIR = "episodes"
EPISODE_FILE = re.compile(r"^episode_(\d{6})_len(\d+)\.npz$")
CHECKPOINT_FILE = re.compile(r"^ckpt_(\d{9})\.pt$")
# Exit status of a run (or a suite) stopped by Ctrl-C or SIGTERM after writing its checkpoint: 128 +
# SIGINT, what a shell reports for Ctrl-C. Not 0, so that a scheduler or a benchmark does not take a
# stopped run for a finished one; not 1, which says a checkpoint or episode file could not be written.
EXIT_INTERRUPTED = 130
# Files of a run small enough to send back from a Ray worker (no episodes, no checkpoints).
SMALL_FILES = (CONFIG_FILE, EVAL_CSV, TRAIN_LOG)


def episode_file_name(index: int, length: int) -> str:
    """The name carries the index and length, so a resume can check both against the file's arrays."""
    return f"episode_{index:06d}_len{length}.npz"


def checkpoint_file_name(env_steps: int) -> str:
    """Zero-padded, so the names sort in the order the checkpoints were written."""
    return f"ckpt_{env_steps:09d}.pt"


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """``write`` into a temp file beside ``path``, fsync, then rename over ``path``: a killed run or a full
    disk leaves either the old file or the new one, never half of one (and no temp file taking the space)."""
    tmp = path.with_suffix(".tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
