"""wm-agent from Python: load a trained run and act, imagine in its model, or train with the CLI's configs.

    import agent
    policy = agent.load("runs/reacher-easy-state-mppi-s1-...")   # newest checkpoint, on the CPU
    env = policy.make_env(seed=0)
    obs, _ = env.reset(seed=0)
    action = policy.act(obs)                                      # planned, in [-1, 1]

As Stable-Baselines3's ``Model.load`` then ``predict``: the same config dataclasses and the same
one-line errors as ``wm-agent train`` / ``eval``. Actions are in [-1, 1], the action space of
``policy.make_env()`` (the env with the run's wrappers: action rescaling, action repeat).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agent.layout import CONFIG_FILE, EXIT_INTERRUPTED
from agent.config import RunConfig
from agent.run.restore import RestoredRun, restore_run


@dataclass
class Imagination:
    """An open-loop trajectory in the learned model from one real observation."""

    observations: np.ndarray    # (T+1, ...) decoded, in the env's units (frames as uint8 HxWx3)
    rewards: np.ndarray         # (T,) predicted
    latents: np.ndarray         # (T+1, Z)
    p_unsafe: np.ndarray | None  # (T,) the safety head's P(unsafe) of each action; None without a head


class Policy:
    """A trained wm-agent that acts on observations (use `load`)."""

    def __init__(self, run: RestoredRun, seed: int = 0) -> None:
        self._run = run
        self._rng = np.random.default_rng(seed)
        self.config: RunConfig = run.config
        self.env_steps: int = run.env_steps      # how long it trained (agent decisions)
        self.checkpoint: Path = run.checkpoint
        self.observation_space = run.env.observation_space
        self.action_space = run.env.action_space
        self.device = run.agent.device

    # --- acting -------------------------------------------------------------------------
    def act(self, obs: np.ndarray, *, plan: bool = True, explore: bool = False) -> np.ndarray:
        """The action for one observation ``(*obs_shape)`` -> ``(A,)``, or a batch ``(N, *obs_shape)`` -> ``(N, A)``.

        ``plan=True`` plans with the run's planner (CEM/MPPI in the model); one observation at a time
        it warm-starts from the previous plan, as in an episode (call `reset` between episodes); a
        batch is planned observation by observation, each from a cold start. ``plan=False`` takes the
        policy prior's mean action, batched in one call (needs a run with the policy prior).
        ``explore`` adds the training-time exploration noise.
        """
        obs = np.asarray(obs)
        shape = tuple(self.observation_space.shape)
        if obs.shape != shape and obs.shape[1:] != shape:
            raise ValueError(f"observation of shape {obs.shape}: expected {shape} or a batch "
                             f"(N, {', '.join(map(str, shape))})")
        single = obs.shape == shape
        batch = obs[None] if single else obs
        agent = self._run.agent
        if not plan:
            if agent.policy is None:
                raise ValueError("act(plan=False) needs the policy prior, and this run was trained without it "
                                 "(--no-policy-prior); use plan=True")
            with torch.no_grad():
                z = agent.world_model.initial_latent(torch.as_tensor(batch, device=self.device))
                actions = agent.policy.mean_action(z).float().cpu().numpy()
        elif single:
            actions = agent.act(obs, explore=explore, rng=self._rng)[None]
        else:
            actions = np.stack([self._plan_cold(o, explore) for o in batch])
        return actions[0] if single else actions

    def _plan_cold(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        self._run.agent.planner.reset()
        action = self._run.agent.act(obs, explore=explore, rng=self._rng)
        self._run.agent.planner.reset()
        return action

    def reset(self) -> None:
        """Call at each episode start: forgets the previous plan (and an LLM proposer's answers)."""
        self._run.agent.reset()

    # --- the model ------------------------------------------------------------------------
    @torch.no_grad()
    def imagine(self, obs: np.ndarray, actions: np.ndarray) -> Imagination:
        """Roll ``actions`` ``(T, A)`` out open-loop in the model from the real observation ``obs``."""
        actions = np.asarray(actions, np.float32)
        if actions.ndim != 2 or actions.shape[1] != self.action_space.shape[0]:
            raise ValueError(f"actions of shape {actions.shape}: expected (T, {self.action_space.shape[0]})")
        agent = self._run.agent
        model = agent.world_model
        z = model.initial_latent(torch.as_tensor(np.asarray(obs), device=self.device).unsqueeze(0))
        latents, rewards, p_unsafe = [z], [], []
        for a in torch.as_tensor(actions, device=self.device):
            a = a.unsqueeze(0)
            if agent.safety_head is not None:
                p_unsafe.append(agent.safety_head.p_unsafe(z, a))
            z, r = model.next_latent_and_reward(z, a)
            latents.append(z)
            rewards.append(r)
        all_z = torch.cat(latents)
        return Imagination(observations=self.decode(all_z),
                           rewards=torch.cat(rewards).float().cpu().numpy() if rewards else np.zeros(0, np.float32),
                           latents=all_z.float().cpu().numpy(),
                           p_unsafe=torch.cat(p_unsafe).float().cpu().numpy() if p_unsafe else None)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> np.ndarray:
        """Latents ``(N, Z)`` -> observations in the env's units (the robotics model: its proprioceptive state)."""
        out = self._run.agent.world_model.decode_observation(z).float().cpu().numpy()
        if out.ndim == 4:  # frames in [-0.5, 0.5]
            return np.clip((out + 0.5) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return out.astype(np.float32)

    @property
    def world_model(self) -> torch.nn.Module:
        """The learned model (encoder, latent dynamics, reward, decoder), in eval use only."""
        return self._run.agent.world_model

    @property
    def safety_head(self) -> torch.nn.Module | None:
        return self._run.agent.safety_head

    # --- the env --------------------------------------------------------------------------
    def make_env(self, seed: int | None = None) -> gym.Env:
        """A new env as the run trained on (its name, observation mode, action repeat, safety limits)."""
        from envs import make_env

        env = self.config.env
        return make_env(env.name, obs=self.config.env_obs_mode, action_repeat=env.action_repeat or None,
                        image_size=env.image_size, seed=seed, safety=env.safety())

    @property
    def max_episode_steps(self) -> int:
        """The real env's episode length in agent decisions."""
        return int(self._run.env.get_wrapper_attr("max_episode_steps"))

    def close(self) -> None:
        self._run.close()

    def __enter__(self) -> "Policy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load(path: str | Path, *, device: str = "cpu", seed: int = 0, trust_checkpoint: bool = False,
         llm: bool = False, plan: Mapping[str, Any] | None = None) -> Policy:
    """A run directory's newest checkpoint (or a checkpoint file) as a `Policy` on ``device``.

    ``llm=True`` keeps the LLM proposer of a run trained with one (its server must be reachable);
    by default the planner acts alone. ``seed`` seeds the exploration noise of ``act(explore=True)``.
    ``plan`` changes how it plans: `agent.config.PlanConfig` fields by name, e.g.
    ``{"num_samples": 512, "prior_margin": 5.0}`` (an unknown name or a refused value is a ConfigError).
    Raises `agent.run.checkpoint.CheckpointError` (one line) for what is not a usable checkpoint.
    """
    from agent.run.runtime import pick_device

    return Policy(restore_run(Path(path), pick_device(device), trust=trust_checkpoint, with_llm=llm, plan=plan),
                  seed=seed)


def train(config: RunConfig, *, logdir: str | Path = "runs", run_name: str | None = None,
          progress: bool = True) -> Path:
    """Train a new run from ``config`` (the dataclasses of `agent.config`, as ``wm-agent train`` builds
    them); returns its run directory. Refuses what the CLI refuses, with the same one-line errors
    (`agent.run.launch.UserError`, `agent.config.ConfigError`, ...). Continue it with `resume`."""
    from agent.run.launch import new_run_directory, start_training

    config.validate()
    logdir = Path(logdir)
    run_dir = new_run_directory(config, logdir, run_name)
    _check_status(start_training(config, run_dir, logdir=logdir, progress=progress), run_dir)
    return run_dir


def resume(run_dir: str | Path, *, steps: int | None = None, progress: bool = True) -> Path:
    """Continue a run from its last checkpoint and replay, to ``steps`` env steps if given."""
    from agent.run.launch import UserError, start_training

    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise UserError(f"{run_dir}: not a run directory (no {CONFIG_FILE} in it)")
    config = RunConfig.load(run_dir / CONFIG_FILE)
    changes = []
    if steps is not None and steps != config.steps:
        changes, config.steps = [f"steps: {config.steps} -> {steps}"], steps
    config.validate()
    _check_status(start_training(config, run_dir, logdir=None, progress=progress, changes=changes), run_dir)
    return run_dir


def _check_status(status: int, run_dir: Path) -> None:
    if status == EXIT_INTERRUPTED:  # Ctrl-C (or SIGTERM) after the checkpoint: stop the caller too, as Python does
        raise KeyboardInterrupt(f"training in {run_dir} was interrupted; its checkpoint is written: continue it with "
                                f"agent.resume({str(run_dir)!r})")
    if status != 0:
        raise RuntimeError(f"training in {run_dir} ended with status {status}: its last checkpoint or an episode "
                           "file could not be written (see its train.log)")
