"""One observation carrying both the camera frame and the proprioceptive state.

The robotics world model reads both. Rather than teach the replay, the batches and the
planner about dict observations, the pair travels as a single flat ``uint8`` row: the
frame's bytes, then the float32 state's bytes (bit-exact, 4 bytes per element). A frame
stays one byte per pixel in replay, and every consumer slices one tensor.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

STATE_BYTES = 4  # float32


def fused_size(image_size: int, state_dim: int) -> int:
    """Length of a fused row for square RGB frames and a state vector."""
    return image_size * image_size * 3 + STATE_BYTES * state_dim


def fuse(frame: np.ndarray, state: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8 frame and (P,) state -> (S*S*3 + 4P,) uint8 row."""
    state_bytes = np.ascontiguousarray(state, dtype=np.float32).view(np.uint8)
    return np.concatenate([np.ascontiguousarray(frame, dtype=np.uint8).ravel(), state_bytes.ravel()])


def split_fused(rows: torch.Tensor, image_size: int, state_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(..., D) uint8 rows -> frames (..., S, S, 3) uint8 and states (..., P) float32."""
    pixels = image_size * image_size * 3
    if rows.shape[-1] != pixels + STATE_BYTES * state_dim:
        raise ValueError(f"fused rows have {rows.shape[-1]} bytes; accepted: {pixels + STATE_BYTES * state_dim} "
                         f"for {image_size}x{image_size} frames and {state_dim} state values")
    lead = rows.shape[:-1]
    frames = rows[..., :pixels].reshape(*lead, image_size, image_size, 3)
    states = rows[..., pixels:].contiguous().view(torch.float32)
    return frames, states


class FusedObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Turn a ``{"state", "pixels"}`` observation into one fused uint8 row.

    The state is also put in ``info["state"]`` so videos and state traces work as for
    pixel runs.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        space = env.observation_space
        if not isinstance(space, spaces.Dict) or set(space.spaces) != {"state", "pixels"}:
            raise ValueError("FusedObservation needs an env made with obs='both'")
        self.image_size = int(space["pixels"].shape[0])
        self.state_dim = int(np.prod(space["state"].shape))
        self.observation_space = spaces.Box(0, 255, (fused_size(self.image_size, self.state_dim),), np.uint8)

    def observation(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        return fuse(observation["pixels"], observation["state"])

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        return self.observation(obs), {**info, "state": np.asarray(obs["state"], np.float32)}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self.observation(obs), reward, terminated, truncated, {**info, "state": np.asarray(obs["state"],
                                                                                               np.float32)}
