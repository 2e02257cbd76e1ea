"""MPPI planner (TD-MPC2 flavour: exponentiated-return weights over the elites)."""

from __future__ import annotations

import torch

from planners.config import MPPIConfig
from planners.elites import EliteWeighting
from planners.sampling import SamplingPlanner


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

    config_class = MPPIConfig

    def elite_weighting(self, config: MPPIConfig) -> EliteWeighting:
        return softmax_weights(config.temperature)
