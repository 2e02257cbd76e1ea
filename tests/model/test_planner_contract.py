"""Every world model keeps the contract of ``planners.model`` (shapes, dtypes, batching row by row, no
gradients, pure and deterministic), with the optional parts the agent hands the planner beside it, and a
planner plans with it. The models are built as a run builds them: through ``WorldModelAgent``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from agent.config import RunConfig
from agent.model.robotics_model import RoboticsWorldModel
from agent.model.world_model import LatentWorldModel
from agent.world_model_agent import WorldModelAgent
from envs.fused import fuse
from planners import CEMConfig, LatentModel, MPPIConfig, make_planner

ACTION, SIZE, STATE = 2, 32, 5
LOW, HIGH = torch.tensor([-0.5, -0.2]), torch.tensor([0.25, 0.6])  # asymmetric: "in bounds" is not [-1, 1]


@dataclass
class Case:
    agent: WorldModelAgent
    obs: torch.Tensor  # a batch of 3 observations as the env gives them

    @property
    def model(self) -> nn.Module:
        return self.agent.world_model


def _config(kind: str) -> RunConfig:
    cfg = RunConfig()
    cfg.model.latent_dim, cfg.model.hidden_dim, cfg.model.num_bins = 16, 32, 21
    cfg.plan.num_samples, cfg.plan.num_elites, cfg.plan.iterations, cfg.plan.num_policy_samples = 16, 4, 2, 4
    cfg.env.image_size = SIZE
    if kind == "latent-state":
        cfg.plan.safety_budget = 0.5  # a safety head beside the latent model, and the planner's constraint
    else:
        cfg.env.obs = "pixels"
    if kind == "robotics":
        cfg.model.world_model = "robotics"
        cfg.plan.safety_budget = 0.5
    return cfg.validate()


def _observations(kind: str, rng: np.random.Generator) -> torch.Tensor:
    frames = rng.integers(0, 256, (3, SIZE, SIZE, 3), dtype=np.uint8)
    states = rng.normal(0, 3, (3, STATE)).astype(np.float32)
    if kind == "latent-state":
        return torch.from_numpy(states)
    if kind == "latent-pixels":
        return torch.from_numpy(frames)
    return torch.from_numpy(np.stack([fuse(f, s) for f, s in zip(frames, states)]))


@pytest.fixture(scope="module", params=["latent-state", "latent-pixels", "robotics"])
def case(request) -> Case:
    kind = request.param
    obs = _observations(kind, np.random.default_rng(0))
    torch.manual_seed(0)
    agent = WorldModelAgent(tuple(obs.shape[1:]), ACTION, _config(kind), torch.device("cpu"))
    assert isinstance(agent.world_model, RoboticsWorldModel if kind == "robotics" else LatentWorldModel)
    # Untrained reward heads start at zero everywhere; give them weights so rewards differ by row.
    nn.init.normal_(agent.world_model.reward_head[-1].weight, std=0.5)
    agent.world_model.set_obs_stats(obs)  # standardise states as after the seed steps (frames: no-op)
    return Case(agent, obs)


def _latent_dim(model: nn.Module) -> int:
    return model.latent_dim if isinstance(model, RoboticsWorldModel) else model.cfg.latent_dim


def _steps(n: int, latent: torch.Tensor, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` latents (rows of ``latent`` repeated and shuffled) and float32 actions in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    z = latent[torch.randint(0, latent.shape[0], (n,), generator=g)]
    return z, torch.rand(n, ACTION, generator=g) * 2 - 1


def check_contract(model: LatentModel, obs: torch.Tensor, latent_dim: int) -> None:
    """Assert the contract of planners/model.py on ``model`` for a batch ``obs`` of 3."""
    assert isinstance(model, LatentModel)
    with torch.no_grad():
        z0 = model.initial_latent(obs)
        assert z0.shape == (3, latent_dim) and z0.is_floating_point() and not z0.requires_grad
        for n in (1, 7):
            z, a = _steps(n, z0)
            next_z, reward = model.next_latent_and_reward(z, a)
            assert next_z.shape == (n, latent_dim) and next_z.is_floating_point(), (n, next_z.shape)
            assert reward.shape == (n,) and reward.dtype == torch.float32, (n, reward.shape, reward.dtype)
            assert not next_z.requires_grad and not reward.requires_grad
            assert bool(torch.isfinite(next_z).all() and torch.isfinite(reward).all())
        # Row by row: a row's outputs are those of that row alone (no batch statistics).
        z, a = _steps(7, z0)
        next_z, reward = model.next_latent_and_reward(z, a)
        for i in (0, 4):
            alone_z, alone_r = model.next_latent_and_reward(z[i:i + 1], a[i:i + 1])
            torch.testing.assert_close(alone_z[0], next_z[i], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(alone_r[0], reward[i], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.initial_latent(obs[1:2])[0], z0[1], atol=1e-5, rtol=1e-5)
        # Pure and deterministic: the same inputs give the same outputs, and the model is unchanged.
        before = {k: v.clone() for k, v in model.state_dict().items()} if isinstance(model, nn.Module) else {}
        again_z, again_r = model.next_latent_and_reward(z, a)
        assert torch.equal(again_z, next_z) and torch.equal(again_r, reward)
        assert torch.equal(model.initial_latent(obs), z0)
        for key, value in before.items():
            assert torch.equal(model.state_dict()[key], value), key
    # Nothing needs autograd: with gradients on, the values are the same.
    with_grad_z, with_grad_r = model.next_latent_and_reward(z, a)
    torch.testing.assert_close(with_grad_z.detach(), next_z)
    torch.testing.assert_close(with_grad_r.detach(), reward)


def test_the_model_keeps_the_planner_contract(case):
    check_contract(case.model, case.obs, _latent_dim(case.model))
    assert case.agent.planner.model is case.model  # the planner searches this very model


def test_under_bf16_autocast_rewards_stay_float32(case):
    z0 = case.model.initial_latent(case.obs).detach()
    z, a = _steps(5, z0)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        next_z, reward = case.model.next_latent_and_reward(z, a)
    assert next_z.shape == (5, _latent_dim(case.model)) and next_z.dtype in (torch.bfloat16, torch.float32)
    assert reward.shape == (5,) and reward.dtype == torch.float32


def test_the_optional_parts_keep_their_shapes(case):
    agent = case.agent
    with torch.no_grad():
        z, _ = _steps(6, case.model.initial_latent(case.obs))
        value = agent.terminal_value(z)
        actions = agent.policy.sample(z)
        assert value.shape == (6,) and value.is_floating_point()
        assert actions.shape == (6, ACTION) and bool(((actions >= -1) & (actions <= 1)).all())
        if agent.constraint is not None:
            p = agent.constraint.p_unsafe(z, actions)
            assert p.shape == (6,) and bool(((p >= 0) & (p <= 1)).all())
    # The robotics model and a safety budget bring the planner a constraint; the others do not.
    assert (agent.constraint is not None) == (agent.cfg.plan.safety_budget >= 0)


class _Recording:
    """Passes calls to a model and records what the planner sends: grad mode, shapes and dtypes, bounds."""

    def __init__(self, model: LatentModel) -> None:
        self.model, self.calls = model, []

    def initial_latent(self, obs: torch.Tensor) -> torch.Tensor:
        self.calls.append(("encode", torch.is_grad_enabled(), tuple(obs.shape), obs.dtype))
        return self.model.initial_latent(obs)

    def next_latent_and_reward(self, z: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        in_bounds = bool(((action >= LOW) & (action <= HIGH)).all())
        self.calls.append(("step", torch.is_grad_enabled(), tuple(z.shape), action.dtype, in_bounds))
        return self.model.next_latent_and_reward(z, action)


@pytest.mark.parametrize("planner, config_class", [("cem", CEMConfig), ("mppi", MPPIConfig)])
def test_a_planner_plans_one_action_in_bounds_with_the_model_and_its_parts(case, planner, config_class):
    agent = case.agent
    model = _Recording(case.model)
    config = config_class(horizon=3, num_samples=16, num_elites=4, iterations=2, num_policy_samples=4,
                          dtype_autocast=False)
    plan = make_planner(planner, model, ACTION, config, action_low=LOW, action_high=HIGH,
                        terminal_value=agent.terminal_value, policy_prior=agent.policy.sample,
                        constraint=agent.constraint)
    for explore in (False, True):
        action = plan.plan(case.obs[:1], explore=explore)
        assert action.shape == (ACTION,) and action.dtype == torch.float32
        assert bool(torch.isfinite(action).all() and (action >= LOW).all() and (action <= HIGH).all()), action
    assert ("encode", False, (1, *case.obs.shape[1:]), case.obs.dtype) in model.calls
    steps = [c for c in model.calls if c[0] == "step"]
    assert steps and all(not grad and dtype == torch.float32 and ok for _, grad, _, dtype, ok in steps)
    assert {shape[1] for _, _, shape, _, _ in steps} == {_latent_dim(case.model)}
    assert len({shape[0] for _, _, shape, _, _ in steps}) > 1  # batches of several sizes, as the contract says


class _MixesRows(nn.Module):
    """Breaks 'row by row': normalises the latents over the batch."""

    def initial_latent(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.float()

    def next_latent_and_reward(self, z: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        next_z = torch.cat([z[:, :3], action], -1)
        next_z = next_z - next_z.mean(0)
        return next_z, next_z.sum(-1)


class _Remembers(_MixesRows):
    """Breaks 'pure' (but not its outputs): every step keeps the last latents' mean in a buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("last_mean", torch.zeros(()))

    def next_latent_and_reward(self, z: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.last_mean.copy_(z.mean())
        next_z = torch.cat([z[:, :3], action], -1)
        return next_z, next_z.sum(-1)


@pytest.mark.parametrize("broken, why", [(_MixesRows, "not close"), (_Remembers, "last_mean")])
def test_the_contract_check_refuses_a_model_that_breaks_it(broken, why):
    with pytest.raises(AssertionError, match=why):
        check_contract(broken(), torch.randn(3, 5), 5)
