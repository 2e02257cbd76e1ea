"""Checkpoints: written atomically, the last K kept, everything needed to resume, and no code.

A checkpoint holds only tensors and plain values (numbers, strings, lists, tuples, dicts),
so it is read with ``torch.load(weights_only=True)``: a crafted file cannot run code when a
shared run directory is evaluated or resumed. Format 1 (before this rule) pickled NumPy's RNG
state; it loads only with the explicit ``--trust-checkpoint`` opt-in.
"""

from __future__ import annotations

import errno
import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agent.layout import CHECKPOINT_FILE, checkpoint_file_name, write_atomically

FORMAT_VERSION = 2  # 2: RNG states as tensors and plain values, readable with weights_only=True
TRUSTED_FORMATS = {1, FORMAT_VERSION}  # what --trust-checkpoint reads


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (message is one line)."""


class UnreadableCheckpoint(CheckpointError):
    """Truncated or damaged: a resume may fall back to an older, intact checkpoint."""


class UnsafeCheckpoint(CheckpointError):
    """Holds Python objects beyond tensors and plain values: loading it could run code."""


class CheckpointWriteError(OSError):
    """A checkpoint that could not be written (full disk, I/O error); the message is one line."""


def rng_state() -> dict[str, Any]:
    """Python, NumPy (legacy global) and torch RNG states, as plain values and tensors."""
    algorithm, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    numpy_state = {"algorithm": algorithm, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                   "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)}
    return {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state((n["algorithm"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])


def checkpoint_path(directory: Path, env_steps: int) -> Path:
    """Where the checkpoint at ``env_steps`` lives (or would) in ``directory``."""
    return directory / checkpoint_file_name(env_steps)


def save_checkpoint(directory: Path, env_steps: int, payload: dict[str, Any], keep: int) -> Path:
    """Write ``ckpt_<env_steps>.pt`` via temp file + fsync + rename, then prune to ``keep``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = checkpoint_path(directory, env_steps)
    write_atomically(path, lambda f: _torch_save({"format_version": FORMAT_VERSION, **payload}, f))
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


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu", trust: bool = False) -> dict[str, Any]:
    """Read a checkpoint this program wrote; ``trust`` also unpickles format-1 files (can run code)."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=not trust)
    except pickle.UnpicklingError as exc:  # weights_only refused a global or an opcode: not plain data
        raise UnsafeCheckpoint(
            f"refusing checkpoint {path}: it holds Python objects beyond tensors and plain values, and loading "
            f"it could run code ({_unpickler_reason(exc)}); if it is a checkpoint of an older wm-agent "
            f"(format 1) and you trust its source, add --trust-checkpoint (a resumed run writes its next "
            f"checkpoint in the safe format {FORMAT_VERSION})") from None
    except Exception as exc:  # truncated or damaged: say which, not a deep traceback
        raise UnreadableCheckpoint(_one_line(f"cannot read checkpoint {path}: {type(exc).__name__}: {exc}")) from exc
    version = state.get("format_version") if isinstance(state, dict) else "?"
    if version not in (TRUSTED_FORMATS if trust else {FORMAT_VERSION}):
        raise CheckpointError(f"checkpoint {path} has format {version}; this version reads format {FORMAT_VERSION}"
                              + (" (format 1 with --trust-checkpoint)" if version == 1 else ""))
    if version == 1:
        state["rng"]["numpy"] = _numpy_state_from_tuple(state["rng"]["numpy"])
    bad = first_nonfinite(state.get("agent"))
    if bad is not None:
        raise CheckpointError(f"refusing checkpoint {path}: its weights are not finite (NaN or Inf in {bad}); "
                              f"resume from an older checkpoint by moving this one away")
    return state


def load_newest_checkpoint(directory: Path, map_location: str | torch.device = "cpu",
                           trust: bool = False) -> tuple[Path, dict[str, Any], list[str]] | None:
    """The newest checkpoint that reads, skipping truncated or damaged newer ones.

    Returns (path, state, one line per skipped file) or None when ``directory`` has no
    checkpoint. Only damage is skipped: an unsafe, foreign or non-finite file is refused,
    since silently resuming from an older state would hide it.
    """
    checkpoints = list_checkpoints(directory)
    skipped: list[str] = []
    first_error: UnreadableCheckpoint | None = None
    for path in reversed(checkpoints):
        try:
            return path, load_checkpoint(path, map_location, trust), skipped
        except UnreadableCheckpoint as exc:
            first_error = first_error or exc
            skipped.append(f"skipped {path.name}: {exc}")
    if first_error is not None:
        raise first_error
    return None


def first_nonfinite(tree: Any, prefix: str = "") -> str | None:
    """Key path of the first floating tensor holding NaN or Inf in a nested state dict."""
    if isinstance(tree, torch.Tensor):
        nonfinite = tree.is_floating_point() and not bool(torch.isfinite(tree).all())
        return (prefix or "tensor") if nonfinite else None
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, (list, tuple)) else ()
    for key, value in items:
        found = first_nonfinite(value, f"{prefix}.{key}" if prefix else str(key))
        if found is not None:
            return found
    return None


def _numpy_state_from_tuple(state: tuple) -> dict[str, Any]:
    algorithm, keys, pos, has_gauss, cached_gaussian = state
    return {"algorithm": algorithm, "keys": torch.from_numpy(np.asarray(keys).astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)}


def _unpickler_reason(exc: Exception) -> str:
    """torch's refusal names the global or opcode after 'WeightsUnpickler error:'."""
    text = str(exc)
    marker = "WeightsUnpickler error:"
    reason = text[text.find(marker) + len(marker):] if marker in text else text
    words = " ".join(reason.split())
    return (words.split(". ")[0] or "not plain data")[:160]


def _one_line(text: str) -> str:
    return text.splitlines()[0] if text else text
