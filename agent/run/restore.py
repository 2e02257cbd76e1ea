"""A trained agent back from its checkpoint: config, weights and the env it was trained on.

Shared by ``wm-agent eval`` (`agent.run.evaluate.evaluate_checkpoint`) and the Python API
(`agent.load`), so both refuse the same checkpoints with the same one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

from agent.layout import CHECKPOINT_DIR
from agent.world_model_agent import WorldModelAgent, build_agent
from agent.run.checkpoint import CheckpointError, list_checkpoints, load_checkpoint
from agent.config import ConfigError, PlanConfig, RunConfig


@dataclass
class RestoredRun:
    checkpoint: Path
    config: RunConfig
    env_steps: int
    env: gym.Env            # made from the run's config: the same wrappers, spaces and action repeat
    agent: WorldModelAgent  # weights loaded, on the chosen device

    def close(self) -> None:
        self.agent.close()
        self.env.close()


def newest_checkpoint(path: Path) -> Path:
    """``path`` itself if it is a checkpoint file, else the newest checkpoint of the run directory ``path``."""
    if path.is_dir():
        checkpoints = list_checkpoints(path / CHECKPOINT_DIR)
        if not checkpoints:
            raise CheckpointError(f"{path}: no checkpoints/ckpt_*.pt in it; expected a run directory or a "
                                  "checkpoint file")
        return checkpoints[-1]
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file or directory; expected a run directory or a checkpoint file")
    return path


def restore_run(path: Path, device: torch.device, trust: bool = False, with_llm: bool = True,
                plan: Mapping[str, Any] | None = None) -> RestoredRun:
    """Load a run directory's newest checkpoint (or a checkpoint file) onto ``device``.

    The checkpoint is read onto the CPU first, so a run trained on a GPU restores on a laptop.
    ``trust`` unpickles a format-1 checkpoint (it can run code). ``with_llm=False`` leaves out the
    LLM proposer of a run trained with one (the planner alone acts). ``plan`` changes how the
    restored agent acts: `PlanConfig` fields by name (e.g. ``{"prior_margin": 5.0}``), checked as
    ``wm-agent train`` checks them; the learned weights do not depend on them.
    """
    from envs import make_env

    path = newest_checkpoint(Path(path))
    state = load_checkpoint(path, trust=trust)
    try:
        cfg = RunConfig.from_saved(state["config"]).validate()
        env_steps = int(state["env_steps"])
    except (KeyError, TypeError, ValueError) as exc:  # ConfigError included: a damaged or foreign config
        what = f"no {exc} entry" if isinstance(exc, KeyError) else str(exc)
        raise CheckpointError(f"checkpoint {path}: {what}; expected one written by 'wm-agent train'") from None
    if not with_llm:
        cfg = replace(cfg, plan=replace(cfg.plan, proposer="none"))
    if plan:
        cfg = with_plan_options(cfg, plan)
    env = make_env(cfg.env.name, obs=cfg.env_obs_mode, action_repeat=cfg.env.action_repeat or None,
                   image_size=cfg.env.image_size, safety=cfg.env.safety())
    try:
        agent = build_agent(cfg, env, device)  # with its LLM proposer when the run was trained with one
    except BaseException:
        env.close()
        raise
    try:
        agent.load_state_dict(state["agent"])
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:  # e.g. its config names another env
        agent.close()
        env.close()
        raise CheckpointError(f"checkpoint {path}: its weights do not fit its config (env {cfg.env.name}, "
                              f"--obs {cfg.env.obs}): {_reason(exc)}") from None
    return RestoredRun(path, cfg, env_steps, env, agent)


def with_plan_options(cfg: RunConfig, options: Mapping[str, Any]) -> RunConfig:
    """``cfg`` with some `PlanConfig` fields changed; ConfigError (one line) for an unknown name or a
    value ``wm-agent train`` would refuse."""
    names = {f.name for f in fields(PlanConfig)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise ConfigError(f"unknown planner option {unknown[0]!r}; accepted: {', '.join(sorted(names))}")
    return replace(cfg, plan=replace(cfg.plan, **options)).validate()


def _reason(exc: BaseException) -> str:
    """The first informative line of a load error (torch's first line is only a header)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    return lines[1] if len(lines) > 1 and lines[0].endswith(":") else lines[0]
