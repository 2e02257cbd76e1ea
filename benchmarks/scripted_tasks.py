"""The scripted planners of ``benchmarks/scripted_llm.py``, one per task: informed (a controller toward the
goal, from the state fields the prompt names), noisy, random and adversarial plans, and the judge's scores."""

from __future__ import annotations

import functools
import math
import threading
from typing import Any, Callable

import numpy as np

from benchmarks.scripted_prompts import JudgeRequest, PromptError, ProposalRequest, field

NOISY_TARGET_SD = 0.05  # m: the noisy reacher proposer's error in where the target is (the target's radius)
NOISY_ACTION_SD = 0.5  # per action, in units of the [-1, 1] bounds

# ------------------------------------------------------------------ reacher

def _wrap(angle: np.ndarray | float) -> np.ndarray | float:
    return (angle + np.pi) % (2 * np.pi) - np.pi


@functools.lru_cache(maxsize=None)
def _dm_model(domain: str) -> Any:
    """dm_control's MuJoCo model of a suite domain (read from its XML, with the suite's assets)."""
    import importlib

    import mujoco

    xml, assets = importlib.import_module(f"dm_control.suite.{domain}").get_model_and_assets()
    return mujoco.MjModel.from_xml_string(xml, assets)


class ReacherArm:
    """The two-link arm of dm_control's reacher.xml: geometry, inertia, and the PD plans of the scripts."""

    CLOSE_S = 0.15  # s: a joint error is asked to close at error / CLOSE_S rad/s ...
    SPEED_CAP = 3.0  # rad/s: ... at most, below reacher's 4 rad/s joint-speed safety limit (envs/safety.py)
    SPEED_S = 0.08  # s: the time constant a joint reaches its wanted speed with
    KD = np.array([0.2, 0.05])  # action per rad/s of speed error, for the adversarial plans

    def __init__(self) -> None:
        import mujoco

        model = _dm_model("reacher")
        self._mujoco, self._model = mujoco, model
        self.l1 = float(model.body("hand").pos[0])  # shoulder -> wrist
        self.l2 = float(model.body("finger").pos[0])  # wrist -> fingertip
        self.timestep = float(model.opt.timestep)
        self.gear = model.actuator_gear[:, 0].copy()
        self.damping = model.dof_damping.copy()
        self._lock = threading.Lock()
        self._data = mujoco.MjData(model)

    def fingertip(self, q: np.ndarray) -> np.ndarray:
        return np.array([self.l1 * np.cos(q[0]) + self.l2 * np.cos(q[0] + q[1]),
                         self.l1 * np.sin(q[0]) + self.l2 * np.sin(q[0] + q[1])])

    def joint_goal(self, point: np.ndarray, q: np.ndarray, near: bool = True) -> np.ndarray:
        """Joint angles putting the fingertip on ``point`` (clipped to the reach), the elbow branch nearer
        to ``q`` (or the farther one), the shoulder unwrapped to the nearest turn."""
        c2 = np.clip((point @ point - self.l1**2 - self.l2**2) / (2 * self.l1 * self.l2), -1.0, 1.0)
        goals = []
        for sign in (1.0, -1.0):
            q2 = sign * math.acos(c2)
            q1 = math.atan2(point[1], point[0]) - math.atan2(self.l2 * math.sin(q2), self.l1 + self.l2 * math.cos(q2))
            goals.append(np.array([q[0] + _wrap(q1 - q[0]), q2]))
        goals.sort(key=lambda g: float(np.abs(g - q).sum()))
        return goals[0 if near else 1]

    def inertia(self, q: np.ndarray) -> np.ndarray:
        """The arm's 2x2 joint-space inertia at joint angles ``q``."""
        with self._lock:
            self._data.qpos[:] = q
            self._mujoco.mj_forward(self._model, self._data)
            inertia = np.zeros((2, 2))
            self._mujoco.mj_fullM(self._model, self._data, inertia)
        return inertia

    def step(self, q: np.ndarray, qd: np.ndarray, u: np.ndarray, inertia: np.ndarray, repeat: int
             ) -> tuple[np.ndarray, np.ndarray]:
        """The simple model: ``repeat`` physics steps of action ``u`` with a fixed inertia, no Coriolis terms,
        integrated as MuJoCo's Euler integrator does (the joint damping implicitly: M + h D, which at
        h = 0.02 s doubles the wrist's effective inertia)."""
        implicit = np.linalg.inv(inertia + self.timestep * np.diag(self.damping))
        for _ in range(repeat):
            qd = qd + self.timestep * implicit @ (self.gear * u - self.damping * qd)
            q = q + self.timestep * qd
        return q, qd

    def jacobian(self, q: np.ndarray) -> np.ndarray:
        s1, c1, s12, c12 = np.sin(q[0]), np.cos(q[0]), np.sin(q[0] + q[1]), np.cos(q[0] + q[1])
        return np.array([[-self.l1 * s1 - self.l2 * s12, -self.l2 * s12], [self.l1 * c1 + self.l2 * c12, self.l2 * c12]])

    def away_plan(self, q: np.ndarray, qd: np.ndarray, target: np.ndarray, steps: int, repeat: int,
                  speed: float = 10.0) -> np.ndarray:
        """``steps`` actions moving the fingertip straight away from ``target`` (joint velocities along
        -J^T (target - tip), at ``speed`` rad/s: past the safety limit), rolled over the same simple model."""
        q, qd = q.astype(np.float64).copy(), qd.astype(np.float64).copy()
        plan = np.empty((steps, 2))
        for t in range(steps):
            direction = -self.jacobian(q).T @ (target - self.fingertip(q))
            wanted_speed = speed * direction / max(float(np.abs(direction).max()), 1e-9)
            plan[t] = u = np.clip(self.KD * (wanted_speed - qd), -1.0, 1.0)
            q, qd = self.step(q, qd, u, self.inertia(q), repeat)
        return plan

    def pd_plan(self, q: np.ndarray, qd: np.ndarray, goal: np.ndarray, steps: int, repeat: int,
                gain: float = 1.0, speed_cap: float = SPEED_CAP) -> np.ndarray:
        """``steps`` actions toward the joint angles ``goal``, each held ``repeat`` physics steps of the simple
        model (semi-implicit Euler, as MuJoCo integrates). Computed torque: each joint is asked for the
        acceleration of a PD law on its own (joint speed capped at ``speed_cap``), and the arm's inertia at the
        pose turns those into torques, so the joints do not drag each other off course; torques over the
        actuators' range are scaled down together (clipping one would bend the others' accelerations)."""
        q, qd = q.astype(np.float64).copy(), qd.astype(np.float64).copy()
        plan = np.empty((steps, 2))
        for t in range(steps):
            inertia = self.inertia(q)
            wanted_speed = np.clip(gain * (goal - q) / self.CLOSE_S, -speed_cap, speed_cap)
            wanted_accel = (wanted_speed - qd) / self.SPEED_S
            effective = inertia + self.timestep * np.diag(self.damping)  # see step()
            u = (effective @ wanted_accel + self.damping * qd) / self.gear
            u = u / max(1.0, float(np.abs(u).max()))  # scaled, not clipped: both joints keep their share
            plan[t] = u
            q, qd = self.step(q, qd, u, inertia, repeat)
        return plan


@functools.lru_cache(maxsize=None)
def reacher_arm() -> ReacherArm:
    return ReacherArm()


def _reacher_state(state: dict[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q = np.array([field(state, "position[0]"), field(state, "position[1]")])
    to_target = np.array([field(state, "to_target[0]"), field(state, "to_target[1]")])
    qd = np.array([field(state, "velocity[0]"), field(state, "velocity[1]")])
    return q, to_target, qd


def reacher_plans(kind: str, req: ProposalRequest, rng: np.random.Generator) -> list[np.ndarray]:
    arm = reacher_arm()
    q, to_target, qd = _reacher_state(req.state)
    target = arm.fingertip(q) + to_target
    steps, repeat = req.plan_steps, req.action_repeat
    plans = []
    for i in range(req.num_plans):
        if kind in ("informed", "noisy"):
            gain = (1.0, 0.6, 1.6)[i % 3]
            aim = target + (rng.normal(0.0, NOISY_TARGET_SD, 2) if kind == "noisy" else 0.0)
            near = i % 4 != 3  # every 4th plan tries the other elbow branch
            plan = arm.pd_plan(q, qd, arm.joint_goal(aim, q, near), steps, repeat, gain)
            if kind == "noisy":
                plan = plan + rng.normal(0.0, NOISY_ACTION_SD, plan.shape)
        elif kind == "random":
            plan = rng.uniform(req.low, req.high, (steps, len(req.low)))
        elif i % 2 == 0:  # adversarial: the fingertip straight away from the target, fast
            plan = arm.away_plan(q, qd, target, steps, repeat)
        else:  # adversarial: both joints spun at full torque
            signs = np.array([1.0, 1.0 if i % 4 == 1 else -1.0])
            plan = np.tile(signs, (steps, 1))
        plans.append(plan)
    return plans


def reacher_scores(kind: str, req: JudgeRequest, rng: np.random.Generator) -> list[float]:
    distances = np.array([math.hypot(field(s, "to_target[0]"), field(s, "to_target[1]")) for s in req.outcomes])
    closeness = 10.0 * np.clip(1.0 - distances / 0.3, 0.0, 1.0)  # 0.3: about the arena's half width
    return judged(kind, closeness, rng)


# ------------------------------------------------------------------ cartpole

class CartPole:
    """dm_control's cartpole.xml: cart mass, pole mass and half length, gear, timestep; swing-up and balance."""

    def __init__(self) -> None:
        model = _dm_model("cartpole")
        cart, pole = model.body("cart"), model.body("pole_1")
        self.cart_mass, self.pole_mass = float(cart.mass[0]), float(pole.mass[0])
        self.half_length = float(pole.ipos[2])  # centre of mass along the pole
        self.inertia = float(pole.inertia[0]) + self.pole_mass * self.half_length**2  # about the hinge
        self.gear = float(model.actuator_gear[0, 0])
        self.timestep = float(model.opt.timestep)
        self.gravity = float(-model.opt.gravity[2])

    def accelerations(self, theta: float, dtheta: float, force: float) -> tuple[float, float]:
        """Frictionless cart-pole; theta = 0 upright (dm_control's hinge angle), positive counter-clockwise."""
        m, mc, l, inertia, g = self.pole_mass, self.cart_mass, self.half_length, self.inertia, self.gravity
        s, c = math.sin(theta), math.cos(theta)
        # [mc+m, -m l c; -m l c, I] [ddx; ddtheta] = [F - m l s dtheta^2; m g l s]  (hinge axis along y)
        a11, a12, a21, a22 = mc + m, m * l * c, m * l * c, inertia
        b1 = force + m * l * s * dtheta**2
        b2 = m * g * l * s
        det = a11 * a22 - a12 * a21
        return (a22 * b1 - a12 * b2) / det, (a11 * b2 - a21 * b1) / det

    def controller(self, x: float, dx: float, theta: float, dtheta: float, gain: float) -> float:
        """Energy pumping far from upright, PD balance near it (an action in [-1, 1]; gains tuned by hand on
        cartpole-swingup: ~750 return when applied in closed loop)."""
        theta = _wrap(theta)
        if math.cos(theta) > 0.8:  # the cart pushed toward the pole's tilt; the x terms bring it back to the centre
            u = gain * (5.0 * theta + 1.0 * dtheta + 0.3 * x + 0.5 * dx)
        else:
            # The cart's acceleration changes the pole's energy at -m l cos(theta) dtheta ddx: push against
            # dtheta cos(theta) while the energy is below the upright one (0), with it above.
            energy = 0.5 * self.inertia * dtheta**2 + self.pole_mass * self.gravity * self.half_length * (math.cos(theta) - 1)
            u = gain * 50.0 * energy * dtheta * math.cos(theta) - 0.1 * x - 0.1 * dx
        return float(np.clip(u, -1.0, 1.0))

    def plan(self, x: float, dx: float, theta: float, dtheta: float, steps: int, repeat: int, gain: float,
             policy: Callable[[float, float, float, float], float] | None = None) -> np.ndarray:
        policy = policy or (lambda *s: self.controller(*s, gain))
        plan = np.empty((steps, 1))
        for t in range(steps):
            u = policy(x, dx, theta, dtheta)
            plan[t, 0] = u
            for _ in range(repeat):
                ddx, ddtheta = self.accelerations(theta, dtheta, self.gear * u)
                dx, dtheta = dx + self.timestep * ddx, dtheta + self.timestep * ddtheta
                x, theta = x + self.timestep * dx, theta + self.timestep * dtheta
        return plan


@functools.lru_cache(maxsize=None)
def cartpole() -> CartPole:
    return CartPole()


def _cartpole_state(state: dict[str, float]) -> tuple[float, float, float, float]:
    x = field(state, "position[0]")
    theta = math.atan2(field(state, "position[2]"), field(state, "position[1]"))  # (cos, sin) of the pole angle
    return x, field(state, "velocity[0]"), theta, field(state, "velocity[1]")


def cartpole_plans(kind: str, req: ProposalRequest, rng: np.random.Generator) -> list[np.ndarray]:
    model = cartpole()
    x, dx, theta, dtheta = _cartpole_state(req.state)
    plans = []
    for i in range(req.num_plans):
        if kind in ("informed", "noisy"):
            plan = model.plan(x, dx, theta, dtheta, req.plan_steps, req.action_repeat, (1.0, 0.7, 1.4, 0.5)[i % 4])
            if kind == "noisy":
                plan = plan + rng.normal(0.0, NOISY_ACTION_SD, plan.shape)
        elif kind == "random":
            plan = rng.uniform(req.low, req.high, (req.plan_steps, 1))
        else:  # adversarial: full push toward the nearer wall, or damp the pole's swing so it stays down
            if i % 2 == 0:
                plan = np.full((req.plan_steps, 1), 1.0 if x >= 0 else -1.0)
            else:
                plan = model.plan(x, dx, theta, dtheta, req.plan_steps, req.action_repeat, 1.0,
                                  policy=lambda x_, dx_, th, dth: float(np.clip(3.0 * dth * math.cos(th), -1, 1)))
        plans.append(plan)
    return plans


def cartpole_scores(kind: str, req: JudgeRequest, rng: np.random.Generator) -> list[float]:
    upright = np.array([(field(s, "position[1]") + 1.0) / 2.0 for s in req.outcomes])  # cos of the pole angle
    centred = np.array([1.0 - min(abs(field(s, "position[0]")), 1.0) for s in req.outcomes])
    return judged(kind, 10.0 * upright * (0.5 + 0.5 * centred), rng)


def judged(kind: str, informed: np.ndarray, rng: np.random.Generator) -> list[float]:
    if kind == "informed":
        scores = informed
    elif kind == "noisy":
        scores = informed + rng.normal(0.0, 3.0, informed.shape)
    elif kind == "random":
        scores = rng.uniform(0.0, 10.0, informed.shape)
    else:
        scores = 10.0 - informed
    return [round(float(s), 2) for s in np.clip(scores, 0.0, 10.0)]


TASKS: dict[str, tuple[Callable, Callable]] = {
    "reacher": (reacher_plans, reacher_scores),
    "cartpole": (cartpole_plans, cartpole_scores),
}


def task_functions(env_name: str) -> tuple[Callable, Callable]:
    family = env_name.split("-")[0]  # dm_control names only: 'reacher-easy', not Gymnasium's 'Reacher-v5'
    if family not in TASKS:
        raise PromptError(f"no scripted planner for task {env_name!r}; scripted: dm_control {', '.join(TASKS)}")
    return TASKS[family]


def load_task_models() -> None:
    """Read every task's MuJoCo model now (cached), so that no answer waits on XML loading."""
    reacher_arm(), cartpole()
