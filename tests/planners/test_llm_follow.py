"""Acting on LLM plans while training (planners/llm/follow.py): which plan, how often, and the reward check."""

from __future__ import annotations

import numpy as np
import pytest

from planners.llm import FollowConfig, PlanFollower


def candidates(k: int = 3, h: int = 4) -> np.ndarray:
    """(K, H, 1) plans whose actions name their plan and step: plan i, step t -> 10 i + t."""
    return (10.0 * np.arange(k)[:, None, None] + np.arange(h)[None, :, None]).astype(np.float32)


def test_follows_the_best_feasible_plan_until_the_answer_runs_out() -> None:
    follower, rng = PlanFollower(FollowConfig(share=1.0)), np.random.default_rng(0)
    follower.choose(np.array([1.0, 5.0, 3.0]), np.array([True, False, True]), rng)  # the best one is over budget
    assert follower.index == 2 and follower.action(candidates())[0] == 20.0
    assert follower.action(candidates()[:, 1:])[0] == 21.0  # the next step's window of the same answer
    assert follower.action(None) is None and follower.index is None  # answer dropped: back to own plans
    follower.choose(np.array([1.0, np.nan, 3.0]), None, rng)
    assert follower.index == 2  # a plan the model cannot score is never the best
    follower.choose(np.array([1.0, 2.0]), np.array([False, False]), rng)
    assert follower.index is None and follower.action(candidates()) is None  # none fits the budget
    assert follower.stats["follow_segments"] == 2 and follower.stats["follow_answers"] == 3


def test_follows_about_the_share_of_answers_and_never_at_share_zero() -> None:
    rng = np.random.default_rng(1)
    follower = PlanFollower(FollowConfig(share=0.3))
    for _ in range(2000):
        follower.choose(np.zeros(2), None, rng)
    assert 0.26 < follower.segments / follower.answers < 0.34
    never = PlanFollower(FollowConfig(share=0.0))
    for _ in range(100):
        never.choose(np.zeros(2), None, rng)
    assert never.segments == 0


def test_rewards_count_for_the_side_that_chose_the_action() -> None:
    follower = PlanFollower(FollowConfig(share=1.0))
    follower.choose(np.zeros(3), None, np.random.default_rng(0))
    follower.action(candidates())
    follower.record(1.0)
    follower.reset()  # an episode ends: the next action is the agent's own
    follower.action(candidates())
    follower.record(0.25)
    assert follower.stats["follow_reward_mean"] == 1.0 and follower.stats["own_reward_mean"] == 0.25
    assert follower.stats["follow_steps"] == 1


def _steps(follower: PlanFollower, side: str, reward: float, n: int) -> None:
    for _ in range(n):
        follower.index = 0 if side == "followed" else None
        follower.action(candidates())
        follower.record(reward)


def test_a_proposer_that_earns_less_is_cut_to_the_floor_and_wins_its_share_back() -> None:
    follower = PlanFollower(FollowConfig(share=0.5, floor=0.1, min_steps=10, window=20))
    _steps(follower, "own", 0.5, 10)
    _steps(follower, "followed", 0.0, 9)
    assert follower.share_now == 0.5  # too few followed steps to judge yet
    _steps(follower, "followed", 0.0, 1)
    assert follower.share_now == pytest.approx(0.05)
    _steps(follower, "followed", 1.0, 30)  # the proposer's plans became the better ones
    assert follower.share_now == 0.5


def test_the_reward_check_survives_a_checkpoint() -> None:
    follower = PlanFollower(FollowConfig(share=0.5, min_steps=1))
    _steps(follower, "own", 1.0, 3)
    _steps(follower, "followed", 0.0, 2)
    restored = PlanFollower(FollowConfig(share=0.5, min_steps=1))
    restored.load_state_dict(follower.state_dict())
    assert restored.stats == follower.stats and restored.share_now == pytest.approx(0.05)


@pytest.mark.parametrize("field,value", [("share", 1.5), ("floor", -0.1), ("min_steps", 0), ("window", 0),
                                         ("noise_z", -1.0)])
def test_bad_settings_are_one_line_errors(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{field}={value}"):
        FollowConfig(**{field: value})


def test_evaluation_follows_every_answer_of_a_proven_proposer_and_draws_nothing() -> None:
    follower = PlanFollower(FollowConfig(share=0.3, min_steps=10))
    _steps(follower, "own", 0.2, 10)
    _steps(follower, "followed", 0.5, 9)
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    follower.choose(np.array([0.0, 1.0]), None, rng, evaluating=True)
    assert not follower.proven and follower.index is None  # too few followed steps to have proven anything
    _steps(follower, "followed", 0.5, 1)
    for _ in range(20):
        follower.choose(np.array([0.0, 1.0]), None, rng, evaluating=True)
        assert follower.proven and follower.index == 1
    assert rng.bit_generator.state == before and follower.answers == 0 and follower.segments == 0
    _steps(follower, "own", 5.0, 10)  # the agent's own plans now earn more: evaluation plans alone
    follower.choose(np.array([0.0, 1.0]), None, rng, evaluating=True)
    assert not follower.proven and follower.index is None


def test_a_proposer_whose_plans_earned_less_is_disproven_only_after_enough_steps() -> None:
    follower = PlanFollower(FollowConfig(min_steps=10))
    _steps(follower, "own", 0.2, 10)
    _steps(follower, "followed", 0.0, 9)
    assert not follower.disproven and not follower.proven
    _steps(follower, "followed", 0.0, 1)
    assert follower.disproven and not follower.proven and follower.stats["follow_disproven"] == 1.0


def _stretches(follower: PlanFollower, side: str, rewards: np.ndarray, length: int) -> None:
    """Stretches of ``length`` steps on one side, each on its own answer, each earning one of ``rewards``."""
    for reward in rewards:
        follower.choose(np.zeros(1), None, np.random.default_rng(0), evaluating=True)  # a new answer
        _steps(follower, side, float(reward), length)


def test_a_margin_within_the_noise_proves_nothing() -> None:
    """The case that once proved a lying proposer: 0.045 against 0.032 reward per step, ~350 followed steps of
    a 0/1 reward in stretches of 10, stays undecided: evaluation plans alone."""
    rng = np.random.default_rng(3)
    follower = PlanFollower(FollowConfig(min_steps=100))
    _stretches(follower, "own", (rng.random(165) < 0.032).astype(float), 10)
    _stretches(follower, "followed", (rng.random(35) < 0.045).astype(float), 10)
    stats = follower.stats
    assert stats["follow_reward_mean"] > stats["own_reward_mean"]  # followed earned more, by chance
    assert stats["follow_reward_mean"] - stats["own_reward_mean"] < stats["follow_noise"]
    assert not follower.proven and not follower.disproven
    follower.choose(np.array([0.0, 1.0]), None, rng, evaluating=True)
    assert follower.index is None  # evaluation plans alone


def test_a_clear_margin_proves_the_proposer_and_counts_stretches_not_steps() -> None:
    rng = np.random.default_rng(4)
    follower = PlanFollower(FollowConfig(min_steps=100))
    _stretches(follower, "own", (rng.random(165) < 0.05).astype(float), 10)
    _stretches(follower, "followed", (rng.random(35) < 0.6).astype(float), 10)
    assert follower.proven
    # Rewards like those but in one long stretch per side: one sample each, however many steps: not proven.
    lumped = PlanFollower(FollowConfig(min_steps=100))
    _steps(lumped, "own", 0.0, 1650)
    _steps(lumped, "own", 1.0, 100)
    _steps(lumped, "followed", 1.0, 210)
    _steps(lumped, "followed", 0.0, 140)
    assert lumped.stats["follow_reward_mean"] - lumped.stats["own_reward_mean"] > 0.5 and not lumped.proven


def test_a_checkpoint_keeps_the_noise_test_and_an_old_one_proves_nothing() -> None:
    rng = np.random.default_rng(5)
    follower = PlanFollower(FollowConfig(min_steps=100))
    _stretches(follower, "own", (rng.random(165) < 0.05).astype(float), 10)
    _stretches(follower, "followed", (rng.random(35) < 0.6).astype(float), 10)
    restored = PlanFollower(FollowConfig(min_steps=100))
    restored.load_state_dict(follower.state_dict())
    assert restored.proven and restored.stats == follower.stats
    old = {side: state[:2] for side, state in follower.state_dict().items() if side in ("followed", "own")}
    legacy = PlanFollower(FollowConfig(min_steps=100))
    legacy.load_state_dict(follower.state_dict() | old)  # (steps, mean) only: saved before variances were kept
    assert not legacy.proven and not legacy.disproven and legacy.stats["follow_reward_mean"] == follower.followed.mean
    _stretches(legacy, "followed", np.ones(50), 10)
    assert not legacy.proven  # the spread stays unknown: no noise test can pass
