"""Tests for envs/: names, the Gymnasium contract, repeat, seeding, rendering."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless; must precede dm_control/mujoco imports

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs import (
    EnvSpec,
    UnknownEnvError,
    format_env_list,
    list_aliases,
    list_env_names,
    make_env,
    resolve_env_name,
)
from tests.support import ROOT as REPO_ROOT

DMC_FAMILIES = ["reacher-easy", "cartpole-swingup", "cheetah-run", "walker-walk",
                "manipulator-bring_ball", "ball_in_cup-catch"]
GYM_FAMILIES = ["Reacher-v5", "Pusher-v5", "HalfCheetah-v5", "Hopper-v5"]
FAMILIES = DMC_FAMILIES + GYM_FAMILIES


def _checked(env: gym.Env) -> None:
    with warnings.catch_warnings():
        # check_env warns that wrapped envs and unbounded state spaces are unusual.
        warnings.simplefilter("ignore", UserWarning)
        check_env(env, skip_render_check=True)


def _zeros(env: gym.Env) -> np.ndarray:
    return np.zeros(env.action_space.shape, np.float32)


# --- names -----------------------------------------------------------------

@pytest.mark.parametrize(("alias", "target"), sorted(list_aliases().items()))
def test_alias_resolves_to_its_target(alias: str, target: str) -> None:
    assert resolve_env_name(alias).name == target
    assert target in list_env_names()


def test_canonical_names_resolve_case_insensitively() -> None:
    spec = resolve_env_name("Reacher-Easy")
    assert spec == EnvSpec("reacher-easy", "dmc", "reacher", "easy", 2)
    assert resolve_env_name("hopper-v5") == EnvSpec("Hopper-v5", "gym", "Hopper", "Hopper-v5", 1)
    assert all(resolve_env_name(name).name == name for name in list_env_names())


def test_unknown_name_suggests_close_names_on_one_line() -> None:
    with pytest.raises(UnknownEnvError) as info:
        resolve_env_name("reachr")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("unknown env 'reachr'; closest: reacher, ")
    assert "reacher-easy" in message and "wm-agent envs" in message
    assert isinstance(info.value, ValueError)


def test_unknown_name_without_close_match() -> None:
    with pytest.raises(UnknownEnvError, match="unknown env 'zzzzzz'; no close match"):
        make_env("zzzzzz")


def test_listing_covers_both_suites_newest_gym_versions_only() -> None:
    dmc, gym_names = list_env_names("dmc"), list_env_names("gym")
    assert list_env_names() == dmc + gym_names
    assert {"quadruped-walk", "hopper-stand", "finger-spin"} <= set(dmc)
    assert set(GYM_FAMILIES) <= set(gym_names)
    assert not any(name.endswith(("-v2", "-v3", "-v4")) for name in gym_names)
    assert "reacher-easy  (alias: reacher)" in format_env_list()


# --- the Gymnasium contract, per family --------------------------------------

@pytest.mark.parametrize("name", FAMILIES)
def test_state_env_passes_check_env_and_steps(name: str) -> None:
    env = make_env(name, seed=0)
    _checked(env)
    assert env.action_space.dtype == np.float32
    assert np.all(env.action_space.low == -1.0) and np.all(env.action_space.high == 1.0)
    obs, _ = env.reset(seed=1)
    assert obs.dtype == np.float32 and obs.shape == env.observation_space.shape
    assert len(env.obs_field_names) == obs.size
    for _ in range(3):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert obs in env.observation_space and isinstance(reward, float)
    env.close()


@pytest.mark.parametrize("name", FAMILIES)
def test_pixel_env_passes_check_env_and_keeps_state_in_info(name: str) -> None:
    env = make_env(name, obs="pixels")
    _checked(env)
    frame, info = env.reset(seed=2)
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
    assert frame.flags.c_contiguous  # torch.from_numpy rejects flipped views
    assert frame.std() > 0  # a real picture, not a blank buffer
    frame, _, _, _, info = env.step(_zeros(env))
    assert info["state"].shape == (len(env.obs_field_names),)
    env.close()


@pytest.mark.parametrize("name", ["reacher-easy", "Reacher-v5"])
def test_both_env_observes_state_and_pixels(name: str) -> None:
    env = make_env(name, obs="both", image_size=32)
    _checked(env)
    obs, _ = env.reset(seed=3)
    assert set(obs) == {"state", "pixels"}
    assert obs["pixels"].shape == (32, 32, 3) and obs["pixels"].dtype == np.uint8
    assert obs["state"].dtype == np.float32
    state_env = make_env(name)
    np.testing.assert_array_equal(obs["state"], state_env.reset(seed=3)[0])
    env.close()
    state_env.close()


# --- action repeat and episode ends ------------------------------------------

def test_dmc_episode_is_500_decisions_at_repeat_2_and_ends_truncated() -> None:
    env = make_env("reacher-easy")
    assert env.action_repeat == 2 and env.max_episode_steps == 500
    env.reset(seed=0)
    for step in range(1, 501):
        _, _, terminated, truncated, _ = env.step(_zeros(env))
        assert not terminated
        if truncated:
            break
    assert step == 500 and truncated
    env.close()


def test_action_repeat_sums_rewards_of_the_repeated_steps() -> None:
    once, twice = make_env("cartpole-swingup", action_repeat=1), make_env("cartpole-swingup")
    assert once.max_episode_steps == 1000 and twice.max_episode_steps == 500
    action = np.array([0.7], np.float32)
    once.reset(seed=5)
    twice.reset(seed=5)
    obs_a, reward_a, *_ = once.step(action)
    obs_b, reward_b, *_ = once.step(action)
    obs, reward, *_ = twice.step(action)
    np.testing.assert_array_equal(obs, obs_b)
    assert reward == pytest.approx(reward_a + reward_b)


def test_gym_time_limit_counts_decisions() -> None:
    env = make_env("Reacher-v5")
    assert env.action_repeat == 1 and env.max_episode_steps == 50
    env = make_env("Reacher-v5", action_repeat=2)
    assert env.max_episode_steps == 25
    env.reset(seed=0)
    ends = [env.step(_zeros(env))[2:4] for _ in range(25)]
    assert ends[-1] == (False, True) and not any(any(end) for end in ends[:-1])


def test_falling_hopper_terminates_without_truncation() -> None:
    env = make_env("Hopper-v5")
    env.reset(seed=0)
    action = -np.ones(env.action_space.shape, np.float32)
    for _ in range(env.max_episode_steps):
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    assert terminated is True and truncated is False


def test_finished_dmc_episode_refuses_to_step() -> None:
    env = make_env("point_mass-easy", action_repeat=50)  # 20 decisions per episode
    env.reset(seed=0)
    for _ in range(env.max_episode_steps):
        env.step(_zeros(env))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(_zeros(env))


# --- seeding ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["walker-walk", "Hopper-v5"])
def test_same_seed_same_start_different_seed_different_start(name: str) -> None:
    env = make_env(name)
    first, _ = env.reset(seed=7)
    env.step(env.action_space.sample())
    again, _ = env.reset(seed=7)
    other, _ = env.reset(seed=8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_make_env_seed_makes_runs_reproducible() -> None:
    a, b = make_env("finger-spin", seed=3), make_env("finger-spin", seed=3)
    np.testing.assert_array_equal(a.reset()[0], b.reset()[0])
    np.testing.assert_array_equal(a.action_space.sample(), b.action_space.sample())


# --- arguments and attributes ------------------------------------------------

@pytest.mark.parametrize(("kwargs", "bad"), [
    ({"obs": "rgb"}, "'rgb'"),
    ({"action_repeat": 0}, "0"),
    ({"image_size": 0}, "0"),
])
def test_bad_arguments_raise_one_line_value_error(kwargs: dict, bad: str) -> None:
    with pytest.raises(ValueError) as info:
        make_env("reacher", **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.endswith(f"got {bad}")
    assert "must be" in message


def test_attributes_reachable_through_extra_wrappers() -> None:
    env = gym.wrappers.RecordEpisodeStatistics(make_env("manipulator", obs="pixels"))
    assert env.get_wrapper_attr("env_name") == "manipulator-bring_ball"
    assert env.get_wrapper_attr("action_repeat") == 2
    assert env.get_wrapper_attr("max_episode_steps") == 500
    names = env.get_wrapper_attr("obs_field_names")
    assert names[:3] == ["arm_pos[0,0]", "arm_pos[0,1]", "arm_pos[1,0]"]
    assert make_env("Pusher-v5").obs_field_names[:2] == ["obs[0]", "obs[1]"]
    assert make_env("walker").obs_field_names[14] == "height"


# --- rendering across envs and at exit ---------------------------------------

def test_interleaved_envs_render_their_own_frames() -> None:
    names = ["cheetah-run", "HalfCheetah-v5", "Reacher-v5"]
    alone = []
    for name in names:
        env = make_env(name, obs="pixels")
        alone.append(env.reset(seed=0)[0])
        env.close()
    envs = [make_env(name, obs="pixels") for name in names]
    for _ in range(2):  # the second round renders after every other env has
        for expected, env in zip(alone, envs, strict=True):
            np.testing.assert_array_equal(env.reset(seed=0)[0], expected)
    # Freeing a renderer whose context is not current must not disturb the rest.
    for closing in (1, 0):
        envs[closing].close()
        alone.pop(closing)
        envs.pop(closing)
        for expected, env in zip(alone, envs, strict=True):
            np.testing.assert_array_equal(env.reset(seed=0)[0], expected)


def test_render_then_exit_prints_no_gl_errors() -> None:
    script = (
        "from envs import make_env\n"
        "closed = make_env('reacher-easy', obs='pixels'); closed.reset(); closed.close()\n"
        "left_open = [make_env(n, obs='pixels') for n in ('cartpole', 'Reacher-v5')]\n"
        "for env in left_open: env.reset()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Error" not in result.stderr and "Traceback" not in result.stderr, result.stderr
