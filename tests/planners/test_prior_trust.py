"""prior_trust: a soft trust region around the policy prior in the planners' ranking (issue 27)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agent.config import ConfigError, RunConfig
from agent.world_model_agent import WorldModelAgent
from planners import CEMConfig, make_planner
from planners.rollout import imagined_returns
from tests.planners.point_mass import KINDS, PointMass, config, start, true_return

PRIOR = torch.tensor([-0.5, 0.5])


def constant_prior(z: torch.Tensor) -> torch.Tensor:
    return PRIOR.expand(z.shape[0], -1)


def test_the_penalty_is_taken_at_each_step_latent_and_discounted_like_the_reward():
    model = PointMass([0.0, 0.0], gain=1.0, squared=True)
    actions = torch.tensor([[[0.5, 0.0]], [[0.0, 0.5]]])  # (H=2, n=1, A=2)
    returns = torch.zeros(1)
    low, high = torch.full((2,), -1.0), torch.full((2,), 1.0)
    imagined_returns(model.next_latent_and_reward, torch.zeros(1, 2), actions, returns, horizon=2, discount=0.5,
                     low=low, high=high, prior_mean=lambda z: z, prior_trust=2.0)
    # z: (0,0) -> (0.5,0) -> (0.5,0.5); rewards -0.25 and -0.5; prior = the latent each action is taken in:
    # step 0: mean((0.5,0)-(0,0))^2 = 0.125; step 1: mean((0,0.5)-(0.5,0))^2 = 0.25
    expected = (-0.25 - 2.0 * 0.125) + 0.5 * (-0.5 - 2.0 * 0.25)
    assert float(returns[0]) == pytest.approx(expected)


@pytest.mark.parametrize("kind", KINDS)
def test_trust_pulls_the_plan_from_the_model_optimum_toward_the_prior(kind: str):
    model = PointMass([2.0, -1.0])  # the optimum is the bound corner (1, -1); the prior says (-0.5, 0.5)
    actions = {}
    for trust in (0.0, 0.5, 50.0):
        torch.manual_seed(0)
        planner = make_planner(kind, model, 2, config(kind, prior_trust=trust), prior_mean=constant_prior)
        actions[trust] = planner.plan(start(2))
    assert torch.allclose(actions[0.0], torch.tensor([1.0, -1.0]), atol=0.1)
    gap = {t: float((a - PRIOR).norm()) for t, a in actions.items()}
    assert gap[50.0] < gap[0.5] < gap[0.0] - 0.5
    # Some trust still heads for the goal: better under the true dynamics than the prior's action.
    assert true_return(model, actions[0.5].expand(1, -1)) > true_return(model, PRIOR.expand(1, -1))
    if kind == "cem":  # (MPPI's sharp weights collapse its std onto one sample, so it gets there more slowly)
        assert torch.allclose(actions[50.0], PRIOR, atol=0.1)


def test_trust_without_a_prior_is_refused_and_a_negative_trust_is_not_a_setting():
    with pytest.raises(ValueError, match="prior_trust=1 needs a prior_mean"):
        make_planner("cem", PointMass([1.0]), 1, CEMConfig(prior_trust=1.0))
    with pytest.raises(ValueError, match="prior_trust"):
        CEMConfig(prior_trust=-1.0)
    cfg = RunConfig()
    cfg.plan.prior_trust, cfg.model.use_policy_prior = 1.0, False
    with pytest.raises(ConfigError, match="invalid prior_trust=1.0"):
        cfg.validate()


def test_the_agent_plans_near_its_prior_under_a_large_trust():
    obs = np.linspace(-1, 1, 6).astype(np.float32)
    acted = {}
    for trust in (0.0, 1e4):
        torch.manual_seed(0)
        cfg = RunConfig()
        cfg.model.latent_dim, cfg.model.hidden_dim = 16, 32
        cfg.plan.planner, cfg.plan.prior_trust = "cem", trust
        agent = WorldModelAgent((6,), 2, cfg.validate(), torch.device("cpu"))
        for p in agent.policy.parameters():  # a prior whose mean action is far from zero
            p.data.normal_(0, 0.5)
        with torch.no_grad():
            prior = agent.policy.mean_action(agent.world_model.initial_latent(torch.as_tensor(obs).unsqueeze(0)))[0]
        acted[trust] = agent.act(obs, explore=False, rng=np.random.default_rng(0))
    np.testing.assert_allclose(acted[1e4], prior.numpy(), atol=0.1)
    assert np.abs(acted[0.0] - prior.numpy()).max() > 0.2  # without trust it acts elsewhere, so the test can tell
