"""Cross-entropy method planner."""

from __future__ import annotations

import torch

from planners.config import CEMConfig
from planners.constraint import PlanConstraint
from planners.model import LatentModel, PolicyPriorFn, TerminalValueFn
from planners.sampling import BoundLike, SamplingPlanner


def uniform_weights(elite_returns: torch.Tensor) -> torch.Tensor:
    """CEM rule: every elite counts the same, whatever its return."""
    k = elite_returns.shape[0]
    return torch.full((k,), 1.0 / k, dtype=torch.float32, device=elite_returns.device)


class CEMPlanner(SamplingPlanner):
    """CEM: refit a diagonal Gaussian over action plans to the top-k elites.

    All of the loop lives in :class:`SamplingPlanner`; this class only binds
    the uniform elite weighting and checks the config type.
    """

    def __init__(
        self,
        model: LatentModel,
        action_dim: int,
        config: CEMConfig | None = None,
        action_low: BoundLike = -1.0,
        action_high: BoundLike = 1.0,
        terminal_value: TerminalValueFn | None = None,
        policy_prior: PolicyPriorFn | None = None,
        device: str | torch.device = "cpu",
        constraint: PlanConstraint | None = None,
    ) -> None:
        config = CEMConfig() if config is None else config
        if not isinstance(config, CEMConfig):
            raise TypeError(f"CEMPlanner needs a CEMConfig, got {type(config).__name__}")
        super().__init__(
            model,
            action_dim,
            config,
            uniform_weights,
            action_low=action_low,
            action_high=action_high,
            terminal_value=terminal_value,
            policy_prior=policy_prior,
            device=device,
            constraint=constraint,
        )
