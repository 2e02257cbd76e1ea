"""--prior-margin M: act on the policy prior's own plan unless the planner's is predicted to return M more."""

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agent.world_model_agent import WorldModelAgent
from agent.cli import main
from agent.config import ConfigError, RunConfig
from tests.support import TINY

OBS_DIM, ACTION_DIM = 6, 2


def agent_with_margin(margin: float) -> WorldModelAgent:
    torch.manual_seed(0)
    cfg = RunConfig()
    cfg.model.latent_dim, cfg.model.hidden_dim = 16, 32
    cfg.plan.num_samples, cfg.plan.num_elites, cfg.plan.iterations, cfg.plan.num_policy_samples = 32, 4, 2, 4
    cfg.plan.prior_margin = margin
    agent = WorldModelAgent((OBS_DIM,), ACTION_DIM, cfg.validate(), torch.device("cpu"))
    for p in agent.policy.parameters():  # a prior whose mean action is far from zero
        p.data.normal_(0, 0.5)
    return agent


def test_an_unbeatable_margin_acts_on_the_prior_mean_action():
    agent = agent_with_margin(1e9)
    obs = np.linspace(-1, 1, OBS_DIM).astype(np.float32)
    action = agent.act(obs, explore=False, rng=np.random.default_rng(0))
    with torch.no_grad():
        expected = agent.policy.mean_action(agent.world_model.initial_latent(torch.as_tensor(obs).unsqueeze(0)))[0]
    np.testing.assert_allclose(action, expected.numpy(), atol=1e-6)
    assert agent.plan_stats() == {"prior_kept_fraction": 1.0}


def test_without_a_margin_the_planner_acts_and_nothing_is_logged():
    on, off = agent_with_margin(1e9), agent_with_margin(-1.0)
    obs = np.linspace(-1, 1, OBS_DIM).astype(np.float32)
    torch.manual_seed(5)
    planned = off.act(obs, explore=False, rng=np.random.default_rng(0))
    torch.manual_seed(5)
    kept = on.act(obs, explore=False, rng=np.random.default_rng(0))
    assert off.plan_stats() == {}
    assert not np.allclose(planned, kept)  # the two settings act differently here, so the test above can tell


def test_a_margin_without_value_or_prior_is_refused():
    cfg = RunConfig()
    cfg.plan.prior_margin, cfg.model.use_value = 1.0, False
    with pytest.raises(ConfigError, match="invalid prior_margin=1.0"):
        cfg.validate()


def test_a_run_with_a_margin_logs_how_often_the_prior_was_kept(tmp_path):
    assert main(["train", "--env", "Reacher-v5", "--steps", "150", "--seed-steps", "100", "--eval-every", "100000",
                 "--video-every", "0", "--prior-margin", "0", "--logdir", str(tmp_path), "--run-name", "run", *TINY]) == 0
    ea = EventAccumulator(str(tmp_path / "run"), size_guidance={"scalars": 0})
    ea.Reload()
    values = [e.value for e in ea.Scalars("plan/prior_kept_fraction")]
    assert values and all(0.0 <= v <= 1.0 for v in values)
