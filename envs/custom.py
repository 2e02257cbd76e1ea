"""Any Gymnasium env by id: ``module:EnvId`` (imported first) or an id already registered.

Gymnasium's own ``make("module:Id")`` imports ``module`` (which registers the env) and
then makes ``Id``; names here are read the same way, so an env from any package, or one
a user registers in their own file, trains like a built-in one. What the agent needs of
it is checked up front, with one line that says what is wrong:

- a ``Box`` action space with finite bounds (rescaled to [-1, 1]); discrete or unbounded
  actions cannot be planned by CEM/MPPI's Gaussian sampling;
- a ``Box`` observation space (flattened to a float32 vector when it has more than one
  dimension); dict observations need the user's own flattening;
- a time limit (``max_episode_steps`` in its registration), so that episodes end;
- ``render_mode="rgb_array"`` for ``--obs pixels`` (and for videos; without it videos
  are skipped and training goes on).

Terminations and truncations pass through as the env reports them. There is no safety
cost unless the user gives one (``--safety-cost module:function``, see `envs.safety`)
or ``--safety-limits`` on an env built on MuJoCo.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import warnings

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import DtypeObservation, FlattenObservation, RescaleAction


class CustomEnvError(ValueError):
    """A custom env that cannot be used, or cannot be found; the message is one line."""


def is_custom_name(name: str) -> bool:
    """``module:EnvId`` names the module that registers the env."""
    return ":" in name


def check_registered(name: str) -> str:
    """Import the module of ``module:EnvId`` if there is one; return the registered id.

    Raises:
        CustomEnvError: the module cannot be imported, or the id is not registered.
    """
    module, _, env_id = name.rpartition(":")
    if module:
        if not env_id:
            raise CustomEnvError(f"--env {name!r}: no env id after ':'; expected module:EnvId, e.g. "
                                 "my_package.envs:MyRobot-v0")
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any error in the user's module: report it in one line
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            raise CustomEnvError(f"--env {name!r}: cannot import module {module!r} ({reason}); expected an "
                                 "importable module that registers the env (is it on PYTHONPATH?)") from None
    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3)
        hint = f"closest registered: {', '.join(close)}" if close else "no close registered id"
        raise CustomEnvError(f"--env {name!r}: {env_id!r} is not a registered Gymnasium id "
                             f"({hint}); register it with gymnasium.register(id=..., entry_point=..., "
                             "max_episode_steps=...)")
    return env_id


def make_custom(name: str, *, image_size: int, pixels: bool) -> tuple[gym.Env, int, list[str]]:
    """The env called ``name`` with [-1, 1] actions and float32 vector observations.

    Returns the env, its episode limit in env steps and a name per state element.
    """
    spec = gym.spec(check_registered(name))
    env = _make_rendering(spec, image_size)
    try:
        _check_spaces(name, env)
        limit = spec.max_episode_steps
        if limit is None:
            raise CustomEnvError(f"--env {name!r}: the env has no time limit, so episodes might never end; "
                                 "register it with max_episode_steps=N")
        if pixels and env.render_mode != "rgb_array":
            raise CustomEnvError(f"--env {name!r} with --obs pixels: the env does not render 'rgb_array' "
                                 f"frames (render modes: {env.metadata.get('render_modes', [])}); expected "
                                 "--obs state, or an env that renders rgb_array")
    except CustomEnvError:
        env.close()
        raise
    if len(env.observation_space.shape) != 1:
        env = FlattenObservation(env)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*precision lowered by casting")  # +-inf bounds lose nothing
        env = RescaleAction(env, min_action=-1.0, max_action=1.0)
        env = DtypeObservation(env, np.float32)
    env = _isolated_if_mujoco(env)
    size = int(np.prod(env.observation_space.shape))
    return env, int(limit), [f"obs[{i}]" for i in range(size)]


def _make_rendering(spec: gym.envs.registration.EnvSpec, image_size: int) -> gym.Env:
    """``gym.make`` with ``rgb_array`` rendering where the env offers it (frame size if it takes one)."""
    entry = _entry_point(spec)
    metadata = getattr(entry, "metadata", None) or {}
    if "rgb_array" not in metadata.get("render_modes", []):
        return gym.make(spec)
    kwargs = {"render_mode": "rgb_array"}
    if _accepts_size(entry):
        kwargs.update(width=image_size, height=image_size)
    return gym.make(spec, **kwargs)


def _entry_point(spec: gym.envs.registration.EnvSpec) -> object:
    """The class or function a registration names (``"module:attr"`` strings imported)."""
    entry = spec.entry_point
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
    return entry


def _accepts_size(entry: object) -> bool:
    """Whether the env's constructor takes ``width``/``height`` (Gymnasium's MujocoEnv does)."""
    try:
        params = inspect.signature(entry).parameters
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return _mujoco_based(entry)  # **kwargs forwarded to MujocoEnv take them; anything else may not
    return "width" in params and "height" in params


def _mujoco_based(entry: object) -> bool:
    from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

    return isinstance(entry, type) and issubclass(entry, MujocoEnv)


def _check_spaces(name: str, env: gym.Env) -> None:
    act, obs = env.action_space, env.observation_space
    if not isinstance(act, spaces.Box):
        raise CustomEnvError(f"--env {name!r}: action space {act} is not continuous; wm-agent plans with "
                             "CEM/MPPI over real-valued actions: expected a Box action space")
    if not (np.all(np.isfinite(act.low)) and np.all(np.isfinite(act.high))):
        raise CustomEnvError(f"--env {name!r}: action space {act} is unbounded; plans are sampled in [-1, 1] "
                             "and rescaled to the bounds: expected a Box with finite low and high")
    if not isinstance(obs, spaces.Box):
        raise CustomEnvError(f"--env {name!r}: observation space {type(obs).__name__} is not a Box; expected a "
                             "Box (flatten dict observations in the env, e.g. with "
                             "gymnasium.wrappers.FlattenObservation)")


def _isolated_if_mujoco(env: gym.Env) -> gym.Env:
    """Gymnasium MuJoCo envs render through `IsolatedRendering`, so they coexist with other renderers."""
    if getattr(env.unwrapped, "mujoco_renderer", None) is None:
        return env
    from .gym_mujoco import IsolatedRendering
    from .rendering import use_small_shadow_map

    use_small_shadow_map(env.unwrapped.model)
    return IsolatedRendering(env)
