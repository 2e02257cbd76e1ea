"""Planners against small problems with known optima (true dynamics, no learning)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from planners import (
    CEMConfig,
    CEMPlanner,
    MPPIConfig,
    MPPIPlanner,
    SamplingPlanner,
    make_planner,
)

from tests.planners.point_mass import (INTERIOR_GOAL, INTERIOR_PLAN, KINDS, PointMass, config, greedy_policy, start,
                                        true_return)


# ------------------------------------------------------------------ optimum


@pytest.mark.parametrize("kind", KINDS)
def test_finds_bound_optimum_toward_far_goal(kind: str) -> None:
    torch.manual_seed(0)
    planner = make_planner(kind, PointMass([2.0, -1.0]), 2, config(kind))
    action = planner.plan(start(2))
    assert action.shape == (2,) and action.dtype == torch.float32 and action.device.type == "cpu"
    assert torch.allclose(action, torch.tensor([1.0, -1.0]), atol=0.1), action


@pytest.mark.parametrize("kind", KINDS)
def test_finds_interior_optimum_1d(kind: str) -> None:
    # z' = z + a, reward -(z' - 0.4)^2: go to 0.4 at once (a0 = 0.4), then stay (a = 0).
    torch.manual_seed(0)
    model = PointMass([0.4], gain=1.0, squared=True)
    planner = make_planner(kind, model, 1, config(kind, horizon=3))
    action = planner.plan(start(1))
    assert abs(float(action) - 0.4) < 0.05, action
    assert torch.allclose(planner.last_plan[1:], torch.zeros(2, 1), atol=0.1)


# ------------------------------------------------------------------- bounds


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("explore", [False, True])
def test_asymmetric_bounds_hold_for_every_evaluated_action(kind: str, explore: bool) -> None:
    torch.manual_seed(0)
    low, high = torch.tensor([-0.2, 0.5]), torch.tensor([0.3, 1.5])
    model = PointMass([-3.0, -3.0])  # optimum: both dims at their lower bound
    policy = lambda z: torch.full((z.shape[0], 2), 9.0)  # noqa: E731 - out of bounds on purpose
    planner = make_planner(
        kind, model, 2, config(kind), action_low=low, action_high=high, policy_prior=policy
    )
    wild = torch.tensor([[[-5.0, 5.0]] * 5, [[5.0, -5.0]] * 5])  # candidates out of bounds too
    action = planner.plan(start(2), candidates=wild, explore=explore)
    evaluated = torch.cat(model.seen_actions)
    assert bool(((evaluated >= low) & (evaluated <= high)).all())
    assert bool(((action >= low) & (action <= high)).all())
    if not explore:
        assert torch.allclose(action, low, atol=0.05), action


def test_cold_start_is_centred_on_the_bounds_midpoint() -> None:
    model = PointMass([0.0, 0.0])
    cfg = config("cem", init_std=0.01, min_std=0.01, iterations=1)
    planner = CEMPlanner(model, 2, cfg, action_low=[0.5, -3.0], action_high=[1.5, -1.0])
    planner.plan(start(2))
    assert torch.allclose(model.seen_actions[0].mean(0), torch.tensor([1.0, -2.0]), atol=0.01)


def test_scalar_and_per_dim_bounds_broadcast() -> None:
    planner = CEMPlanner(PointMass([0.0, 0.0]), 2, config("cem"), action_low=0.0, action_high=[1.0, 2.0])
    assert planner.action_low.tolist() == [0.0, 0.0]
    assert planner.action_high.tolist() == [1.0, 2.0]


# --------------------------------------------------------------- warm start


@pytest.mark.parametrize("kind", KINDS)
def test_warm_start_is_shifted_plan_and_seeds_next_call(kind: str) -> None:
    torch.manual_seed(0)
    model = PointMass([2.0, -1.0])
    planner = make_planner(kind, model, 2, config(kind))
    planner.plan(start(2))
    plan = planner.last_plan
    expected = torch.cat([plan[1:], plan[-1:]])
    assert torch.equal(planner.warm_start, expected)

    # With a tiny std, every sample of the next call sits on the warm start.
    narrow = replace(planner.config, init_std=0.01, min_std=0.01, iterations=1)
    planner.config = narrow
    model.seen_actions.clear()
    planner.plan(start(2))
    first_batch = model.seen_actions[0]  # (N, A) actions of step 0
    assert torch.allclose(first_batch.mean(0), expected[0].clamp(-1, 1), atol=0.02)

    planner.reset()
    assert planner.warm_start is None and planner.last_plan is None
    model.seen_actions.clear()
    planner.plan(start(2))
    assert torch.allclose(model.seen_actions[0].mean(0), torch.zeros(2), atol=0.02)


@pytest.mark.parametrize("kind", KINDS)
def test_warm_start_beats_cold_start_on_a_tiny_budget(kind: str) -> None:
    model = PointMass(INTERIOR_GOAL)
    # Same narrow budget for both: only the centre of the samples differs.
    tiny = config(kind, num_samples=16, num_elites=4, iterations=1, init_std=0.3)
    gaps = []
    for seed in range(5):
        torch.manual_seed(seed)
        warm = make_planner(kind, model, 2, config(kind))
        warm.plan(start(2))  # a good plan from a full budget...
        warm.config = tiny  # ...then replan on a tiny budget from its shifted plan
        cold = make_planner(kind, model, 2, tiny)
        obs = torch.tensor([[0.1, -0.1]])  # state after the optimal first step
        warm.plan(obs)
        cold.plan(obs)
        gaps.append(warm.last_stats["best_return"] - cold.last_stats["best_return"])
    assert min(gaps) > 0.0, gaps


# --------------------------------------------------------------- candidates


@pytest.mark.parametrize("kind", KINDS)
def test_optimal_candidate_found_and_chosen_on_tiny_budget(kind: str) -> None:
    model = PointMass(INTERIOR_GOAL)
    optimum = true_return(model, INTERIOR_PLAN)
    tiny = config(kind, num_samples=8, num_elites=1, iterations=1)
    for seed in range(5):
        torch.manual_seed(seed)
        planner = make_planner(kind, model, 2, tiny)
        action = planner.plan(start(2), candidates=INTERIOR_PLAN.unsqueeze(0))
        assert torch.allclose(action, INTERIOR_PLAN[0]), action
        assert planner.last_stats["candidate_is_best"] == 1.0
        assert planner.last_stats["candidate_chosen"] == 1.0
        assert math.isclose(planner.last_stats["best_return"], optimum, rel_tol=1e-5)

        torch.manual_seed(seed)
        planner = make_planner(kind, model, 2, tiny)
        planner.plan(start(2))
        assert planner.last_stats["best_return"] < optimum - 1e-3
        assert planner.last_stats["candidate_in_elites"] == 0.0


def test_candidate_elite_stats_with_mppi_weights() -> None:
    torch.manual_seed(0)
    model = PointMass(INTERIOR_GOAL)
    cfg = config("mppi", num_samples=8, num_elites=4, iterations=1, temperature=1e-3)
    planner = MPPIPlanner(model, 2, cfg)
    bad = -INTERIOR_PLAN  # away from the goal: never an elite next to the optimum
    action = planner.plan(start(2), candidates=torch.stack([bad, INTERIOR_PLAN]))
    assert planner.last_stats["candidate_in_elites"] == 1.0
    assert planner.last_stats["candidate_weight"] > 0.99
    assert torch.allclose(action, INTERIOR_PLAN[0], atol=0.02)


def test_single_candidate_may_be_given_as_a_plan_or_nested_lists() -> None:
    model = PointMass(INTERIOR_GOAL)
    tiny = config("cem", num_samples=8, num_elites=1, iterations=1)
    for plan in (INTERIOR_PLAN, INTERIOR_PLAN.tolist()):
        torch.manual_seed(0)
        planner = CEMPlanner(model, 2, tiny)
        action = planner.plan(start(2), candidates=plan)  # type: ignore[arg-type]
        assert planner.last_stats["num_candidates"] == 1.0
        assert torch.allclose(action, INTERIOR_PLAN[0])


def test_bad_candidate_shape_is_rejected() -> None:
    planner = CEMPlanner(PointMass([0.0, 0.0]), 2, config("cem"))
    with pytest.raises(ValueError, match="candidates"):
        planner.plan(start(2), candidates=torch.zeros(1, 4, 2))
    with pytest.raises(ValueError, match="candidates"):
        planner.plan(start(2), candidates=torch.full((1, 5, 2), float("nan")))


# ------------------------------------------------------ value and policy prior


@pytest.mark.parametrize("kind", KINDS)
def test_terminal_value_reveals_goal_beyond_horizon(kind: str) -> None:
    # Zero reward everywhere; only V(z_H) = -|z_H - 5| says "go right".
    class Flat(PointMass):
        def next_latent_and_reward(self, z, a):  # type: ignore[override]
            z_next, _ = super().next_latent_and_reward(z, a)
            return z_next, torch.zeros(z.shape[0])

    value = lambda z: -(z[:, 0] - 5.0).abs()  # noqa: E731
    torch.manual_seed(0)
    with_value = make_planner(kind, Flat([0.0]), 1, config(kind), terminal_value=value)
    assert float(with_value.plan(start(1))) > 0.9
    torch.manual_seed(0)
    without = make_planner(kind, Flat([0.0]), 1, config(kind))
    without.plan(start(1))
    assert without.last_stats["best_return"] == 0.0  # no signal at all without it


def test_terminal_value_is_discounted_by_gamma_to_the_horizon() -> None:
    class Still(PointMass):
        def next_latent_and_reward(self, z, a):  # type: ignore[override]
            return z, torch.zeros(z.shape[0])

    cfg = config("cem", horizon=4, discount=0.9)
    planner = CEMPlanner(Still([0.0]), 1, cfg, terminal_value=lambda z: torch.ones(z.shape[0]))
    planner.plan(start(1))
    assert math.isclose(planner.last_stats["best_return"], 0.9**4, rel_tol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_optimal_policy_prior_is_chosen(kind: str) -> None:
    model = PointMass(INTERIOR_GOAL)
    optimum = true_return(model, INTERIOR_PLAN)
    tiny = config(kind, num_samples=8, num_elites=1, iterations=1, num_policy_samples=2)
    torch.manual_seed(0)
    planner = make_planner(kind, model, 2, tiny, policy_prior=greedy_policy)
    action = planner.plan(start(2))
    assert torch.allclose(action, INTERIOR_PLAN[0])
    assert torch.allclose(planner.last_plan, INTERIOR_PLAN, atol=1e-6)
    assert planner.last_stats["policy_in_elites"] == 1.0
    assert math.isclose(planner.last_stats["best_return"], optimum, rel_tol=1e-5)

    torch.manual_seed(0)
    no_prior = make_planner(kind, model, 2, tiny)
    no_prior.plan(start(2))
    assert no_prior.last_stats["best_return"] < optimum - 1e-3


# ------------------------------------------------------- mechanics and rules


@pytest.mark.parametrize("kind", KINDS)
def test_rollouts_are_batched_and_gradient_free(kind: str) -> None:
    model = PointMass([1.0, 1.0])
    cfg = config(kind, horizon=4, iterations=3, num_policy_samples=5)
    planner = make_planner(kind, model, 2, cfg, policy_prior=greedy_policy)
    planner.plan(start(2), candidates=torch.zeros(3, 4, 2))
    # One model call per step: the policy rollout, then the sampled batch per iteration.
    assert model.calls == cfg.horizon * (1 + cfg.iterations)
    sizes = [a.shape[0] for a in model.seen_actions]
    assert sizes[: cfg.horizon] == [5] * cfg.horizon
    assert sizes[cfg.horizon : 2 * cfg.horizon] == [3 + 256] * cfg.horizon  # candidates join iteration 0
    assert sizes[-1] == 256
    assert model.grad_enabled == {False}


def test_mppi_with_huge_temperature_matches_cem() -> None:
    model = PointMass([2.0, -1.0])
    torch.manual_seed(3)
    cem = CEMPlanner(model, 2, config("cem")).plan(start(2))
    torch.manual_seed(3)
    mppi = MPPIPlanner(model, 2, config("mppi", temperature=1e9)).plan(start(2))
    assert torch.allclose(cem, mppi, atol=1e-4)


def test_mppi_low_temperature_differs_from_cem() -> None:
    model = PointMass(INTERIOR_GOAL)
    cfg = dict(num_samples=32, num_elites=16, iterations=1)
    torch.manual_seed(3)
    cem = CEMPlanner(model, 2, config("cem", **cfg)).plan(start(2))
    torch.manual_seed(3)
    mppi = MPPIPlanner(model, 2, config("mppi", temperature=1e-4, **cfg))
    action = mppi.plan(start(2))
    assert not torch.allclose(cem, action, atol=1e-3)
    assert mppi.last_stats["std_mean"] == pytest.approx(0.05)  # weight on one elite -> std at min


def test_explore_mode_is_stochastic() -> None:
    planner = CEMPlanner(PointMass([0.0, 0.0]), 2, config("cem", iterations=1))
    actions = {tuple(planner.plan(start(2), explore=True).tolist()) for _ in range(4)}
    assert len(actions) > 1


class LinearPointMass:
    """The far-goal point mass written with an nn.Linear, so bf16 autocast really applies."""

    def __init__(self) -> None:
        self.step = nn.Linear(4, 2, bias=False)
        with torch.no_grad():
            self.step.weight.copy_(torch.cat([torch.eye(2), 0.1 * torch.eye(2)], dim=1))
        self.goal = torch.tensor([2.0, -1.0])
        self.dtypes: set[torch.dtype] = set()

    def initial_latent(self, obs: torch.Tensor) -> torch.Tensor:
        return obs

    def next_latent_and_reward(self, z: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z_next = self.step(torch.cat([z, a.to(z.dtype)], -1))
        self.dtypes.add(z_next.dtype)
        return z_next, -(z_next.float() - self.goal).norm(dim=-1)


@pytest.mark.parametrize("kind", KINDS)
def test_bf16_autocast_plans_like_fp32(kind: str) -> None:
    model = LinearPointMass()
    torch.manual_seed(0)
    planner = make_planner(kind, model, 2, config(kind, dtype_autocast=True))
    action = planner.plan(start(2))
    assert model.dtypes == {torch.bfloat16}  # autocast was active in the model
    assert action.dtype == torch.float32 and action.shape == (2,)
    assert torch.allclose(action, torch.tensor([1.0, -1.0]), atol=0.1), action


def test_compiled_planner_plans_like_eager() -> None:
    """compile=True runs the model step through torch.compile and reaches the same plan."""
    model = LinearPointMass()
    plans = {}
    for compiled in (False, True):
        torch.manual_seed(0)
        planner = make_planner("mppi", model, 2, config("mppi", compile=compiled, horizon=3, iterations=3))
        plans[compiled] = planner.plan(start(2))
        assert (planner._step == model.next_latent_and_reward) is not compiled
    torch.testing.assert_close(plans[True], plans[False], atol=1e-4, rtol=0)
    assert torch.allclose(plans[True], torch.tensor([1.0, -1.0]), atol=0.1)


def test_sampling_planner_rejects_non_models() -> None:
    with pytest.raises(TypeError):
        SamplingPlanner(object(), 2, config("cem"), lambda r: r)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="weighting"):  # the base class has no elite rule of its own
        SamplingPlanner(PointMass([0.0]), 1, config("cem"))


# ------------------------------------------------------------- validation


BAD_FIELDS = [
    ("horizon", 0),
    ("horizon", True),
    ("horizon", 2.5),
    ("num_samples", 0),
    ("num_elites", 0),
    ("num_elites", 600),  # > num_samples
    ("iterations", 0),
    ("init_std", 0.0),
    ("init_std", float("nan")),
    ("min_std", -0.1),
    ("min_std", 3.0),  # > init_std
    ("discount", 0.0),
    ("discount", 1.5),
    ("num_policy_samples", -1),
    ("momentum", 1.0),
    ("dtype_autocast", "yes"),
]


@pytest.mark.parametrize("cls", [CEMConfig, MPPIConfig])
@pytest.mark.parametrize("field,value", BAD_FIELDS)
def test_config_errors_are_one_line_and_name_field_and_value(cls: type, field: str, value: object) -> None:
    with pytest.raises(ValueError) as info:
        cls(**{field: value})
    message = str(info.value)
    assert "\n" not in message
    assert field in message and repr(value) in message and "accepted" in message


@pytest.mark.parametrize("value", [0.0, -1.0, float("inf")])
def test_mppi_temperature_must_be_positive(value: float) -> None:
    with pytest.raises(ValueError, match=r"temperature=.*accepted") as info:
        MPPIConfig(temperature=value)
    assert "\n" not in str(info.value)


def test_defaults_are_valid() -> None:
    cem, mppi = CEMConfig(), MPPIConfig()
    assert (cem.horizon, cem.num_samples, cem.num_elites, cem.iterations) == (5, 512, 64, 6)
    assert (cem.init_std, cem.min_std, cem.discount, cem.num_policy_samples) == (2.0, 0.05, 0.99, 24)
    assert mppi.temperature == 0.5 and cem.dtype_autocast is True


def test_make_planner_names() -> None:
    model = PointMass([0.0])
    assert isinstance(make_planner("cem", model, 1), CEMPlanner)
    assert isinstance(make_planner("MPPI", model, 1), MPPIPlanner)
    with pytest.raises(ValueError) as info:
        make_planner("ilqr", model, 1)
    assert "\n" not in str(info.value) and "'cem'" in str(info.value) and "'mppi'" in str(info.value)


def test_wrong_config_type_and_bad_bounds_are_rejected() -> None:
    model = PointMass([0.0])
    with pytest.raises(TypeError):
        CEMPlanner(model, 1, MPPIConfig())
    with pytest.raises(ValueError, match="low < high"):
        CEMPlanner(model, 1, action_low=1.0, action_high=1.0)
    with pytest.raises(ValueError, match="action_low"):
        CEMPlanner(model, 2, action_low=[0.0, 0.0, 0.0])


@pytest.mark.parametrize("kind", KINDS)
def test_initial_mean_centres_the_first_samples_on_a_given_plan(kind: str) -> None:
    model = PointMass(INTERIOR_GOAL)
    optimum = true_return(model, INTERIOR_PLAN)
    narrow = config(kind, num_samples=16, num_elites=4, iterations=1, init_std=0.05)
    seeded, unseeded = [], []
    for seed in range(5):
        torch.manual_seed(seed)
        planner = make_planner(kind, model, 2, narrow)
        planner.plan(start(2), initial_mean=INTERIOR_PLAN + 5.0)  # clipped to the bounds, so a corner plan
        assert all(a.abs().max() <= 1.0 for a in model.seen_actions[-5:])
        torch.manual_seed(seed)
        planner = make_planner(kind, model, 2, narrow)
        planner.plan(start(2), initial_mean=INTERIOR_PLAN)
        seeded.append(planner.last_stats["best_return"])
        torch.manual_seed(seed)
        planner = make_planner(kind, model, 2, narrow)
        planner.plan(start(2))
        unseeded.append(planner.last_stats["best_return"])
    assert min(seeded) > max(unseeded)
    assert min(seeded) > optimum - 0.05
    with pytest.raises(ValueError, match="initial_mean has shape"):
        make_planner(kind, model, 2, narrow).plan(start(2), initial_mean=torch.zeros(3, 2))


class TwoGoals:
    """``z' = z + a`` in 1-D with two equally good goals, at +0.8 and -0.8: the elites split between them."""

    def initial_latent(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.float()

    def next_latent_and_reward(self, z: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z_next = z + a
        return z_next, -torch.minimum((z_next - 0.8).abs(), (z_next + 0.8).abs()).squeeze(-1)


@pytest.mark.parametrize("kind", KINDS)
def test_pick_elite_acts_on_one_elite_where_the_mean_falls_between_two_goals(kind: str) -> None:
    # One iteration, near-uniform weights: the elites sit round both goals, so their mean is near 0,
    # which reaches neither; pick_elite acts on one elite (TD-MPC2's eval rule), so near one goal.
    options = dict(horizon=1, num_samples=512, num_elites=64, iterations=1, init_std=1.0)
    if kind == "mppi":
        options["temperature"] = 100.0
    torch.manual_seed(0)
    mean_planner = make_planner(kind, TwoGoals(), 1, config(kind, **options))
    elite_planner = make_planner(kind, TwoGoals(), 1, config(kind, pick_elite=True, **options))
    mean_actions, elite_actions = [], []
    for _ in range(12):
        mean_planner.reset()
        elite_planner.reset()
        mean_actions.append(float(mean_planner.plan(start(1))))
        elite_actions.append(float(elite_planner.plan(start(1))))
    assert max(abs(a) for a in mean_actions) < 0.4, mean_actions
    assert all(abs(abs(a) - 0.8) < 0.15 for a in elite_actions), elite_actions
    assert min(elite_actions) < 0 < max(elite_actions), elite_actions  # drawn by weight: either goal
    # the warm start stays the elites' mean, as in TD-MPC2
    assert abs(float(elite_planner.last_plan[0])) < 0.4
