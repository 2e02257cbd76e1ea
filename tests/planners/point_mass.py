"""Small problems with known optima for the planner tests: a point mass under its true dynamics."""

from __future__ import annotations

import torch

from planners import CEMConfig, MPPIConfig

KINDS = ["cem", "mppi"]


def config(kind: str, **overrides: object) -> CEMConfig | MPPIConfig:
    """Small, fast budget; MPPI gets a temperature suited to these reward scales.

    fp32 by default: these models have no matmuls for bf16 to speed up.
    """
    base: dict[str, object] = dict(
        horizon=5, num_samples=256, num_elites=32, iterations=6, dtype_autocast=False
    )
    if kind == "mppi":
        base["temperature"] = 0.05
    base.update(overrides)
    return CEMConfig(**base) if kind == "cem" else MPPIConfig(**base)


class PointMass:
    """Integrator ``z' = z + gain * a`` with reward ``-||z' - goal||``; records evaluated actions."""

    def __init__(self, goal: list[float], gain: float = 0.1, squared: bool = False) -> None:
        self.goal = torch.tensor(goal)
        self.gain = gain
        self.squared = squared
        self.seen_actions: list[torch.Tensor] = []
        self.calls = 0
        self.grad_enabled: set[bool] = set()

    def initial_latent(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.float()

    def next_latent_and_reward(self, z: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        self.grad_enabled.add(torch.is_grad_enabled())
        self.seen_actions.append(a.clone())
        z_next = z + self.gain * a
        dist = z_next - self.goal
        reward = -dist.square().sum(-1) if self.squared else -dist.norm(dim=-1)
        return z_next, reward


def start(dim: int) -> torch.Tensor:
    return torch.zeros(1, dim)


def true_return(model: PointMass, plan: torch.Tensor, discount: float = 0.99) -> float:
    """Discounted return of an (H, A) plan from the origin under the true dynamics."""
    z = torch.zeros(1, plan.shape[1])
    total = 0.0
    for t, a in enumerate(plan):
        z, r = model.next_latent_and_reward(z, a.unsqueeze(0))
        total += discount**t * float(r)
    return total


# Greedy plan reaching goal (0.25, -0.15) at step 3 then staying: optimal and interior
# after the first step, so random samples essentially never hit it.
INTERIOR_GOAL = [0.25, -0.15]
INTERIOR_PLAN = torch.tensor([[1.0, -1.0], [1.0, -0.5], [0.5, 0.0], [0.0, 0.0], [0.0, 0.0]])


def greedy_policy(z: torch.Tensor) -> torch.Tensor:
    """Optimal policy for the INTERIOR_GOAL point mass: step straight to the goal."""
    return ((torch.tensor(INTERIOR_GOAL) - z) / 0.1).clamp(-1.0, 1.0)
