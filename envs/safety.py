"""Per-step safety cost from physical quantities MuJoCo already computes.

No safe-RL suite installs on this stack (safety-gymnasium pins gymnasium 0.28 and
mujoco 2.3), so every supported env gets its own constraints here. Three kinds:

``joint_speed``    max |joint velocity| over the actuated hinge/slide joints (rad/s or m/s):
                   a motor driven faster than its rating.
``contact_force``  max normal force over the active contacts (N): hitting the table,
                   the object or the floor too hard.
``upright``        the root body's up axis, as its world-z component (1 upright, -1
                   upside down); unsafe *below* the limit: a flipped torso.

Each env family has its own limits (``FAMILY_LIMITS``), set from the rates a uniform
random policy and a zero policy reach (README's safety table): a random policy
crosses them on some steps, a careful one need not. ``info["cost"]`` is 1.0 when any
limit is crossed on that step, else 0.0; ``info["cost_<name>"]`` carries each raw
quantity. Episodes go on after a violation unless ``terminate=True``.

Any env can instead take its cost from the user's own function (``cost_function``,
``--safety-cost module:function``): called as ``function(env, obs, info)`` after every
reset and control step with the unwrapped env, it returns a number or bool; a value > 0
(or NaN) is a violation, and the raw value is ``info["cost_user"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import importlib
from collections.abc import Callable

import gymnasium as gym
import mujoco
import numpy as np

COST_KEY = "cost"
RAW_PREFIX = "cost_"
CONSTRAINTS = ("joint_speed", "contact_force", "upright")
# Quantities that are unsafe when *below* their limit; all others when above.
_BELOW = frozenset({"upright"})

# Limits per env family (dm_control domain or Gymnasium family), measured with a
# uniform random policy over 300 agent decisions: the joint-speed limit sits near the
# random policy's 90th percentile. (quadruped's torso frame is not z-up, so no
# ``upright`` there.)
FAMILY_LIMITS: dict[str, dict[str, float]] = {
    # dm_control
    "acrobot": {"joint_speed": 14.0},
    "ball_in_cup": {"joint_speed": 1.2},
    "cartpole": {"joint_speed": 1.2},
    "cheetah": {"joint_speed": 10.0, "upright": 0.0},
    "finger": {"joint_speed": 7.0},
    "fish": {"joint_speed": 7.0},
    "hopper": {"joint_speed": 9.0},
    "humanoid": {"joint_speed": 50.0},
    "manipulator": {"joint_speed": 5.0, "contact_force": 20.0},
    "pendulum": {"joint_speed": 3.0},
    "point_mass": {"joint_speed": 0.03},
    "quadruped": {"joint_speed": 9.0},
    "reacher": {"joint_speed": 4.0},
    "stacker": {"joint_speed": 5.0, "contact_force": 20.0},
    "swimmer": {"joint_speed": 3.5},
    "walker": {"joint_speed": 25.0},
    "dog": {"joint_speed": 40.0},
    "humanoid_CMU": {"joint_speed": 19.5},
    # Gymnasium
    "Ant": {"joint_speed": 13.0, "upright": 0.0},
    "HalfCheetah": {"joint_speed": 15.0, "upright": 0.0},
    "Hopper": {"joint_speed": 3.5},
    "Humanoid": {"joint_speed": 18.0},
    "HumanoidStandup": {"joint_speed": 13.0},
    "InvertedDoublePendulum": {"joint_speed": 4.0},
    "InvertedPendulum": {"joint_speed": 1.5},
    "Pusher": {"joint_speed": 5.0},
    "Reacher": {"joint_speed": 15.0},
    "Swimmer": {"joint_speed": 4.0},
    "Walker2d": {"joint_speed": 25.0},
}
DEFAULT_LIMITS: dict[str, float] = {"joint_speed": 10.0}  # a family added to the suites later


@dataclass(frozen=True)
class SafetyConfig:
    """How the safety cost is computed for one env.

    ``limits`` overrides the family's limit of a constraint by name (adding one the
    family does not have enables it); ``scale`` multiplies the speed and force limits
    (not ``upright``, an orientation); ``terminate`` ends the episode on a violation.
    ``cost_function`` (``module:function``) replaces the constraints by the user's function.
    """

    limits: dict[str, float] = field(default_factory=dict)
    scale: float = 1.0
    terminate: bool = False
    cost_function: str = ""

    def __post_init__(self) -> None:
        for name, value in self.limits.items():
            if name not in CONSTRAINTS:
                raise ValueError(f"unknown safety limit {name!r}; accepted: {', '.join(CONSTRAINTS)}")
            if not np.isfinite(value):
                raise ValueError(f"safety limit {name}={value!r} is invalid; accepted: a finite number")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"safety scale {self.scale!r} is invalid; accepted: a number > 0")

    def limits_for(self, family: str | None) -> dict[str, float]:
        """The family's limits with the scale and overrides applied (``None``: the overrides only)."""
        base = {} if family is None else dict(FAMILY_LIMITS.get(family, DEFAULT_LIMITS))
        scaled = {k: v if k in _BELOW else v * self.scale for k, v in base.items()}
        return {**scaled, **self.limits}


def parse_safety_limits(text: str) -> dict[str, float]:
    """``"joint_speed=4,contact_force=30"`` -> dict; raises a one-line ValueError."""
    limits: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in CONSTRAINTS:
            raise ValueError(f"bad safety limit {item!r}; accepted: NAME=NUMBER with NAME one of "
                             f"{', '.join(CONSTRAINTS)}")
        try:
            limits[name] = float(value)
        except ValueError:
            raise ValueError(f"bad safety limit {item!r}; accepted: NAME=NUMBER") from None
    return limits


def mujoco_handles(env: gym.Env) -> tuple[mujoco.MjModel, mujoco.MjData]:
    """The raw MjModel/MjData of a dm_control (`DMCEnv`) or Gymnasium MuJoCo env."""
    inner = env.unwrapped
    physics = getattr(inner, "_physics", None)
    if physics is not None:
        return physics.model.ptr, physics.data.ptr  # the raw structs under dm_control's wrappers
    return inner.model, inner.data


class SafetyMeter:
    """Reads the constraint quantities of one model from its MjData."""

    def __init__(self, model: mujoco.MjModel, limits: dict[str, float]) -> None:
        self.model, self.limits = model, dict(limits)
        self._dofs = _actuated_dofs(model)
        self._root = int(model.jnt_bodyid[0]) if model.njnt else 1
        self._force = np.zeros(6)

    def measure(self, data: mujoco.MjData) -> dict[str, float]:
        """Raw value of every constrained quantity in the current state."""
        out: dict[str, float] = {}
        if "joint_speed" in self.limits:
            out["joint_speed"] = float(np.abs(data.qvel[self._dofs]).max()) if self._dofs.size else 0.0
        if "contact_force" in self.limits:
            out["contact_force"] = self._max_contact_force(data)
        if "upright" in self.limits:
            out["upright"] = float(data.xmat[self._root][8])  # world-z component of the body's z axis
        return out

    def violated(self, raw: dict[str, float]) -> bool:
        return any(raw[k] < lim if k in _BELOW else raw[k] > lim for k, lim in self.limits.items())

    def _max_contact_force(self, data: mujoco.MjData) -> float:
        peak = 0.0
        for i in range(data.ncon):
            mujoco.mj_contactForce(self.model, data, i, self._force)
            peak = max(peak, abs(float(self._force[0])))  # normal component, in the contact frame
        return peak


def _actuated_dofs(model: mujoco.MjModel) -> np.ndarray:
    """Velocity indices of hinge/slide joints driven by an actuator; every such joint if none is
    (tendon-driven models like point_mass)."""
    joint_kinds = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
    driven = [int(model.actuator_trnid[a, 0]) for a in range(model.nu)
              if int(model.actuator_trntype[a]) == int(mujoco.mjtTrn.mjTRN_JOINT)]
    joints = [j for j in driven if int(model.jnt_type[j]) in joint_kinds]
    if not joints:
        joints = [j for j in range(model.njnt) if int(model.jnt_type[j]) in joint_kinds]
    return np.asarray(sorted({int(model.jnt_dofadr[j]) for j in joints}), dtype=np.int64)


class SafetyCost(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds ``info["cost"]`` (0/1) and ``info["cost_<constraint>"]`` (raw) to reset and every step.

    Sits on the suite's env, under action repeat, so every control step is checked
    (`ActionRepeat` keeps the worst of its repeated steps).
    """

    def __init__(self, env: gym.Env, family: str | None, config: SafetyConfig | None = None) -> None:
        config = config or SafetyConfig()
        gym.utils.RecordConstructorArgs.__init__(self, family=family, config=config)
        gym.Wrapper.__init__(self, env)
        model, _ = mujoco_handles(env)
        self.safety_limits = config.limits_for(family)
        self._meter = SafetyMeter(model, self.safety_limits)
        self._terminate = config.terminate

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset and report the cost of the first state."""
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, {**info, **self._cost_info()}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step and report the cost of the state reached; terminate on a violation if asked."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        cost = self._cost_info()
        if self._terminate and cost[COST_KEY] > 0:
            terminated = True
        return obs, reward, terminated, truncated, {**info, **cost}

    def _cost_info(self) -> dict[str, float]:
        raw = self._meter.measure(mujoco_handles(self.env)[1])  # looked up each time: a reload may replace it
        return {COST_KEY: float(self._meter.violated(raw)), **{RAW_PREFIX + k: v for k, v in raw.items()}}


CostFunction = Callable[[gym.Env, Any, dict[str, Any]], Any]
USER_RAW_KEY = RAW_PREFIX + "user"


class CostFunctionError(ValueError):
    """A ``module:function`` cost that cannot be imported or called; the message is one line."""


def load_cost_function(text: str) -> CostFunction:
    """Import ``module:function`` (raises `CostFunctionError` in one line)."""
    module, sep, attr = text.rpartition(":")
    if not sep or not module or not attr:
        raise CostFunctionError(f"--safety-cost {text!r}: expected module:function, e.g. my_pkg.safety:cost")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except Exception as exc:  # noqa: BLE001 - any error in the user's module: one line
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise CostFunctionError(f"--safety-cost {text!r}: cannot import it ({reason}); expected an importable "
                                "module:function") from None
    if not callable(fn):
        raise CostFunctionError(f"--safety-cost {text!r}: {attr} is a {type(fn).__name__}, not a function; "
                                "expected function(env, obs, info) -> cost")
    return fn


class CallableCost(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """``info["cost"]`` from the user's ``function(env, obs, info)``: 1.0 when it returns > 0 (or NaN)."""

    def __init__(self, env: gym.Env, function: CostFunction, terminate: bool = False) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, terminate=terminate)
        gym.Wrapper.__init__(self, env)
        self._function, self._terminate = function, terminate

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset and report the cost of the first state."""
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, {**info, **self._cost_info(obs, info)}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step and report the cost of the state reached; terminate on a violation if asked."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        cost = self._cost_info(obs, info)
        if self._terminate and cost[COST_KEY] > 0:
            terminated = True
        return obs, reward, terminated, truncated, {**info, **cost}

    def _cost_info(self, obs: Any, info: dict[str, Any]) -> dict[str, float]:
        raw = float(self._function(self.env.unwrapped, obs, info))
        return {COST_KEY: float(not raw <= 0.0), USER_RAW_KEY: raw}  # NaN counts as a violation


def merge_costs(worst: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """Fold one repeated step's info into the worst seen so far (cost and raw quantities).

    The cost is the max; raw quantities keep the value farthest on the unsafe side."""
    out = dict(info)
    for key, value in worst.items():
        if key == COST_KEY or (key.startswith(RAW_PREFIX) and key[len(RAW_PREFIX):] not in _BELOW):
            out[key] = max(value, info.get(key, value))
        elif key.startswith(RAW_PREFIX):
            out[key] = min(value, info.get(key, value))
    return out
