"""A diverged simulation ends the episode cleanly (truncated, flagged), and the next reset works."""

import logging

import numpy as np
import pytest

from envs import make_env
from envs.stability import mj_data


@pytest.mark.parametrize("name", ["reacher-easy", "Reacher-v5"])
@pytest.mark.parametrize("bad", [np.nan, 1e30])
def test_nan_or_huge_physics_state_truncates_the_episode_and_reset_recovers(name, bad, caplog):
    env = make_env(name, seed=0)
    try:
        obs, _ = env.reset(seed=1)
        obs, *_ = env.step(np.zeros(env.action_space.shape, np.float32))
        mj_data(env).qvel[:] = bad  # what a blow-up looks like from the inside
        with caplog.at_level(logging.WARNING, logger="envs.stability"):
            next_obs, reward, terminated, truncated, info = env.step(np.zeros(env.action_space.shape, np.float32))
        assert info.get("physics_unstable") is True and truncated and not terminated, info
        assert np.all(np.isfinite(next_obs)) and np.isfinite(reward)
        assert any("physics unstable" in r.getMessage() for r in caplog.records)
        reason = info["physics_unstable_reason"]
        assert ("PhysicsError" in reason) if name == "reacher-easy" else ("mjWARN_BADQ" in reason), reason

        obs, _ = env.reset(seed=2)  # a normal episode follows
        for _ in range(5):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert "physics_unstable" not in info and not truncated and np.all(np.isfinite(obs))
    finally:
        env.close()


def test_a_healthy_episode_is_untouched():
    env = make_env("Reacher-v5", seed=0)
    env.reset(seed=3)
    for _ in range(50):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        assert "physics_unstable" not in info
    assert truncated and not terminated
    env.close()


def test_every_env_from_make_env_is_guarded():
    from envs.stability import PhysicsGuard

    for name, obs in (("reacher-easy", "state"), ("Reacher-v5", "pixels")):
        env = make_env(name, obs=obs)
        layer, guarded = env, False
        while hasattr(layer, "env"):
            guarded |= isinstance(layer, PhysicsGuard)
            layer = layer.env
        assert guarded, name
        env.close()
