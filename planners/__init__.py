"""Sampling-based planners (CEM, MPPI) over imagined rollouts of a latent model."""

from __future__ import annotations

import torch

from planners.cem import CEMPlanner
from planners.config import CEMConfig, MPPIConfig, SamplingConfig
from planners.constraint import ConstraintConfig, PlanConstraint, SafetyFn
from planners.model import LatentModel, PolicyPriorFn, TerminalValueFn
from planners.mppi import MPPIPlanner
from planners.sampling import BoundLike, SamplingPlanner

_PLANNERS = {"cem": CEMPlanner, "mppi": MPPIPlanner}


def make_planner(
    name: str,
    model: LatentModel,
    action_dim: int,
    config: CEMConfig | MPPIConfig | None = None,
    action_low: BoundLike = -1.0,
    action_high: BoundLike = 1.0,
    terminal_value: TerminalValueFn | None = None,
    policy_prior: PolicyPriorFn | None = None,
    device: str | torch.device = "cpu",
    constraint: PlanConstraint | None = None,
) -> SamplingPlanner:
    """Build a planner by name (``"cem"`` or ``"mppi"``); ``config=None`` means defaults.

    ``constraint`` bounds each plan's predicted safety cost (``planners.constraint``)."""
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in _PLANNERS:
        raise ValueError(f"planner name {name!r} is invalid; accepted: {sorted(_PLANNERS)}")
    return _PLANNERS[key](
        model,
        action_dim,
        config,
        action_low=action_low,
        action_high=action_high,
        terminal_value=terminal_value,
        policy_prior=policy_prior,
        device=device,
        constraint=constraint,
    )


__all__ = [
    "CEMConfig",
    "CEMPlanner",
    "ConstraintConfig",
    "LatentModel",
    "MPPIConfig",
    "MPPIPlanner",
    "PlanConstraint",
    "PolicyPriorFn",
    "SamplingConfig",
    "SafetyFn",
    "SamplingPlanner",
    "TerminalValueFn",
    "make_planner",
]
