"""Dataclass configs of the sampling planners, validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields


def _fail(owner: object, name: str, value: object, accepted: str) -> None:
    # One line on purpose: these end up in logs and CLI error output.
    raise ValueError(
        f"{type(owner).__name__}.{name}={value!r} is invalid; accepted: {accepted}"
    )


def _check_int(owner: object, name: str, minimum: int) -> int:
    value = getattr(owner, name)
    # bool is an int subclass; `horizon=True` is a bug, not a horizon of 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        _fail(owner, name, value, f"an int >= {minimum}")
    return value


def _check_float(
    owner: object,
    name: str,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    value = getattr(owner, name)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value) or (value == high == math.inf)
        ok = ok and (value > low if low_open else value >= low)
        ok = ok and (value < high if high_open else value <= high)
    if not ok:
        lo = f"{'(' if low_open else '['}{low:g}"
        hi = f"{high:g}{')' if high_open else ']'}"
        _fail(owner, name, getattr(owner, name), f"a number in {lo}, {hi}")
    return value


@dataclass(frozen=True)
class SamplingConfig:
    """Fields shared by CEM and MPPI.

    Stds are in action units (absolute, not relative to the bounds' width),
    as in TD-MPC2 where actions live in [-1, 1].
    """

    horizon: int = 5
    num_samples: int = 512  # Gaussian samples per iteration
    num_elites: int = 64  # top trajectories the distribution is refit to
    iterations: int = 6
    init_std: float = 2.0  # std at the start of each call; also the max std
    min_std: float = 0.05
    discount: float = 0.99
    num_policy_samples: int = 24  # only used when a policy_prior is given
    momentum: float = 0.0  # weight of the previous mean when refitting
    # bf16 autocast of the model calls. On by default: on this project's CPU
    # (AVX512-BF16) it made a 2x512 MLP step ~1.7x faster with the planned
    # returns within seed noise of fp32 (benchmarks/results/planning_speed.md).
    # Turn off for precision-sensitive models or CPUs without native bf16.
    dtype_autocast: bool = True
    # torch.compile the model step and terminal value this planner calls (a graph per batch
    # shape, compiled on first use). Off by default: on a 2-core CPU the agent's plan call was
    # 1.12x faster in fp32 and not faster in bf16 (kernels fused, matmuls unchanged).
    compile: bool = False

    def __post_init__(self) -> None:
        _check_int(self, "horizon", 1)
        _check_int(self, "num_samples", 1)
        elites = _check_int(self, "num_elites", 1)
        if elites > self.num_samples:
            _fail(self, "num_elites", elites, f"an int in [1, num_samples={self.num_samples}]")
        _check_int(self, "iterations", 1)
        init_std = _check_float(self, "init_std", 0.0, math.inf, low_open=True, high_open=True)
        min_std = _check_float(self, "min_std", 0.0, math.inf, high_open=True)
        if min_std > init_std:
            _fail(self, "min_std", self.min_std, f"a number in [0, init_std={init_std:g}]")
        _check_float(self, "discount", 0.0, 1.0, low_open=True)
        _check_int(self, "num_policy_samples", 0)
        _check_float(self, "momentum", 0.0, 1.0, high_open=True)
        for flag in ("dtype_autocast", "compile"):
            if not isinstance(getattr(self, flag), bool):
                _fail(self, flag, getattr(self, flag), "True or False")

    def as_dict(self) -> dict[str, object]:
        """Plain dict of the fields, for logging."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class CEMConfig(SamplingConfig):
    """Cross-entropy method: refit mean/std to the elites with equal weights."""


@dataclass(frozen=True)
class MPPIConfig(SamplingConfig):
    """MPPI: refit mean/std to the elites weighted by softmax(return / temperature).

    Weights are computed over the top ``num_elites`` (TD-MPC2 style), which
    keeps the update robust to a badly scaled temperature; set
    ``num_elites == num_samples`` for classic all-sample MPPI.
    """

    temperature: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_float(self, "temperature", 0.0, math.inf, low_open=True, high_open=True)
