"""Gymnasium's own MuJoCo environments, adapted to the agent's conventions."""

import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import DtypeObservation, RescaleAction

from .gl_release import schedule_release
from .rendering import use_small_shadow_map


def make_gym_mujoco(gym_id: str, *, image_size: int = 64) -> gym.Env:
    """Build a Gymnasium MuJoCo env with [-1, 1] actions and float32 observations.

    Gymnasium's TimeLimit stays in place, so time-outs are reported as
    truncation and falls (e.g. Hopper) as termination.
    """
    env = gym.make(gym_id, render_mode="rgb_array", width=image_size, height=image_size)
    use_small_shadow_map(env.unwrapped.model)
    with warnings.catch_warnings():
        # Gymnasium builds float64 bounds then casts them to float32 spaces;
        # for +-1 and +-inf that loses nothing, so its warning is noise.
        warnings.filterwarnings("ignore", message=".*precision lowered by casting")
        env = RescaleAction(env, min_action=-1.0, max_action=1.0)
        env = DtypeObservation(env, np.float32)
    return IsolatedRendering(env)


def gym_obs_field_names(env: gym.Env) -> list[str]:
    """Generic names: Gymnasium documents its fields only in prose."""
    return [f"obs[{i}]" for i in range(int(np.prod(env.observation_space.shape)))]


def gym_step_limit(env: gym.Env) -> int:
    """Steps per episode set by Gymnasium's TimeLimit."""
    limit = env.spec.max_episode_steps if env.spec is not None else None
    if limit is None:
        raise ValueError(f"{env} has no TimeLimit; episodes would never end")
    return limit


class IsolatedRendering(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Makes Gymnasium's MuJoCo renderer safe next to other renderers.

    Gymnasium makes its GL context current only when creating it, so after any
    other env renders it draws into the wrong context; and it frees GL objects
    in whatever context is current (or after EGL shut down, at exit). This
    makes its context current before each render and frees it properly once.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self._release: Callable[[], None] | None = None

    def render(self):  # noqa: ANN201 - same return type as the wrapped env
        """Render with this env's GL context current."""
        viewer = self._viewer()
        if viewer is not None:
            viewer.make_context_current()
        frame = self.env.render()
        if self._release is None and (viewer := self._viewer()) is not None:
            self._release = schedule_release(self, partial(_free_viewer, viewer))
        return frame

    def close(self) -> None:
        """Free the GL context, then close the env."""
        if self._release is not None:
            self._release()
        super().close()

    def _viewer(self) -> Any:
        # Gymnasium creates its offscreen viewer on the first render.
        return self.env.unwrapped.mujoco_renderer.viewer


def _free_viewer(viewer: Any) -> None:
    viewer.make_context_current()  # MjrContext.free acts on whichever context is current
    viewer.con.free()
    viewer.free()
