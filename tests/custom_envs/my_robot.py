"""A user's own MuJoCo robot, written from an XML string and registered on import.

``MyRobot-v0`` is a plain `gymnasium.Env` over the `mujoco` bindings (its own renderer);
``MyRobotMj-v0`` is the same robot through Gymnasium's `MujocoEnv` (from an XML file it
writes). The tests train both through ``wm-agent train --env tests.custom_envs.my_robot:...``.
``MyRobotTerminating-v0`` ends its own episodes. The others exist to be refused: discrete actions,
unbounded actions, no time limit.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

# A two-joint arm in the plane reaching for a fixed target; gear 0.5 so that the action bounds
# [-2, 2] (not [-1, 1]) exercise the rescaling.
ARM_XML = """
<mujoco model="my_robot">
  <option timestep="0.02"/>
  <worldbody>
    <light pos="0 0 1.5" dir="0 0 -1"/>
    <camera name="top" pos="0 0 1.2" quat="1 0 0 0"/>
    <geom name="floor" type="plane" size="0.5 0.5 0.02" rgba="0.3 0.3 0.35 1"/>
    <body name="upper" pos="0 0 0.02">
      <joint name="shoulder" type="hinge" axis="0 0 1" damping="0.05"/>
      <geom type="capsule" fromto="0 0 0 0.12 0 0" size="0.015" rgba="0.8 0.4 0.2 1"/>
      <body name="lower" pos="0.12 0 0">
        <joint name="elbow" type="hinge" axis="0 0 1" range="-2.6 2.6" damping="0.05"/>
        <geom type="capsule" fromto="0 0 0 0.12 0 0" size="0.013" rgba="0.8 0.6 0.2 1"/>
        <site name="tip" pos="0.12 0 0" size="0.01"/>
      </body>
    </body>
    <site name="target" pos="0.1 0.1 0.02" size="0.02" rgba="0.2 0.8 0.2 1"/>
  </worldbody>
  <actuator>
    <motor joint="shoulder" gear="0.5" ctrlrange="-2 2" ctrllimited="true"/>
    <motor joint="elbow" gear="0.5" ctrlrange="-2 2" ctrllimited="true"/>
  </actuator>
</mujoco>
"""
EPISODE_STEPS = 50


def _observation(data: mujoco.MjData, model: mujoco.MjModel) -> np.ndarray:
    tip, target = data.site("tip").xpos[:2], model.site("target").pos[:2]
    return np.concatenate([np.cos(data.qpos), np.sin(data.qpos), data.qvel, target - tip]).astype(np.float64)


def _reward(data: mujoco.MjData, model: mujoco.MjModel) -> float:
    return float(-np.linalg.norm(data.site("tip").xpos[:2] - model.site("target").pos[:2]))


class MyRobot(gym.Env):
    """Plain gymnasium.Env: model from the XML string, `mujoco.Renderer` for frames."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, render_mode: str | None = None, width: int = 64, height: int = 64) -> None:
        self.model = mujoco.MjModel.from_xml_string(ARM_XML)
        self.data = mujoco.MjData(self.model)
        self.render_mode, self._size = render_mode, (height, width)
        self._renderer: mujoco.Renderer | None = None
        self.action_space = spaces.Box(-2.0, 2.0, (2,), np.float64)
        self.observation_space = spaces.Box(-np.inf, np.inf, (8,), np.float64)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = self.np_random.uniform(-np.pi, np.pi, 2)
        mujoco.mj_forward(self.model, self.data)
        return _observation(self.data, self.model), {}

    def step(self, action):
        self.data.ctrl[:] = np.clip(action, -2.0, 2.0)
        mujoco.mj_step(self.model, self.data)
        return _observation(self.data, self.model), _reward(self.data, self.model), False, False, {}

    def render(self):
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, *self._size)
        self._renderer.update_scene(self.data, camera="top")
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


class MyRobotMj(MujocoEnv):
    """The same arm through Gymnasium's MujocoEnv, which loads models from files."""

    metadata = {"render_modes": ["human", "rgb_array", "depth_array", "rgbd_tuple"], "render_fps": 50}

    def __init__(self, **kwargs: Any) -> None:
        handle, path = tempfile.mkstemp(suffix=".xml")
        with os.fdopen(handle, "w") as f:
            f.write(ARM_XML)
        try:
            MujocoEnv.__init__(self, path, frame_skip=1, default_camera_config={"trackbodyid": -1, "distance": 1.0,
                                                                                  "elevation": -90.0},
                               observation_space=spaces.Box(-np.inf, np.inf, (8,), np.float64), **kwargs)
        finally:
            os.unlink(path)

    def step(self, action):
        self.do_simulation(action, self.frame_skip)
        return _observation(self.data, self.model), _reward(self.data, self.model), False, False, {}

    def reset_model(self) -> np.ndarray:
        self.set_state(self.np_random.uniform(-np.pi, np.pi, 2), np.zeros(2))
        return _observation(self.data, self.model)


class DiscreteRobot(MyRobot):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.action_space = spaces.Discrete(3)


class UnboundedRobot(MyRobot):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.action_space = spaces.Box(-np.inf, np.inf, (2,), np.float64)


class TerminatingRobot(MyRobot):
    """Ends its episodes itself (terminated, not truncated) after 7 control steps."""

    def reset(self, **kwargs: Any):
        self._steps = 0
        return super().reset(**kwargs)

    def step(self, action):
        obs, reward, _, truncated, info = super().step(action)
        self._steps += 1
        return obs, reward, self._steps >= 7, truncated, info


def tip_speed_cost(env: gym.Env, obs: np.ndarray, info: dict[str, Any]) -> float:
    """A user's safety cost: the elbow joint spinning faster than 3 rad/s."""
    return float(abs(env.data.qvel[1]) > 3.0)


gym.register("MyRobot-v0", entry_point=MyRobot, max_episode_steps=EPISODE_STEPS)
gym.register("MyRobotMj-v0", entry_point=MyRobotMj, max_episode_steps=EPISODE_STEPS)
gym.register("MyRobotDiscrete-v0", entry_point=DiscreteRobot, max_episode_steps=EPISODE_STEPS)
gym.register("MyRobotUnbounded-v0", entry_point=UnboundedRobot, max_episode_steps=EPISODE_STEPS)
gym.register("MyRobotEndless-v0", entry_point=MyRobot)
gym.register("MyRobotTerminating-v0", entry_point=TerminatingRobot, max_episode_steps=EPISODE_STEPS)
