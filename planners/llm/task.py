"""What the language model is told about a task: names, bounds, timing and the goal in words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

# Goals in words for the tasks users run most; others fall back to the reward.
_GOALS = {
    "reacher": "move the arm's fingertip onto the target and keep it there",
    "cheetah": "run forward (positive x) as fast as possible",
    "halfcheetah": "run forward (positive x) as fast as possible",
    "walker": "stay upright and walk forward",
    "walker2d": "stay upright and walk forward",
    "hopper": "hop forward without falling",
    "cartpole": "swing the pole up and balance it upright with the cart near the centre",
    "pendulum": "swing the pendulum up and hold it upright",
    "finger": "spin or turn the body as the task asks",
    "ball_in_cup": "swing the ball into the cup",
    "point_mass": "move the point mass to the target at the centre",
    "pusher": "push the object to the goal position",
    "ant": "walk forward as fast as possible",
    "humanoid": "stay upright and move forward",
    "swimmer": "swim forward as fast as possible",
    "acrobot": "swing the tip of the acrobot up and hold it above the base",
    "manipulator": "grasp the object and bring it to the target",
    "fish": "swim to the target",
    "quadruped": "walk forward",
}


@dataclass(frozen=True)
class TaskSpec:
    """Everything a prompt may say about the task; nothing else reaches the model."""

    env_name: str
    goal: str
    obs_field_names: tuple[str, ...]
    action_names: tuple[str, ...]
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    action_repeat: int
    horizon: int  # the planner's horizon, in control steps

    def __post_init__(self) -> None:
        dims = {len(self.action_names), len(self.action_low), len(self.action_high)}
        if len(dims) != 1 or not self.action_names:
            raise ValueError(
                f"TaskSpec action names/low/high have lengths {sorted(dims)}; accepted: one equal length >= 1"
            )
        if any(lo >= hi for lo, hi in zip(self.action_low, self.action_high)):
            raise ValueError(
                f"TaskSpec bounds low={list(self.action_low)} high={list(self.action_high)} are invalid; "
                "accepted: low < high in every dimension"
            )
        if self.horizon < 1 or self.action_repeat < 1:
            raise ValueError(
                f"TaskSpec horizon={self.horizon} action_repeat={self.action_repeat} are invalid; accepted: ints >= 1"
            )

    @property
    def action_dim(self) -> int:
        return len(self.action_names)


def default_goal(env_name: str) -> str:
    """The goal in words for a known task family, else 'maximise the task's reward'."""
    key = env_name.split("-")[0].lower()
    return _GOALS.get(key, f"maximise the reward of the task '{env_name}'")


def actuator_names(env: Any, action_dim: int) -> list[str]:
    """MuJoCo actuator names of a made env (dm_control or Gymnasium), else ``action[i]``."""
    try:
        import mujoco

        inner = env.unwrapped
        physics = getattr(inner, "_physics", None)
        model = physics.model.ptr if physics is not None else inner.model
        names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, i) for i in range(model.nu)]
        if len(names) == action_dim and all(names):
            return names
    except (AttributeError, ImportError):
        pass  # not a MuJoCo env we know how to open: generic names say enough
    return [f"action[{i}]" for i in range(action_dim)]


def task_spec_from_env(env: Any, horizon: int, goal: str = "") -> TaskSpec:
    """Describe an env made by :func:`envs.make_env` (reads its outermost attributes)."""
    space = env.action_space
    dim = int(space.shape[0])
    name = str(env.get_wrapper_attr("env_name"))
    return TaskSpec(
        env_name=name,
        goal=goal.strip() or default_goal(name),
        obs_field_names=tuple(env.get_wrapper_attr("obs_field_names")),
        action_names=tuple(actuator_names(env, dim)),
        action_low=_floats(space.low),
        action_high=_floats(space.high),
        action_repeat=int(env.get_wrapper_attr("action_repeat")),
        horizon=horizon,
    )


def _floats(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)
