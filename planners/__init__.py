"""Sampling-based planners (CEM, MPPI) over imagined rollouts of a latent model."""

from __future__ import annotations

from typing import Any

from planners.cem import CEMPlanner
from planners.config import CEMConfig, MPPIConfig, SamplingConfig
from planners.constraint import ConstraintConfig, PlanConstraint, SafetyFn
from planners.model import LatentModel, PolicyPriorFn, TerminalValueFn
from planners.mppi import MPPIPlanner
from planners.sampling import SamplingPlanner

_PLANNERS = {"cem": CEMPlanner, "mppi": MPPIPlanner}


def make_planner(
    name: str,
    model: LatentModel,
    action_dim: int,
    config: CEMConfig | MPPIConfig | None = None,
    **options: Any,
) -> SamplingPlanner:
    """Build a planner by name (``"cem"`` or ``"mppi"``); ``config=None`` means defaults.

    ``options`` are :class:`SamplingPlanner`'s keyword arguments: ``action_low`` /
    ``action_high``, ``terminal_value``, ``policy_prior``, ``device`` and ``constraint``
    (which bounds each plan's predicted safety cost, see ``planners.constraint``)."""
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in _PLANNERS:
        raise ValueError(f"planner name {name!r} is invalid; accepted: {sorted(_PLANNERS)}")
    return _PLANNERS[key](model, action_dim, config, **options)


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
