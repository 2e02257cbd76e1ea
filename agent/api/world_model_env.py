"""The learned world model as a Gymnasium env: other libraries train or test policies in imagination.

``reset()`` starts from a real observation of the run's replay (its episodes' first observations,
the real env's reset distribution; or any stored observation); ``step(action)`` rolls the latent
forward with the learned dynamics and returns the predicted reward. Observations are the model's
decoded predictions in the real env's units (so a policy trained here acts on the real env as it
is), or the latents themselves (``observation="latent"``). The safety head's P(unsafe) of the
action, where the run learned one, is ``info["cost"]``. The model has no termination head:
episodes end by truncation after ``horizon`` steps (default: the real env's episode length).

    env = WorldModelEnv.from_run("runs/reacher-easy-...")
    model = stable_baselines3.SAC("MlpPolicy", env).learn(20_000)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from agent.layout import EPISODE_DIR
from agent.api.policy import Policy, load

Starts = Literal["episode_starts", "any"]


class WorldModelEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, policy: Policy, start_observations: np.ndarray, *, horizon: int | None = None,
                 observation: Literal["decoded", "latent"] = "decoded") -> None:
        if observation not in ("decoded", "latent"):
            raise ValueError(f"observation={observation!r}; accepted: 'decoded', 'latent'")
        if len(start_observations) == 0:
            raise ValueError("no start observations: the run's replay holds no episode")
        self.policy, self._observation = policy, observation
        self._starts = torch.as_tensor(np.asarray(start_observations), device=policy.device)
        self.horizon = int(horizon) if horizon is not None else policy.max_episode_steps
        if self.horizon < 1:
            raise ValueError(f"horizon={horizon!r}; accepted: an integer >= 1")
        self.action_space = spaces.Box(-1.0, 1.0, policy.action_space.shape, np.float32)
        with torch.no_grad():
            z = self._model.initial_latent(self._starts[:1])
        if observation == "latent":
            self.observation_space = spaces.Box(0.0, 1.0, (z.shape[-1],), np.float32)  # SimNorm: softmax groups
        else:
            sample = policy.decode(z)[0]
            low, high = (0, 255) if sample.dtype == np.uint8 else (-np.inf, np.inf)
            self.observation_space = spaces.Box(low, high, sample.shape, sample.dtype)
        self._z: torch.Tensor | None = None
        self._t = 0

    @classmethod
    def from_run(cls, path: str | Path, *, device: str = "cpu", starts: Starts = "episode_starts",
                 horizon: int | None = None, observation: Literal["decoded", "latent"] = "decoded",
                 max_starts: int = 10_000) -> "WorldModelEnv":
        """The model of a run directory's newest checkpoint, reset from its replay's observations."""
        from agent.learn.replay import EPISODE_FILE, load_episode

        if starts not in ("episode_starts", "any"):
            raise ValueError(f"starts={starts!r}; accepted: 'episode_starts', 'any'")
        run_dir = Path(path)
        files = sorted(p for p in (run_dir / EPISODE_DIR).glob("episode_*.npz") if EPISODE_FILE.match(p.name))
        observations: list[np.ndarray] = []
        for file in files:
            obs = load_episode(file).obs
            observations.extend(obs[:1] if starts == "episode_starts" else obs)
            if len(observations) >= max_starts:
                break
        return cls(load(run_dir, device=device), np.stack(observations[:max_starts]) if observations else
                   np.zeros((0,)), horizon=horizon, observation=observation)

    @property
    def start_observations(self) -> torch.Tensor:
        """The real observations an episode may start from (``info["start_index"]`` indexes them)."""
        return self._starts

    @property
    def _model(self) -> torch.nn.Module:
        return self.policy.world_model

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        index = int(self.np_random.integers(len(self._starts)))
        with torch.no_grad():
            self._z = self._model.initial_latent(self._starts[index:index + 1])
        self._t = 0
        return self._observe(), {"start_index": index}

    def step(self, action: np.ndarray):
        if self._z is None:
            raise RuntimeError("WorldModelEnv.step() before reset()")
        a = torch.as_tensor(np.clip(np.asarray(action, np.float32), -1.0, 1.0), device=self.policy.device)
        a = a.reshape(1, -1)
        info: dict[str, Any] = {}
        with torch.no_grad():
            if self.policy.safety_head is not None:
                info["cost"] = float(self.policy.safety_head.p_unsafe(self._z, a))
            self._z, reward = self._model.next_latent_and_reward(self._z, a)
        self._t += 1
        return self._observe(), float(reward), False, self._t >= self.horizon, info

    def _observe(self) -> np.ndarray:
        assert self._z is not None
        if self._observation == "latent":
            return self._z[0].float().cpu().numpy()
        return self.policy.decode(self._z)[0]

    def close(self) -> None:
        self.policy.close()
