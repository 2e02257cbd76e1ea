"""Checkpoints: written atomically, the last K kept, everything needed to resume."""

from __future__ import annotations

import errno
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_FILE = re.compile(r"^ckpt_(\d{9})\.pt$")
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (message is one line)."""


class CheckpointWriteError(OSError):
    """A checkpoint that could not be written (full disk, I/O error); the message is one line."""


def rng_state() -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def checkpoint_path(directory: Path, env_steps: int) -> Path:
    """Where the checkpoint at ``env_steps`` lives (or would) in ``directory``."""
    return directory / f"ckpt_{env_steps:09d}.pt"


def save_checkpoint(directory: Path, env_steps: int, payload: dict[str, Any], keep: int) -> Path:
    """Write ``ckpt_<env_steps>.pt`` via temp file + fsync + rename, then prune to ``keep``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = checkpoint_path(directory, env_steps)
    tmp = path.with_suffix(".tmp")
    try:
        with open(tmp, "wb") as f:
            _torch_save({"format_version": FORMAT_VERSION, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not leave a half file taking the space
        raise
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink()
    return path


def _torch_save(obj: dict[str, Any], f: Any) -> None:
    """``torch.save``, with a failed write raised as :class:`CheckpointWriteError` (an OSError).

    torch's zip writer turns a failed ``f.write`` (ENOSPC) into ``RuntimeError: [enforce fail at
    inline_container.cc] ... unexpected pos``, chained to the OSError; only that is converted,
    so any other RuntimeError (a real bug) still propagates as it is.
    """
    try:
        torch.save(obj, f)
    except RuntimeError as exc:
        cause = _os_error_in(exc)
        if cause is None and "unexpected pos" not in str(exc):
            raise
        code = cause.errno if cause is not None and cause.errno else errno.EIO
        raise CheckpointWriteError(code, f"{os.strerror(code)} (torch.save: {str(exc).splitlines()[0]})") from exc


def _os_error_in(exc: BaseException | None) -> OSError | None:
    """The OSError that ``exc`` was raised from or while handling, if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def list_checkpoints(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if CHECKPOINT_FILE.match(p.name))


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # a truncated or foreign file: say which, not a deep traceback
        raise CheckpointError(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format {state.get('format_version') if isinstance(state, dict) else '?'}; "
                              f"this version reads format {FORMAT_VERSION}")
    return state
