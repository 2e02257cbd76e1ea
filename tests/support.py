"""What several tests share that is not a fixture: tiny CLI configurations, small model builders and
readers of what a run wrote. Fixtures are in ``conftest.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agent.config import LearnConfig, ModelConfig
from agent.learn.learner import Learner
from agent.learn.replay import EpisodeReplay
from agent.model.policy_prior import PolicyPrior
from agent.model.value import QEnsemble
from agent.model.world_model import LatentWorldModel

ROOT = Path(__file__).resolve().parent.parent

# A tiny but complete configuration: every part runs, nothing is big.
TINY = ["--latent-dim", "16", "--hidden-dim", "32", "--num-samples", "32", "--num-elites", "4",
        "--iterations", "2", "--num-policy-samples", "4", "--batch-size", "16", "--pretrain-updates", "5",
        "--eval-episodes", "1", "--no-progress"]
# For runs in a child process or beside another: two torch threads each spin against each other on a busy machine.
TINY_ONE_THREAD = [*TINY, "--threads", "1"]


def only_run_dir(logdir: Path) -> Path:
    runs = list(logdir.iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def tensorboard_tags(run_dir: Path) -> EventAccumulator:
    ea = EventAccumulator(str(run_dir), size_guidance={"images": 0, "scalars": 0})
    ea.Reload()
    return ea


def scalar_steps(run_dir: Path, tag: str) -> list[int]:
    return [e.step for e in tensorboard_tags(run_dir).Scalars(tag)]


def episode_ends(replay: EpisodeReplay) -> list[int]:
    return np.cumsum(replay.episode_lengths).tolist()


def fixed_batch(steps: int = 3, batch: int = 64, obs_dim: int = 5, action_dim: int = 2, seed: int = 0):
    """Sub-sequences of a known linear system, so there is something to learn."""
    g = torch.Generator().manual_seed(seed)
    obs = [torch.randn(batch, obs_dim, generator=g)]
    actions = torch.rand(steps, batch, action_dim, generator=g) * 2 - 1
    mix = torch.randn(action_dim, obs_dim, generator=g) * 0.3
    for t in range(steps):
        obs.append(0.9 * obs[-1] + actions[t] @ mix)
    obs_t = torch.stack(obs)
    reward = -obs_t[1:].pow(2).sum(-1) * 0.1
    return {"obs": obs_t, "action": actions, "reward": reward, "terminated": torch.zeros(steps, batch, dtype=torch.bool)}


def build_latent_model(obs_shape, action_dim=2, use_actor_critic=True, bf16=False, recon_batch=None):
    """A small latent world model with its critic, policy prior and learner, seeded."""
    torch.manual_seed(0)
    m = ModelConfig(latent_dim=32, hidden_dim=64, simnorm_dim=8)
    wm = LatentWorldModel(obs_shape, action_dim, m)
    critic = QEnsemble(32, action_dim, 64, 2, m.num_bins) if use_actor_critic else None
    policy = PolicyPrior(32, action_dim, 64) if use_actor_critic else None
    return wm, critic, policy, Learner(wm, critic, policy, LearnConfig(lr=1e-3, update_bf16=bf16), m,
                                       recon_batch=recon_batch)


def one_line_error(capsys) -> str:
    """The one error line a refused command printed (and that it was one line, without a traceback)."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("wm-agent: error: ") and "Traceback" not in err, err
    return err
