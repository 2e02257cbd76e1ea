"""Small composable wrappers that shape any env for the agent."""

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from PIL import Image

from .safety import merge_costs

PIXEL_MODES = ("pixels", "both")


class ActionRepeat(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Repeat each action ``repeat`` times and sum the rewards.

    Stops early when the inner env terminates or truncates, so one wrapped
    step is one agent decision and episode limits count decisions. Safety costs
    in ``info`` are the worst of the repeated steps, not the last one's.
    """

    def __init__(self, env: gym.Env, repeat: int) -> None:
        if repeat < 1:
            raise ValueError(f"action repeat must be >= 1, got {repeat!r}")
        gym.utils.RecordConstructorArgs.__init__(self, repeat=repeat)
        gym.Wrapper.__init__(self, env)
        self.action_repeat = repeat

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` up to ``repeat`` times; return the last obs and the summed reward."""
        total, worst = 0.0, {}
        for _ in range(self.action_repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            worst = merge_costs(worst, info)
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, worst


class PixelObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Observe the rendered RGB frame instead of, or next to, the state.

    ``mode="pixels"``: the observation is an (size, size, 3) uint8 frame and the
    state moves to ``info["state"]`` (so state traces can still be drawn).
    ``mode="both"``: the observation is ``{"state": float32, "pixels": uint8}``.
    Frames of another size are resized, so any ``render()`` works.
    """

    def __init__(self, env: gym.Env, size: int, mode: str = "pixels") -> None:
        if mode not in PIXEL_MODES:
            raise ValueError(f"pixel mode must be one of {PIXEL_MODES}, got {mode!r}")
        if env.render_mode != "rgb_array":
            raise ValueError(
                f"PixelObservation needs render_mode 'rgb_array', got {env.render_mode!r}")
        gym.utils.RecordConstructorArgs.__init__(self, size=size, mode=mode)
        gym.Wrapper.__init__(self, env)
        self._size = size
        self._mode = mode
        pixels = spaces.Box(0, 255, (size, size, 3), np.uint8)
        self.observation_space = (
            pixels if mode == "pixels"
            else spaces.Dict({"state": env.observation_space, "pixels": pixels}))

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the inner env and observe its first frame."""
        state, info = self.env.reset(seed=seed, options=options)
        return self._observe(state, info)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the inner env and observe the frame after the step."""
        state, reward, terminated, truncated, info = self.env.step(action)
        obs, info = self._observe(state, info)
        return obs, reward, terminated, truncated, info

    def _observe(self, state: Any, info: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        frame = self._frame()
        if self._mode == "both":
            return {"state": state, "pixels": frame}, info
        return frame, {**info, "state": state}

    def _frame(self) -> np.ndarray:
        frame = np.asarray(self.env.render(), dtype=np.uint8)
        if frame.shape[:2] != (self._size, self._size):
            size = (self._size, self._size)
            frame = np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR))
        # Gymnasium's renderer returns a flipped view; torch rejects negative strides.
        return np.ascontiguousarray(frame)


class Described(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Outermost layer carrying what the agent needs to know as plain attributes.

    Read them as ``env.env_name`` etc., or ``env.get_wrapper_attr("env_name")``
    once further wrappers are added on top.
    """

    def __init__(self, env: gym.Env, env_name: str, action_repeat: int,
                 max_episode_steps: int, obs_field_names: list[str]) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, env_name=env_name, action_repeat=action_repeat,
            max_episode_steps=max_episode_steps, obs_field_names=obs_field_names)
        gym.Wrapper.__init__(self, env)
        self.env_name = env_name
        self.action_repeat = action_repeat
        self.max_episode_steps = max_episode_steps  # in agent decisions
        self.obs_field_names = list(obs_field_names)  # elements of the state vector
