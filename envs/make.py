"""The single entry point that builds any supported environment."""

import math
from numbers import Integral

import gymnasium as gym

from .custom import CustomEnvError, make_custom
from .fused import FusedObservation
from .registry import EnvSpec, resolve_env_name
from .safety import CallableCost, SafetyConfig, SafetyCost, load_cost_function, mujoco_handles
from .stability import PhysicsGuard
from .wrappers import ActionRepeat, Described, PixelObservation

OBS_MODES = ("state", "pixels", "both", "fused")


def make_env(name: str, *, obs: str = "state", action_repeat: int | None = None,
             image_size: int = 64, seed: int | None = None,
             safety: SafetyConfig | None = None) -> gym.Env:
    """Build the env called ``name`` (canonical name or alias, see `list_env_names`).

    Args:
        name: e.g. ``"reacher-easy"``, ``"cheetah"``, ``"Hopper-v5"``, or any Gymnasium env:
            ``"my_pkg.envs:MyRobot-v0"`` (the module is imported first) or a registered id.
        obs: ``"state"`` (float32 vector), ``"pixels"`` (HxWx3 uint8 frame, state
            in ``info["state"]``), ``"both"`` (dict with ``"state"`` and ``"pixels"``) or
            ``"fused"`` (both in one uint8 row, see `envs.fused`; state also in ``info``).
        action_repeat: env steps per agent decision; ``None`` uses the suite
            default (2 for dm_control, 1 for Gymnasium).
        image_size: side of the square rendered frames.
        seed: seeds the env (through one reset) and action sampling, so a run is
            reproducible; later ``reset()`` calls without a seed continue from it.
        safety: limits of the safety cost every built-in env reports in ``info["cost"]``
            (see `envs.safety`); ``None`` uses the family's defaults. A custom env reports a
            cost only from ``safety.cost_function`` or from explicit ``safety.limits`` (MuJoCo envs).

    Returns:
        A `gymnasium.Env` with actions in [-1, 1]. Its outermost layer has the
        attributes ``env_name``, ``action_repeat``, ``max_episode_steps`` (in
        agent decisions) and ``obs_field_names`` (one per state element).

    Raises:
        UnknownEnvError: for an unknown name.
        CustomEnvError: for a custom env the agent cannot use (discrete or unbounded actions,
            no time limit, ...), or a safety cost function that cannot be imported.
        ValueError: for a bad ``obs``, ``action_repeat`` or ``image_size``.
    """
    if obs not in OBS_MODES:
        raise ValueError(f"obs must be one of {', '.join(map(repr, OBS_MODES))}; got {obs!r}")
    spec = resolve_env_name(name)
    repeat = spec.action_repeat if action_repeat is None else action_repeat
    _check_positive_int("action_repeat", repeat)
    _check_positive_int("image_size", image_size)

    env, inner_steps, field_names = _make_base(spec, image_size, pixels=obs != "state")
    env = PhysicsGuard(env)  # a diverged simulation ends the episode, not the run
    env = _with_safety_cost(env, spec, safety or SafetyConfig())  # under the repeat: every control step is checked
    if repeat > 1:
        env = ActionRepeat(env, repeat)
    if obs != "state":
        env = PixelObservation(env, image_size, mode="both" if obs == "fused" else obs)
    if obs == "fused":
        env = FusedObservation(env)
    env = Described(env, env_name=spec.name, action_repeat=repeat,
                    max_episode_steps=math.ceil(inner_steps / repeat),
                    obs_field_names=field_names)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


def _make_base(spec: EnvSpec, image_size: int, pixels: bool) -> tuple[gym.Env, int, list[str]]:
    """The suite's env, its episode length in env steps, and its state field names."""
    if spec.suite == "custom":
        return make_custom(spec.name, image_size=image_size, pixels=pixels)
    if spec.suite == "dmc":
        from .dmc import DMCEnv

        env = DMCEnv(spec.domain, spec.task, image_size=image_size)
        return env, env.max_episode_steps, env.obs_field_names
    from .gym_mujoco import gym_obs_field_names, gym_step_limit, make_gym_mujoco

    env = make_gym_mujoco(spec.task, image_size=image_size)
    return env, gym_step_limit(env), gym_obs_field_names(env)


def _with_safety_cost(env: gym.Env, spec: EnvSpec, safety: SafetyConfig) -> gym.Env:
    """The user's cost function if given; else the family's constraints (custom envs: only explicit limits)."""
    if safety.cost_function:
        return CallableCost(env, load_cost_function(safety.cost_function), terminate=safety.terminate)
    if spec.suite != "custom":
        return SafetyCost(env, spec.domain, safety)
    if not safety.limits:
        return env  # no constraints are known for a user's env: no cost unless asked for
    try:
        mujoco_handles(env)
    except AttributeError:
        env.close()
        raise CustomEnvError(f"--env {spec.name!r}: --safety-limits reads MuJoCo joints and contacts, and this "
                             "env is not built on MuJoCo; expected --safety-cost module:function") from None
    return SafetyCost(env, None, safety)


def _check_positive_int(what: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{what} must be an integer >= 1; got {value!r}")
