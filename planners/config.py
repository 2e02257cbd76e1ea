"""Dataclass configs of the sampling planners, validated on construction.

Each option is one field that says what it accepts (:func:`option`), so its name, type,
default and range are written in one place and ``__post_init__`` only adds the checks
between options. The agent's ``PlanConfig`` names the options it sets in its fields'
``metadata["planner"]``, and the agent carries them here by that name (``planner_config``).
agent/config.py validates those fields with the same ``Accepts`` (:func:`accepts_of`): each range is
written here only. This module imports no torch (``planners/__init__`` loads its names lazily).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping


@dataclass(frozen=True)
class Accepts:
    """What one option accepts: an integer or a finite number within bounds, or a flag."""

    kind: type  # int, float or bool
    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False  # low itself refused
    open_high: bool = False

    def __call__(self, value: object) -> bool:
        # bool is an int subclass; `horizon=True` is a bug, not a horizon of 1.
        if self.kind is bool or isinstance(value, bool):
            return self.kind is bool and isinstance(value, bool)
        if not isinstance(value, int if self.kind is int else (int, float)):
            return False
        if self.kind is float and not math.isfinite(value):
            return False
        above = value > self.low if self.open_low else value >= self.low
        return above and (value < self.high if self.open_high else value <= self.high)

    def __str__(self) -> str:
        """In the agent's words, so the CLI's errors and these read the same."""
        if self.kind is bool:
            return "True or False"
        if self.high == math.inf:
            number = "an integer" if self.kind is int else "a finite number"
            return f"{number} {'>' if self.open_low else '>='} {self.low:g}"
        lo, hi = f"{'(' if self.open_low else '['}{self.low:g}", f"{self.high:g}{')' if self.open_high else ']'}"
        return f"{'an integer' if self.kind is int else 'a number'} in {lo}, {hi}"


def option(default: object, accepts: Accepts) -> Any:
    """A planner option: its default and what it accepts, checked when a config is built."""
    return field(default=default, metadata={"accepts": accepts})


INT_1 = Accepts(int, 1)
FLAG = Accepts(bool)
POSITIVE = Accepts(float, 0.0, open_low=True)


def _fail(owner: object, name: str, value: object, accepted: str) -> None:
    # One line on purpose: these end up in logs and CLI error output.
    raise ValueError(
        f"{type(owner).__name__}.{name}={value!r} is invalid; accepted: {accepted}"
    )


def _check(owner: object, name: str, accepts: Accepts) -> None:
    if not accepts(getattr(owner, name)):
        _fail(owner, name, getattr(owner, name), str(accepts))


# The LLM configs (planners/llm/config.py) check their fields with these two.
def _check_int(owner: object, name: str, minimum: int) -> None:
    _check(owner, name, Accepts(int, minimum))


def _check_float(owner: object, name: str, low: float, high: float, *, low_open: bool = False,
                 high_open: bool = False) -> None:
    _check(owner, name, Accepts(float, low, high, low_open, high_open))


@dataclass(frozen=True)
class SamplingConfig:
    """Fields shared by CEM and MPPI.

    Stds are in action units (absolute, not relative to the bounds' width),
    as in TD-MPC2 where actions live in [-1, 1].
    """

    horizon: int = option(5, INT_1)  # imagined steps per action sequence
    num_samples: int = option(512, INT_1)  # Gaussian samples per iteration
    num_elites: int = option(64, INT_1)  # top trajectories the distribution is refit to; <= num_samples
    iterations: int = option(6, INT_1)
    init_std: float = option(2.0, POSITIVE)  # std at the start of each call; also the max std
    min_std: float = option(0.05, Accepts(float, 0.0))  # <= init_std
    discount: float = option(0.99, Accepts(float, 0.0, 1.0, open_low=True))
    num_policy_samples: int = option(24, Accepts(int, 0))  # only used when a policy_prior is given
    # weight of the previous mean when refitting
    momentum: float = option(0.0, Accepts(float, 0.0, 1.0, open_high=True))
    # A soft trust region around a prior (the planner's ``prior_mean``): each imagined step's return loses
    # prior_trust * mean over action dims of (a_t - prior_mean(z_t))^2, so a plan must earn more the further
    # it strays from what the prior would do where the plan leads. 0 = off (no prior call made).
    prior_trust: float = option(0.0, Accepts(float, 0.0))
    # What a plan call acts on when not exploring: False = the first action of the elites' weighted mean;
    # True = the first action of one elite drawn by its weight, without noise (TD-MPC2's rule in eval mode,
    # tdmpc2/tdmpc2.py ``_plan``). The mean of elites that go round an obstacle, or a target, on either side
    # is a plan none of them is: it can stall between two good ways. The warm start stays the mean.
    pick_elite: bool = option(False, FLAG)
    # bf16 autocast of the model calls. On by default: on this project's CPU
    # (AVX512-BF16) it made a 2x512 MLP step ~1.7x faster with the planned
    # returns within seed noise of fp32 (benchmarks/results/planning_speed.md).
    # Turn off for precision-sensitive models or CPUs without native bf16.
    dtype_autocast: bool = option(True, FLAG)
    # torch.compile the model step and terminal value this planner calls (a graph per batch
    # shape, compiled on first use). Off by default: on a 2-core CPU the agent's plan call was
    # 1.12x faster in fp32 and not faster in bf16 (kernels fused, matmuls unchanged).
    compile: bool = option(False, FLAG)

    def __post_init__(self) -> None:
        for f in fields(self):
            _check(self, f.name, f.metadata["accepts"])
        if self.num_elites > self.num_samples:
            _fail(self, "num_elites", self.num_elites, f"an integer in [1, num_samples={self.num_samples}]")
        if self.min_std > self.init_std:
            _fail(self, "min_std", self.min_std, f"a number in [0, init_std={self.init_std:g}]")

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

    temperature: float = option(0.5, POSITIVE)


CONFIGS: dict[str, type[SamplingConfig]] = {"cem": CEMConfig, "mppi": MPPIConfig}


def planner_config(planner: str, options: Mapping[str, object]) -> SamplingConfig:
    """The config of the planner named ``planner`` from ``options`` by field name.

    Options only another planner has are left out (CEM has no temperature); a name no
    planner has is a bug of the caller, so it raises rather than vanish."""
    every = {f.name for cls in CONFIGS.values() for f in fields(cls)}
    unknown = sorted(set(options) - every)
    if unknown:
        raise TypeError(f"planner option {unknown[0]!r} is unknown; accepted: {sorted(every)}")
    if planner not in CONFIGS:
        raise ValueError(f"planner name {planner!r} is invalid; accepted: {sorted(CONFIGS)}")
    own = {f.name for f in fields(CONFIGS[planner])}
    return CONFIGS[planner](**{k: v for k, v in options.items() if k in own})


def accepts_of(option: str) -> Accepts:
    """What the planner option ``option`` accepts (in whichever planner has it)."""
    for cls in CONFIGS.values():
        for f in fields(cls):
            if f.name == option:
                return f.metadata["accepts"]
    raise KeyError(f"no planner has an option {option!r}")
