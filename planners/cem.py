"""Cross-entropy method planner."""

from __future__ import annotations

import torch

from planners.config import CEMConfig
from planners.elites import EliteWeighting
from planners.sampling import SamplingPlanner


def uniform_weights(elite_returns: torch.Tensor) -> torch.Tensor:
    """CEM rule: every elite counts the same, whatever its return."""
    k = elite_returns.shape[0]
    return torch.full((k,), 1.0 / k, dtype=torch.float32, device=elite_returns.device)


class CEMPlanner(SamplingPlanner):
    """CEM: refit a diagonal Gaussian over action plans to the top-k elites.

    All of the loop lives in :class:`SamplingPlanner`; this class only binds
    its config type and the uniform elite weighting.
    """

    config_class = CEMConfig

    def elite_weighting(self, config: CEMConfig) -> EliteWeighting:
        return uniform_weights
