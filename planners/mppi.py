"""MPPI planner (TD-MPC2 flavour: exponentiated-return weights over the elites)."""

from __future__ import annotations

import torch

from planners.config import MPPIConfig
from planners.constraint import PlanConstraint
from planners.model import LatentModel, PolicyPriorFn, TerminalValueFn
from planners.sampling import BoundLike, EliteWeighting, SamplingPlanner


def softmax_weights(temperature: float) -> EliteWeighting:
    """MPPI rule: weights ``softmax(returns / temperature)`` over the elites."""

    def weigh(elite_returns: torch.Tensor) -> torch.Tensor:
        # softmax subtracts the max internally, so large returns cannot overflow.
        return torch.softmax(elite_returns.float() / temperature, dim=0)

    return weigh


class MPPIPlanner(SamplingPlanner):
    """MPPI: refit the Gaussian to the elites weighted by their exponentiated return.

    Weights cover the top ``num_elites`` trajectories only; with
    ``num_elites == num_samples`` this is classic all-sample MPPI.
    """

    def __init__(
        self,
        model: LatentModel,
        action_dim: int,
        config: MPPIConfig | None = None,
        action_low: BoundLike = -1.0,
        action_high: BoundLike = 1.0,
        terminal_value: TerminalValueFn | None = None,
        policy_prior: PolicyPriorFn | None = None,
        device: str | torch.device = "cpu",
        constraint: PlanConstraint | None = None,
    ) -> None:
        config = MPPIConfig() if config is None else config
        if not isinstance(config, MPPIConfig):
            raise TypeError(f"MPPIPlanner needs an MPPIConfig, got {type(config).__name__}")
        super().__init__(
            model,
            action_dim,
            config,
            softmax_weights(config.temperature),
            action_low=action_low,
            action_high=action_high,
            terminal_value=terminal_value,
            policy_prior=policy_prior,
            device=device,
            constraint=constraint,
        )
