"""A safety constraint on imagined plans: predicted cumulative P(unsafe) within a budget.

The model supplies ``p_unsafe(z, a)`` per imagined step; a plan's *cost* is its sum over
the horizon (the expected number of unsafe steps, an upper bound on the chance of any).
Two ways to respect ``budget``:

``chance``   hard chance constraint: plans over budget rank below every plan within it
             (they only fill the elite set when too few plans are feasible, safest first).
``penalty``  Lagrangian relaxation: score = return - multiplier * cost. With
             ``adapt_rate > 0`` the multiplier follows dual ascent on the chosen plan's
             cost - budget, so it grows while plans overspend and decays when they do not.

Either way, when no sampled plan is within budget the planner acts on the safest one
and reports ``no_feasible_plan``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

SafetyFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(N, Z), (N, A) -> (N,)``: probability that taking the action in that latent is unsafe."""

MODES = ("chance", "penalty")


@dataclass(frozen=True)
class ConstraintConfig:
    """How a plan's predicted safety cost limits the planner."""

    budget: float = 0.5  # max predicted cumulative P(unsafe) over the horizon
    mode: str = "chance"
    multiplier: float = 1.0  # initial Lagrange multiplier (penalty mode)
    adapt_rate: float = 0.1  # dual-ascent step of the multiplier per plan (0: fixed)
    max_multiplier: float = 1000.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"ConstraintConfig.mode={self.mode!r} is invalid; accepted: {', '.join(MODES)}")
        for name in ("budget", "multiplier", "adapt_rate", "max_multiplier"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
                    or value == float("inf"):
                raise ValueError(f"ConstraintConfig.{name}={value!r} is invalid; accepted: a finite number >= 0")


class PlanConstraint:
    """The safety function plus the state the constraint keeps between plans (the multiplier)."""

    def __init__(self, p_unsafe: SafetyFn, config: ConstraintConfig | None = None) -> None:
        self.p_unsafe = p_unsafe
        self.config = config or ConstraintConfig()
        self.multiplier = float(self.config.multiplier)

    def step_cost(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """P(unsafe) of each ``(z, a)`` pair, as float ``(N,)`` clamped to [0, 1]."""
        return self.p_unsafe(z, action).float().reshape(-1).clamp(0.0, 1.0)

    def feasible(self, costs: torch.Tensor) -> torch.Tensor:
        return costs <= self.config.budget

    def scores(self, returns: torch.Tensor, costs: torch.Tensor) -> torch.Tensor:
        """What the planner ranks and weighs plans by, ``(N,)``."""
        if self.config.mode == "penalty":
            return returns - self.multiplier * costs
        feasible = self.feasible(costs)
        # Every infeasible plan sits below the worst return, ordered by how far over budget
        # it is; the excess is scaled by the returns' spread so that it, not the return, ranks them.
        floor = returns.min() - 1.0
        spread = returns.max() - returns.min() + 1.0
        over = (costs - self.config.budget).clamp(min=0.0)
        return torch.where(feasible, returns, floor - spread * over)

    def update(self, chosen_cost: float) -> None:
        """Dual ascent on the multiplier after a plan (penalty mode only)."""
        if self.config.mode != "penalty" or self.config.adapt_rate == 0:
            return
        step = self.config.adapt_rate * (chosen_cost - self.config.budget)
        self.multiplier = min(max(self.multiplier + step, 0.0), self.config.max_multiplier)

    def reset(self) -> None:
        """Back to the configured multiplier (a new run, not a new episode: the multiplier carries over)."""
        self.multiplier = float(self.config.multiplier)

    def state_dict(self) -> dict[str, float]:
        return {"multiplier": self.multiplier}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.multiplier = float(state["multiplier"])
