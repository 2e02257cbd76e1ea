"""A Gymnasium view of one dm_control suite task."""

import math
from typing import Any

import gymnasium as gym
import numpy as np
from dm_control import suite
from gymnasium import spaces

from .rendering import FrameRenderer

# Camera 0 is each domain's standard view; quadruped's camera 0 is a distant
# global view, so it uses camera 2 ("y", a tracking side view) as DreamerV3 does.
_CAMERA_BY_DOMAIN: dict[str, int] = {"quadruped": 2}


class DMCEnv(gym.Env[np.ndarray, np.ndarray]):
    """dm_control suite task with flat float32 observations and [-1, 1] actions.

    The observation dict is flattened in the task's own key order;
    ``obs_field_names`` names each element (``position[0]``, ``arm_pos[3,1]``,
    ``height``). Episodes end by truncation at the task's time limit
    (``max_episode_steps`` control steps), or by termination where the task
    signals it with a zero discount.
    """

    def __init__(self, domain: str, task: str, *, image_size: int = 64,
                 seed: int | None = None) -> None:
        self._env = suite.load(domain, task, task_kwargs={"random": seed})
        self._physics = self._env.physics
        self._renderer: FrameRenderer | None = None  # made on first render()
        self._camera_id = _CAMERA_BY_DOMAIN.get(domain, 0)
        self._image_size = image_size
        self._closed = False
        self._steps = 0
        self._episode_over = True

        obs_spec = self._env.observation_spec()
        self._obs_keys = list(obs_spec)  # fixed flattening order
        self.obs_field_names: list[str] = _field_names(
            {key: spec.shape for key, spec in obs_spec.items()})
        self.observation_space = spaces.Box(
            -np.inf, np.inf, (len(self.obs_field_names),), np.float32)

        act_spec = self._env.action_spec()
        self._act_low = act_spec.minimum.astype(np.float64)
        self._act_high = act_spec.maximum.astype(np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, act_spec.shape, np.float32)

        self.max_episode_steps: int = _step_limit(self._env)
        self.render_mode = "rgb_array"
        self.metadata = {"render_modes": ["rgb_array"],
                         "render_fps": round(1.0 / self._env.control_timestep())}

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; a seed reseeds the task so equal seeds give equal starts."""
        super().reset(seed=seed)
        if seed is not None:
            # The task draws initial states from its own RandomState, not np_random;
            # deriving its seed from np_random accepts any seed Gymnasium does.
            self._env.task.random.seed(int(self.np_random.integers(2**32)))
        time_step = self._env.reset()
        self._steps = 0
        self._episode_over = False
        return self._flatten(time_step.observation), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Advance one control step with an action in [-1, 1] (clipped)."""
        if self._episode_over:
            # dm_control would silently start a new episode here instead.
            raise RuntimeError("step() needs reset() first: the episode is over or not started")
        unit = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        scaled = self._act_low + (unit + 1.0) * 0.5 * (self._act_high - self._act_low)
        time_step = self._env.step(scaled)
        self._steps += 1
        terminated = bool(time_step.last() and time_step.discount == 0.0)
        truncated = not terminated and (time_step.last() or self._steps >= self.max_episode_steps)
        self._episode_over = terminated or truncated
        reward = float(time_step.reward or 0.0)
        return self._flatten(time_step.observation), reward, terminated, bool(truncated), {}

    @property
    def physics_data(self) -> Any:
        """The raw ``mujoco.MjData`` (for checks such as `envs.stability.PhysicsGuard`)."""
        return self._physics.data.ptr

    def render(self) -> np.ndarray:
        """RGB uint8 frame of shape (image_size, image_size, 3) from the fixed camera."""
        if self._renderer is None:
            # Our renderer rather than physics.render(): see FrameRenderer.
            self._renderer = FrameRenderer(self._physics.model.ptr, self._image_size,
                                           self._camera_id)
        return self._renderer.render(self._physics.data.ptr)

    def close(self) -> None:
        """Free the renderer and the physics (safe to call twice)."""
        if self._closed:
            return
        self._closed = True
        if self._renderer is not None:
            self._renderer.close()
        self._physics.free()

    def _flatten(self, observation: dict[str, Any]) -> np.ndarray:
        parts = [np.asarray(observation[key], dtype=np.float32).ravel() for key in self._obs_keys]
        return np.concatenate(parts)


def _field_names(shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """One name per flattened element, in the same (C) order as `ravel`."""
    names: list[str] = []
    for key, shape in shapes.items():
        if shape == ():
            names.append(key)
            continue
        names.extend(f"{key}[{','.join(map(str, index))}]" for index in np.ndindex(*shape))
    return names


def _step_limit(env: Any) -> int:
    # dm_control keeps the limit only privately; it ends an episode once
    # step_count >= time_limit / control_timestep, i.e. at the ceiling.
    limit = env._step_limit  # noqa: SLF001
    if math.isinf(limit):
        raise ValueError("dm_control task has no time limit; episodes would never end")
    return math.ceil(limit)
