"""Numeric helpers shared by the world model and the learner."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def symlog(x: torch.Tensor) -> torch.Tensor:
    """Compress large magnitudes while keeping sign: sign(x) * log(1 + |x|)."""
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`symlog`."""
    return torch.sign(x) * torch.expm1(x.abs())


class TwoHot:
    """Scalar regression as classification over bins in symlog space.

    Rewards and returns differ by orders of magnitude between tasks; a categorical
    target over fixed bins keeps the loss scale independent of them (as in
    DreamerV3 and TD-MPC2).
    """

    def __init__(self, num_bins: int, vmin: float = -10.0, vmax: float = 10.0) -> None:
        self.num_bins = num_bins
        self.vmin, self.vmax = vmin, vmax
        self.bin_size = (vmax - vmin) / (num_bins - 1)
        self.bins = torch.linspace(vmin, vmax, num_bins)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(...,) scalars -> (..., num_bins) two-hot target."""
        x = symlog(x.float()).clamp(self.vmin, self.vmax)
        pos = (x - self.vmin) / self.bin_size
        low = pos.floor().long().clamp(0, self.num_bins - 1)
        high = (low + 1).clamp(max=self.num_bins - 1)
        w_high = (pos - low.float()).unsqueeze(-1)
        target = F.one_hot(low, self.num_bins).float() * (1 - w_high)
        return target + F.one_hot(high, self.num_bins).float() * w_high

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        """(..., num_bins) logits -> (...,) expected scalar."""
        probs = logits.float().softmax(-1)
        return symexp((probs * self.bins.to(logits.device)).sum(-1))

    def loss(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of logits (..., num_bins) against scalars (...,); shape (...,)."""
        return -(self.encode(x) * F.log_softmax(logits.float(), -1)).sum(-1)


def simnorm(z: torch.Tensor, group: int) -> torch.Tensor:
    """Softmax within groups of ``group`` units: keeps latents bounded over long rollouts."""
    if group <= 0:
        return z
    shape = z.shape
    return F.softmax(z.reshape(*shape[:-1], -1, group), dim=-1).reshape(shape)


class RunningScale:
    """Running 5-95 percentile range of Q, used to normalise the policy loss across tasks."""

    def __init__(self, tau: float = 0.01) -> None:
        self.value = torch.ones(())
        self.tau = tau

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().float().flatten()
        q = torch.quantile(x.cpu(), torch.tensor([0.05, 0.95]))
        span = (q[1] - q[0]).clamp(min=1.0)
        self.value = self.value.lerp(span, self.tau)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.value = state["value"]
