"""Sampling-based planners (CEM, MPPI) over imagined rollouts of a latent model.

The names below are imported on first use, so ``import planners.config`` (plain dataclasses: what each
planner option accepts) does not load torch: ``agent/config.py`` validates with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planners.config import CEMConfig, MPPIConfig
    from planners.model import LatentModel
    from planners.sampling import SamplingPlanner

_EXPORTS = {
    "CEMConfig": "planners.config", "MPPIConfig": "planners.config", "SamplingConfig": "planners.config",
    "CEMPlanner": "planners.cem", "MPPIPlanner": "planners.mppi", "SamplingPlanner": "planners.sampling",
    "ConstraintConfig": "planners.constraint", "PlanConstraint": "planners.constraint", "SafetyFn": "planners.constraint",
    "LatentModel": "planners.model", "PolicyPriorFn": "planners.model", "TerminalValueFn": "planners.model",
}
_PLANNERS = {"cem": ("planners.cem", "CEMPlanner"), "mppi": ("planners.mppi", "MPPIPlanner")}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'planners' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def make_planner(
    name: str,
    model: LatentModel,
    action_dim: int,
    config: CEMConfig | MPPIConfig | None = None,
    **options: Any,
) -> SamplingPlanner:
    """Build a planner by name (``"cem"`` or ``"mppi"``); ``config=None`` means defaults.

    ``options`` are :class:`SamplingPlanner`'s keyword arguments: ``action_low`` /
    ``action_high``, ``terminal_value``, ``policy_prior``, ``device``, ``constraint``
    (which bounds each plan's predicted safety cost, see ``planners.constraint``) and ``prior_mean``
    (the prior's action per latent, for ``prior_trust``)."""
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in _PLANNERS:
        raise ValueError(f"planner name {name!r} is invalid; accepted: {sorted(_PLANNERS)}")
    module, cls = _PLANNERS[key]
    return getattr(importlib.import_module(module), cls)(model, action_dim, config, **options)


__all__ = sorted([*_EXPORTS, "make_planner"])
