"""Terminal value: an ensemble of Q-functions on latents, TD-learned against a slow copy.

The planner sees ``horizon`` steps ahead; Q(z_H, pi(z_H)) stands in for everything
after that, which is what lets a 3-step planner solve a 500-step task.

As in TD-MPC2, every reduction uses two randomly chosen members: the minimum of two
for TD targets (pessimism against over-estimation without the bias of a min over all
five) and their mean for the policy and the planner. The pessimism needs members that
disagree where data is thin: with 2 members and no dropout (this project's earlier default,
chosen for speed) the two heads agreed within 1 on values near 200, and Q stayed at 160-220
on whole replayed episodes that returned 0 (arm stuck short of the target), so 5 members with
dropout 0.01 on the first layer, as TD-MPC2, are the default again (+45% per update in
fp32 on this CPU; bf16 autocast updates, also the default, pay for it).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from agent.model.ops import TwoHot, ema_
from agent.model.networks import mlp

SUBSET = 2  # members drawn for each Q estimate


class QEnsemble(nn.Module):
    """``num_q`` Q-heads over (latent, action), each a two-hot distribution over returns."""

    def __init__(self, latent_dim: int, action_dim: int, hidden_dim: int, num_q: int, num_bins: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        # Separate small MLPs rather than one batched (members, in, out) matmul: on CPU, at these
        # sizes, bmm and its backward measured slower than a loop of addmm.
        self.heads = nn.ModuleList(mlp(latent_dim + action_dim, [hidden_dim, hidden_dim], num_bins, dropout)
                                   for _ in range(num_q))
        # Zero-initialised outputs: every head starts at Q = 0 (uniform over the bins decodes to 0),
        # so the first plans are not steered by random value noise.
        for head in self.heads:
            nn.init.zeros_(head[-1].weight)
            nn.init.zeros_(head[-1].bias)
        self.two_hot = TwoHot(num_bins)
        self.target = copy.deepcopy(self.heads).requires_grad_(False)
        self.num_q = num_q
        # Dropout only while learning (the Learner switches to train mode for an update): plans
        # and evaluations see the whole network.
        self.eval()

    def logits(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(N, Z), (N, A) -> (num_q, N, bins)."""
        za = torch.cat([z, action], -1)
        return torch.stack([head(za) for head in self.heads])

    def q(self, z: torch.Tensor, action: torch.Tensor, target: bool = False, reduce: str = "mean") -> torch.Tensor:
        """Scalar Q (N,) from two random members, reduced by 'mean' or 'min' (pessimistic TD targets)."""
        # No draw when every member is used (the default of 2): keeps planning free of RNG calls
        # and graph breaks under torch.compile.
        members = range(self.num_q) if self.num_q <= SUBSET else torch.randperm(self.num_q)[:SUBSET].tolist()
        heads = self.target if target else self.heads
        za = torch.cat([z, action], -1)
        qs = self.two_hot.decode(torch.stack([heads[m](za) for m in members]))
        return qs.min(0).values if reduce == "min" else qs.mean(0)

    def lower_bound(self, z: torch.Tensor, action: torch.Tensor, k: float) -> torch.Tensor:
        """Pessimistic Q (N,): mean - k * std over every member. Where the heads disagree (data is thin and
        the value is a guess) a plan's value drops; where they agree it is the mean."""
        za = torch.cat([z, action], -1)
        qs = self.two_hot.decode(torch.stack([head(za) for head in self.heads]))
        return qs.mean(0) - k * qs.std(0, correction=0)

    @torch.no_grad()
    def update_target(self, tau: float) -> None:
        ema_(list(self.target.parameters()), list(self.heads.parameters()), tau)
