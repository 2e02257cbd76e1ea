"""Ending an episode cleanly when the simulation diverges, instead of crashing the run."""

import logging
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

log = logging.getLogger(__name__)

# MuJoCo raises these when a state is NaN, infinite or huge (> 1e10), then silently resets
# the data to the model's initial state: the next observation looks fine but the episode is broken.
_DIVERGENCE_WARNINGS = {
    int(mujoco.mjtWarning.mjWARN_BADQPOS): "mjWARN_BADQPOS",
    int(mujoco.mjtWarning.mjWARN_BADQVEL): "mjWARN_BADQVEL",
    int(mujoco.mjtWarning.mjWARN_BADQACC): "mjWARN_BADQACC",
}


def _dm_control_physics_error() -> type[Exception]:
    from dm_control.rl.control import PhysicsError

    return PhysicsError


class PhysicsGuard(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """A diverged simulation ends the episode as truncated, with ``info["physics_unstable"] = True``.

    Detected: dm_control's ``PhysicsError``, MuJoCo's divergence warnings (counted in
    ``MjData.warning``) and non-finite observations or rewards. The step then returns the
    last finite observation and a finite reward (0 if it was not), so nothing non-finite
    reaches the replay; ``info["physics_unstable_reason"]`` says what happened. The next
    ``reset()`` starts a normal episode. Wrap the suite's env directly, below action
    repeat, so every physics step is checked.
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self._physics_error = _dm_control_physics_error()
        self._last_obs: Any = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._last_obs = obs
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        before = self._warning_counts()
        try:
            obs, reward, terminated, truncated, info = self.env.step(action)
        except self._physics_error as exc:
            return self._unstable(f"PhysicsError: {exc}".splitlines()[0], 0.0, {})
        new = [name for i, name in _DIVERGENCE_WARNINGS.items() if self._warning_counts().get(i, 0) > before.get(i, 0)]
        if new:
            return self._unstable(f"MuJoCo warning {', '.join(new)}", reward, info)
        if not np.all(np.isfinite(obs)) or not np.isfinite(reward):
            return self._unstable("non-finite observation or reward", reward, info)
        self._last_obs = obs
        return obs, reward, terminated, truncated, info

    def _unstable(self, reason: str, reward: float, info: dict[str, Any]) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        log.warning("physics unstable (%s): episode truncated; reset() starts a new one", reason)
        reward = float(reward) if np.isfinite(reward) else 0.0
        return self._last_obs, reward, False, True, {**info, "physics_unstable": True,
                                                      "physics_unstable_reason": reason}

    def _warning_counts(self) -> dict[int, int]:
        data = mj_data(self.env)
        return {i: int(data.warning[i].number) for i in _DIVERGENCE_WARNINGS} if data is not None else {}


def mj_data(env: gym.Env) -> mujoco.MjData | None:
    """The ``MjData`` under a Gymnasium MuJoCo env or our dm_control env (None for others)."""
    base = env.unwrapped
    data = getattr(base, "physics_data", None) or getattr(base, "data", None)
    return data if isinstance(data, mujoco.MjData) else None
