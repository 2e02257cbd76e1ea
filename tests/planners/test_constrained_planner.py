"""The safety constraint on planning, on a point mass with a known forbidden disk."""

from __future__ import annotations

import pytest
import torch

from planners import CEMConfig, ConstraintConfig, MPPIConfig, PlanConstraint, make_planner

KINDS = ["cem", "mppi"]
GOAL = torch.tensor([0.6, 0.0])
CENTRE, RADIUS = torch.tensor([0.25, 0.0]), 0.1  # squarely on the straight line to the goal
GAIN = 0.1


class PointMass:
    """``z' = z + 0.1 a``, reward ``-||z' - goal||``."""

    def initial_latent(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.float()

    def next_latent_and_reward(self, z: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z_next = z + GAIN * a
        return z_next, -(z_next - GOAL).norm(dim=-1)


def in_disk(z: torch.Tensor) -> torch.Tensor:
    return (z - CENTRE).norm(dim=-1) < RADIUS


def p_unsafe_disk(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Known safety: the step is unsafe exactly when it lands in the disk."""
    return in_disk(z + GAIN * a).float()


def planner(kind: str, constraint: PlanConstraint | None, pick_elite: bool = False):
    common = dict(horizon=5, num_samples=256, num_elites=32, iterations=6, dtype_autocast=False,
                  pick_elite=pick_elite)
    cfg = CEMConfig(**common) if kind == "cem" else MPPIConfig(temperature=0.05, **common)
    return make_planner(kind, PointMass(), 2, cfg, constraint=constraint)


def drive(plan, steps: int = 12) -> list[torch.Tensor]:
    """Closed loop on the true dynamics; the visited states."""
    z = torch.zeros(1, 2)
    visited = []
    for _ in range(steps):
        z = z + GAIN * plan.plan(z).unsqueeze(0)
        visited.append(z[0].clone())
    return visited


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("pick_elite", [False, True])
def test_never_enters_the_forbidden_region_when_a_safe_plan_exists(kind: str, seed: int, pick_elite: bool) -> None:
    torch.manual_seed(seed)
    safe = planner(kind, PlanConstraint(p_unsafe_disk, ConstraintConfig(budget=0.5, mode="chance")), pick_elite)
    visited = drive(safe)
    assert not any(bool(in_disk(z)) for z in visited)
    assert visited[-1][0] > CENTRE[0] + RADIUS, "went around the disk toward the goal"
    assert safe.last_stats["no_feasible_plan"] == 0.0 and safe.last_stats["plan_cost"] <= 0.5
    # The same problem without the constraint goes straight through: the disk is in the way.
    torch.manual_seed(seed)
    assert any(bool(in_disk(z)) for z in drive(planner(kind, None)))


@pytest.mark.parametrize("kind", KINDS)
def test_falls_back_to_the_safest_plan_and_says_so_when_none_is_feasible(kind: str) -> None:
    torch.manual_seed(0)

    def costly_x(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        # Every step costs >= 0.5, so every 5-step plan exceeds a budget of 1; x-motion costs more.
        return 0.5 + 0.5 * a[:, 0].abs()

    plan = planner(kind, PlanConstraint(costly_x, ConstraintConfig(budget=1.0)))
    action = plan.plan(torch.zeros(1, 2))
    assert plan.last_stats["no_feasible_plan"] == 1.0 and plan.last_stats["feasible_fraction"] == 0.0
    assert abs(float(action[0])) < 0.3, "the safest plan barely moves in x, though x is where the reward is"
    unconstrained = planner(kind, None)
    assert float(unconstrained.plan(torch.zeros(1, 2))[0]) > 0.8


def test_penalty_multiplier_grows_while_plans_overspend_and_then_steers_around() -> None:
    torch.manual_seed(0)
    constraint = PlanConstraint(p_unsafe_disk, ConstraintConfig(budget=0.5, mode="penalty", multiplier=0.0,
                                                                 adapt_rate=2.0))
    plan = planner("cem", constraint)
    plan.plan(torch.zeros(1, 2))
    assert constraint.multiplier > 0.0  # the first plan, unpenalised, went through the disk
    visited = drive(plan, steps=12)
    assert sum(bool(in_disk(z)) for z in visited) <= 1
    assert plan.last_stats["safety_multiplier"] == constraint.multiplier


def test_unconstrained_planner_reports_no_safety_stats_and_keeps_no_cost_buffer() -> None:
    plan = planner("mppi", None)
    plan.plan(torch.zeros(1, 2))
    assert "no_feasible_plan" not in plan.last_stats and plan._workspace.costs is None


@pytest.mark.parametrize("field, value", [("mode", "soft"), ("budget", -1.0), ("adapt_rate", float("inf"))])
def test_bad_constraint_config_is_one_line(field: str, value: object) -> None:
    with pytest.raises(ValueError) as err:
        ConstraintConfig(**{field: value})
    assert "\n" not in str(err.value) and field in str(err.value) and "accepted" in str(err.value)


@pytest.mark.parametrize("kind", KINDS)
def test_candidates_returns_and_budget_fit_are_kept_for_the_caller(kind: str) -> None:
    """planners.llm.follow acts on a candidate itself: it needs each one's imagined return and budget fit."""
    through = torch.tensor([[1.0, 0.0]] * 5)  # straight at the goal, through the disk
    back = torch.tensor([[-1.0, 0.0]] * 5)  # away from the goal, never near the disk
    safe = planner(kind, PlanConstraint(p_unsafe_disk, ConstraintConfig(budget=0.5, mode="chance")))
    safe.plan(torch.zeros(1, 2), candidates=torch.stack([through, back]))
    returns, feasible = safe.last_candidate_returns, safe.last_candidate_feasible
    z = torch.cumsum(GAIN * through, 0)
    discounts = safe.config.discount ** torch.arange(5.0)
    assert torch.allclose(returns[0], -((z - GOAL).norm(dim=-1) * discounts).sum(), atol=1e-4)
    assert returns[0] > returns[1] and feasible.tolist() == [False, True]
    safe.plan(torch.zeros(1, 2))
    assert safe.last_candidate_returns is None and safe.last_candidate_feasible is None
    free = planner(kind, None)
    free.plan(torch.zeros(1, 2), candidates=through)
    assert free.last_candidate_returns.shape == (1,) and free.last_candidate_feasible is None
