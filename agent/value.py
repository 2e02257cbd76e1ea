"""Terminal value: an ensemble of Q-functions on latents, TD-learned against a slow copy.

The planner sees ``horizon`` steps ahead; Q(z_H, pi(z_H)) stands in for everything
after that, which is what lets a 3-step planner solve a 500-step task.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from agent.math import TwoHot
from agent.networks import mlp


class QEnsemble(nn.Module):
    """``num_q`` Q-heads over (latent, action), each a two-hot distribution over returns."""

    def __init__(self, latent_dim: int, action_dim: int, hidden_dim: int, num_q: int, num_bins: int) -> None:
        super().__init__()
        self.heads = nn.ModuleList(mlp(latent_dim + action_dim, [hidden_dim, hidden_dim], num_bins) for _ in range(num_q))
        self.two_hot = TwoHot(num_bins)
        self.target = copy.deepcopy(self.heads).requires_grad_(False)

    def logits(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(N, Z), (N, A) -> (num_q, N, bins)."""
        za = torch.cat([z, action], -1)
        return torch.stack([head(za) for head in self.heads])

    def q(self, z: torch.Tensor, action: torch.Tensor, target: bool = False, reduce: str = "mean") -> torch.Tensor:
        """Scalar Q (N,), the ensemble reduced by 'mean' or 'min' (pessimistic TD targets)."""
        za = torch.cat([z, action], -1)
        heads = self.target if target else self.heads
        qs = torch.stack([self.two_hot.decode(head(za)) for head in heads])
        return qs.min(0).values if reduce == "min" else qs.mean(0)

    @torch.no_grad()
    def update_target(self, tau: float) -> None:
        for p, tp in zip(self.heads.parameters(), self.target.parameters()):
            tp.lerp_(p, tau)
