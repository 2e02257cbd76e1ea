"""The elites of a planner's population: how they are weighted, the Gaussian refit to
them, and which part of the population (policy prior, caller candidates) they came from."""

from __future__ import annotations

from typing import Callable

import torch

EliteWeighting = Callable[[torch.Tensor], torch.Tensor]
"""Elite returns ``(K,)`` sorted best first -> weights ``(K,)`` summing to 1."""


def weighted_moments(
    elites: torch.Tensor, weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean and std over the sample axis of ``(H, K, A)`` elites."""
    w = weights.view(1, -1, 1)
    mean = (elites * w).sum(dim=1)
    var = ((elites - mean.unsqueeze(1)).square_() * w).sum(dim=1)
    return mean, var.sqrt_()


def population_stats(
    returns: torch.Tensor,
    elite_returns: torch.Tensor,
    elite_idx: torch.Tensor,
    weights: torch.Tensor,
    std: torch.Tensor,
    n_policy: int,
    n_cand: int,
    pick: int,
) -> dict[str, float]:
    """Scalars describing the last call, for logging and tests.

    The population is laid out ``[policy-prior rollouts | caller candidates | samples]``,
    ``n_policy`` and ``n_cand`` long; ``pick`` is the elite the action came from. The keys
    are those listed in :class:`planners.sampling.SamplingPlanner`'s docstring.
    """
    n_fixed = n_policy + n_cand
    is_policy = elite_idx < n_policy
    is_cand = (elite_idx >= n_policy) & (elite_idx < n_fixed)
    w = weights.float()
    cand_returns = returns[n_policy:n_fixed]
    values = torch.stack(
        [
            elite_returns.float().mean(),
            elite_returns[0].float(),
            std.float().mean(),
            is_policy.any().float(),
            (w * is_policy).sum(),
            is_cand.any().float(),
            (w * is_cand).sum(),
            is_cand[0].float(),  # best trajectory of the population is a candidate
            is_cand[pick].float(),
            cand_returns.max() if n_cand else returns.new_tensor(float("nan")),
        ]
    ).tolist()
    keys = (
        "elite_return_mean",
        "best_return",
        "std_mean",
        "policy_in_elites",
        "policy_weight",
        "candidate_in_elites",
        "candidate_weight",
        "candidate_is_best",
        "candidate_chosen",
        "candidate_best_return",
    )
    stats = dict(zip(keys, values))
    stats["num_candidates"] = float(n_cand)
    return stats
