"""The action box of a sampling planner: its bounds, and caller plans checked and clipped to it."""

from __future__ import annotations

from typing import Sequence

import torch

BoundLike = float | Sequence[float] | torch.Tensor


def action_bounds(
    low: BoundLike, high: BoundLike, action_dim: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Broadcast scalar or per-dimension bounds to two float32 ``(A,)`` tensors."""
    out = []
    for name, value in (("action_low", low), ("action_high", high)):
        t = torch.as_tensor(value, dtype=torch.float32, device=device)
        if t.dim() > 1 or (t.dim() == 1 and t.numel() not in (1, action_dim)):
            raise ValueError(
                f"{name} has shape {tuple(t.shape)}; accepted: a scalar or shape ({action_dim},)"
            )
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name}={t.tolist()} is invalid; accepted: finite values")
        out.append(t.expand(action_dim).clone())
    lo, hi = out
    if not bool((lo < hi).all()):
        raise ValueError(
            f"action bounds low={lo.tolist()} high={hi.tolist()} are invalid; accepted: low < high in every dimension"
        )
    return lo, hi


def prepare_candidates(
    candidates: torch.Tensor | None,
    horizon: int,
    action_dim: int,
    low: torch.Tensor,
    high: torch.Tensor,
    device: torch.device,
) -> torch.Tensor | None:
    """Validate ``(K, H, A)`` plans and return them clipped, as ``(H, K, A)``."""
    if candidates is None:
        return None
    cand = torch.as_tensor(candidates, dtype=torch.float32, device=device)
    given = tuple(cand.shape)
    if cand.dim() == 2:
        cand = cand.unsqueeze(0)
    expected = (horizon, action_dim)
    if cand.dim() != 3 or cand.shape[0] < 1 or tuple(cand.shape[1:]) != expected:
        raise ValueError(
            f"candidates have shape {given}; accepted: (K, {expected[0]}, {expected[1]}) with K >= 1"
        )
    if not bool(torch.isfinite(cand).all()):
        raise ValueError("candidates contain NaN or inf; accepted: finite values")
    return torch.clamp(cand, low, high).transpose(0, 1)
