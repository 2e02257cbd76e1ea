"""The safety head: P(unsafe) of taking an action in a latent, learned from the env's cost.

It sits beside whichever world model the agent uses and learns on that model's own
latents (encoded first step, then the model's predictions), because those are what the
planner feeds it. The world model is not trained by this loss: the head reads its
latents and leaves them alone, so adding a safety budget never changes what the model
learns about dynamics and reward.

Unsafe steps are rare (a few percent), so the loss weighs positives by
``sqrt(negatives / positives)`` from a running rate: the full ratio would push P(unsafe)
up so far that the planner's budget (a sum of probabilities) would lose its meaning; the
square root buys recall at a moderate cost in calibration.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agent.model.ops import adam
from agent.model.networks import mlp

UNSAFE_THRESHOLD = 0.5  # P(unsafe) above which a step counts as predicted unsafe (metrics, video)


class SafetyHead(nn.Module):
    """MLP over (latent, action) -> logit of P(unsafe)."""

    def __init__(self, latent_dim: int, action_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.net = mlp(latent_dim + action_dim, [hidden_dim], 1)

    def logits(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(N, Z), (N, A) -> (N,) logits."""
        return self.net(torch.cat([z, action], -1)).squeeze(-1)

    def p_unsafe(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(N, Z), (N, A) -> (N,) probability that the step is unsafe."""
        return torch.sigmoid(self.logits(z, action).float())


class _Rollable(Protocol):
    def encode(self, obs: torch.Tensor) -> torch.Tensor: ...
    def next(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor: ...


def model_latents(model: _Rollable, obs0: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """The latents the planner would see along a window: (H, B, Z), step t before action t."""
    z = model.encode(obs0)
    latents = []
    for a in actions:
        latents.append(z)
        z = model.next(z, a)
    return torch.stack(latents)


class SafetyLearner:
    """Adam on the head alone; ``update(batch)`` needs ``batch["cost"]`` (H+1, B)."""

    def __init__(self, head: SafetyHead, model: _Rollable, lr: float, max_pos_weight: float = 20.0,
                 rate_tau: float = 0.01) -> None:
        self.head, self.model = head, model
        self.optim = adam(head.parameters(), lr=lr)
        self.max_pos_weight, self.rate_tau = max_pos_weight, rate_tau
        self.pos_rate: float | None = None  # running fraction of unsafe steps in the batches

    def pos_weight(self) -> float:
        rate = self.pos_rate if self.pos_rate is not None else 0.5
        if rate <= 0.0:
            return self.max_pos_weight
        return float(min(max(math.sqrt((1.0 - rate) / rate), 1.0), self.max_pos_weight))

    def loss(self, latents: torch.Tensor, actions: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Weighted binary cross-entropy of (N, Z), (N, A) against 0/1 labels (N,)."""
        weight = torch.tensor(self.pos_weight(), device=latents.device)
        return F.binary_cross_entropy_with_logits(self.head.logits(latents, actions), labels.float(),
                                                  pos_weight=weight)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One step on the batch's windows; the label of (z_t, a_t) is the cost after a_t."""
        if "cost" not in batch:
            return {}
        actions = batch["action"]
        labels = (batch["cost"][1:] > 0.5).float()
        with torch.no_grad():
            latents = model_latents(self.model, batch["obs"][0], actions)
        rate = float(labels.mean())
        self.pos_rate = rate if self.pos_rate is None else (1 - self.rate_tau) * self.pos_rate + self.rate_tau * rate
        loss = self.loss(latents.flatten(0, 1), actions.flatten(0, 1), labels.flatten())
        if not torch.isfinite(loss):
            return {}
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        self.optim.step()
        return {"safety": loss.item(), "safety_positive_rate": self.pos_rate}

    def state_dict(self) -> dict:
        return {"optim": self.optim.state_dict(), "pos_rate": self.pos_rate}

    def load_state_dict(self, state: dict) -> None:
        self.optim.load_state_dict(state["optim"])
        self.pos_rate = state["pos_rate"]


def precision_recall(predicted: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    """Precision and recall of boolean predictions; NaN where undefined (nothing predicted / no positives)."""
    predicted, actual = np.asarray(predicted, bool), np.asarray(actual, bool)
    hits = float(np.sum(predicted & actual))
    precision = hits / predicted.sum() if predicted.any() else float("nan")
    recall = hits / actual.sum() if actual.any() else float("nan")
    return float(precision), float(recall)
