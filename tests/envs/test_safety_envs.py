"""The safety cost every env reports: present, tripped by violent actions, quiet at rest."""

import numpy as np
import pytest

from envs import SafetyConfig, make_env, parse_safety_limits, resolve_env_name
from envs.safety import FAMILY_LIMITS, merge_costs

# One env per family kind: arms, manipulation, planar and legged locomotion, both suites.
FAMILIES = ["reacher-easy", "cartpole-swingup", "cheetah-run", "manipulator-bring_ball", "ball_in_cup-catch",
            "Reacher-v5", "Pusher-v5", "HalfCheetah-v5", "Hopper-v5"]


def _bang_bang(env, step: int) -> np.ndarray:
    """Full actuation, flipping sign every 8 decisions: joints spin up and slam back."""
    sign = 1.0 if (step // 8) % 2 == 0 else -1.0
    return np.full(env.action_space.shape, sign, np.float32)


def _run(env, policy, steps: int) -> list[dict]:
    env.reset(seed=0)
    infos = []
    for t in range(steps):
        _, _, terminated, truncated, info = env.step(policy(env, t))
        infos.append(info)
        if terminated or truncated:
            env.reset()
    return infos


@pytest.mark.parametrize("name", FAMILIES)
def test_cost_is_reported_tripped_by_violent_actions_and_quiet_at_rest(name: str) -> None:
    env = make_env(name)
    _, info = env.reset(seed=0)
    limits = FAMILY_LIMITS[resolve_env_name(name).domain]
    assert info["cost"] in (0.0, 1.0) and all(f"cost_{k}" in info for k in limits)
    violent = _run(env, _bang_bang, 120)
    assert max(i["cost"] for i in violent) == 1.0, "full bang-bang actuation never crossed a limit"
    at_rest = _run(env, lambda e, t: np.zeros(e.action_space.shape, np.float32), 120)
    assert all(i["cost"] == 0.0 for i in at_rest)
    # The flag agrees with the raw quantities behind it.
    for i in violent:
        over = i["cost_joint_speed"] > limits["joint_speed"] or (
            "upright" in limits and i["cost_upright"] < limits["upright"])
        assert i["cost"] == float(over)
    env.close()


def test_episode_goes_on_after_a_violation_unless_asked() -> None:
    env = make_env("reacher-easy")
    infos = _run(env, _bang_bang, 60)
    assert sum(i["cost"] for i in infos) > 1  # several violations, same episode
    strict = make_env("reacher-easy", safety=SafetyConfig(terminate=True))
    strict.reset(seed=0)
    for t in range(200):
        _, _, terminated, truncated, info = strict.step(_bang_bang(strict, t))
        if terminated or truncated:
            break
    assert terminated and info["cost"] == 1.0 and t < 60


def test_limits_are_configurable_by_name_and_scale() -> None:
    loose = make_env("reacher-easy", safety=SafetyConfig(scale=100.0))
    assert all(i["cost"] == 0.0 for i in _run(loose, _bang_bang, 60))
    tight = make_env("reacher-easy", safety=SafetyConfig(limits={"joint_speed": 0.01}))
    assert sum(i["cost"] for i in _run(tight, _bang_bang, 20)) >= 18
    # A constraint the family does not have can be switched on.
    contact = make_env("cheetah-run", safety=SafetyConfig(limits={"contact_force": 1e9}))
    assert "cost_contact_force" in contact.reset(seed=0)[1]


@pytest.mark.parametrize("text, bad", [("joint_sped=3", "joint_sped=3"), ("joint_speed", "joint_speed"),
                                       ("joint_speed=fast", "joint_speed=fast")])
def test_bad_limits_are_one_line_errors(text: str, bad: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_safety_limits(text)
    assert "\n" not in str(err.value) and bad in str(err.value) and "accepted" in str(err.value)
    assert parse_safety_limits("joint_speed=3, upright=0.5") == {"joint_speed": 3.0, "upright": 0.5}


def test_action_repeat_keeps_the_worst_repeated_step() -> None:
    first = {"cost": 1.0, "cost_joint_speed": 9.0, "cost_upright": -0.5}
    last = {"cost": 0.0, "cost_joint_speed": 2.0, "cost_upright": 0.9, "other": 1}
    merged = merge_costs(merge_costs({}, first), last)
    assert merged == {"cost": 1.0, "cost_joint_speed": 9.0, "cost_upright": -0.5, "other": 1}
