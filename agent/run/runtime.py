"""Where a run computes and how it is seeded: device choice, torch threads, RNG seeds.

Used by the trainer, ``wm-agent eval`` and the Python API alike (kept out of the trainer so that
evaluation does not import the training loop).
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from agent.config import ConfigError


def pick_device(name: str) -> torch.device:
    """``auto`` (CUDA when this machine has it), ``cpu``, ``cuda`` or ``cuda:N``; CUDA without CUDA is refused."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"invalid device={name!r}: this torch build sees no CUDA device; use 'cpu' or 'auto'")
    return torch.device(name)


def set_threads(threads: int, pixels: bool = False) -> int:
    """Intra-op threads for torch; 0 picks one from state and min(2, cores) from pixels. A state step's
    matrices are too small to split: on a 2-core AMX Xeon a reacher-easy run trained 1.5x faster on one
    thread than on two (benchmarks/results/train_speed_threads.md). Pixels keep the earlier pick, not
    re-measured: their convolutions are larger, and beyond 2 threads fight the env and renderer."""
    count = threads or (min(2, os.cpu_count() or 1) if pixels else 1)
    torch.set_num_threads(count)
    return count


def seed_everything(seed: int) -> None:
    """Python's, numpy's and torch's global RNGs, for a run that reproduces."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
