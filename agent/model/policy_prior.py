"""A tanh-Gaussian policy on latents that seeds part of the planner's samples.

It is trained to maximise Q (plus a small entropy bonus), so it carries what the
value learned about acting beyond the horizon into the planner's population.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from agent.model.networks import mlp

LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0


class PolicyPrior(nn.Module):
    def __init__(self, latent_dim: int, action_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.net = mlp(latent_dim, [hidden_dim, hidden_dim], 2 * action_dim)
        self.action_dim = action_dim

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample actions in [-1, 1] (N, A) and their log-probabilities (N,)."""
        mean, log_std = self.net(z).chunk(2, -1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(log_std) + 1)
        eps = torch.randn_like(mean)
        pre_tanh = mean + eps * log_std.exp()
        log_prob = (-0.5 * eps.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        action = torch.tanh(pre_tanh)
        # Change of variables through tanh.
        log_prob = log_prob - torch.log(torch.relu(1 - action.pow(2)) + 1e-6).sum(-1)
        return action, log_prob

    def sample(self, z: torch.Tensor) -> torch.Tensor:
        """Actions only, for the planner's policy rollouts."""
        return self.forward(z)[0]

    def mean_action(self, z: torch.Tensor) -> torch.Tensor:
        """The deterministic action tanh(mean) (N, A): acting without planning."""
        return torch.tanh(self.net(z).chunk(2, -1)[0])
