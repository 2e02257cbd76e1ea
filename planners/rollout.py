"""The imagined rollout that scores a batch of action plans in a latent model.

One batched model step per horizon step (Python loops only over the horizon), so
every plan of the population is scored in the same few calls.
"""

from __future__ import annotations

from typing import Callable

import torch

from planners.model import PolicyPriorFn, TerminalValueFn

StepFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
"""``(N, Z), (N, A) -> (N, Z), (N,)``: a model's ``next_latent_and_reward`` (or a compiled copy)."""

StepCostFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(N, Z), (N, A) -> (N,)``: a constraint's per-step P(unsafe)."""


def imagined_returns(
    step: StepFn,
    z0: torch.Tensor,
    actions: torch.Tensor,
    returns: torch.Tensor,
    *,
    horizon: int,
    discount: float,
    low: torch.Tensor,
    high: torch.Tensor,
    value: TerminalValueFn | None = None,
    policy: PolicyPriorFn | None = None,
    costs: torch.Tensor | None = None,
    step_cost: StepCostFn | None = None,
    prior_mean: PolicyPriorFn | None = None,
    prior_trust: float = 0.0,
) -> None:
    """Discounted return of every column of ``actions`` ``(H, n, A)`` into ``returns``.

    With ``policy``, the actions are produced by it along the rollout and
    written (clipped to ``low``/``high``) into ``actions``. With ``costs``, the
    constraint's undiscounted sum of per-step P(unsafe) (``step_cost``) goes there.
    ``value``, if given, is added at the horizon with the discount reached there.
    With ``prior_mean`` and ``prior_trust > 0``, each step also loses ``prior_trust`` times the mean
    squared distance of its action from ``prior_mean`` at the latent it is taken in, discounted
    like the reward (a soft trust region around the prior).
    """
    n = actions.shape[1]
    z = z0.expand(n, -1).contiguous()
    returns.zero_()
    if costs is not None:
        costs.zero_()
    weight = 1.0
    for t in range(horizon):
        a_t = actions[t]
        if policy is not None:
            a_t.copy_(torch.clamp(policy(z).float(), low, high))
        if costs is not None:
            costs.add_(step_cost(z, a_t))
        if prior_mean is not None and prior_trust > 0:
            returns.sub_((a_t - prior_mean(z).float()).pow(2).mean(-1), alpha=weight * prior_trust)
        z, reward = step(z, a_t)
        returns.add_(reward.reshape(n), alpha=weight)
        weight *= discount
    if value is not None:
        returns.add_(value(z).reshape(n), alpha=weight)
