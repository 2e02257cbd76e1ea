"""The robotics world model, the safety head and the fused observation they read."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from agent.world_model_agent import WorldModelAgent
from agent.config import ModelConfig, RunConfig
from agent.model.robotics_model import RoboticsWorldModel
from agent.model.safety_head import SafetyHead, SafetyLearner, precision_recall
from agent.run.video import PREDICTED_UNSAFE_COLOUR, VIOLATION_COLOUR, mark_safety
from envs.fused import fuse, fused_size, split_fused
from planners import ConstraintConfig, MPPIConfig, PlanConstraint, make_planner

SIZE, STATE, ACTION = 32, 5, 2


def fused_batch(*lead: int, seed: int = 0) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (*lead, SIZE, SIZE, 3), dtype=np.uint8)
    states = rng.normal(0, 3, (*lead, STATE)).astype(np.float32)
    rows = np.stack([fuse(f, s) for f, s in zip(frames.reshape(-1, SIZE, SIZE, 3), states.reshape(-1, STATE))])
    return torch.from_numpy(rows.reshape(*lead, -1)), frames, states


def small_model() -> RoboticsWorldModel:
    torch.manual_seed(0)
    return RoboticsWorldModel(SIZE, STATE, ACTION, ModelConfig(latent_dim=16, hidden_dim=32, num_bins=21))


def test_fused_rows_carry_frame_and_state_bit_exactly() -> None:
    rows, frames, states = fused_batch(3)
    assert rows.dtype == torch.uint8 and rows.shape == (3, fused_size(SIZE, STATE))
    got_frames, got_states = split_fused(rows, SIZE, STATE)
    np.testing.assert_array_equal(got_frames.numpy(), frames)
    np.testing.assert_array_equal(got_states.numpy(), states)
    with pytest.raises(ValueError, match="accepted"):
        split_fused(rows[:, :-1], SIZE, STATE)


def test_shapes_of_every_prediction_and_the_planner_interface() -> None:
    model = small_model()
    rows, _, states = fused_batch(4)
    model.set_obs_stats(rows)
    z = model.encode(rows)
    assert z.shape == (4, 16 + STATE) and model.latent_dim == 16 + STATE
    a = torch.rand(4, ACTION) * 2 - 1
    next_z, reward = model.next_latent_and_reward(z, a)
    assert next_z.shape == z.shape and reward.shape == (4,)
    assert torch.allclose(next_z, model.next(z, a))
    assert model.reward_logits(z, a).shape == (4, 21)
    p = model.p_unsafe(z, a)
    assert p.shape == (4,) and bool(((p >= 0) & (p <= 1)).all())
    assert model.decode(z).shape == (4, SIZE, SIZE, 3)
    # The state half of an encoded latent decodes back to the state, in env units.
    np.testing.assert_allclose(model.decode_observation(z).detach().numpy(), states, rtol=1e-4, atol=1e-4)
    # It plans, with its safety head as the constraint.
    constraint = PlanConstraint(model.p_unsafe, ConstraintConfig(budget=0.5))
    planner = make_planner("mppi", model, ACTION, MPPIConfig(horizon=3, num_samples=16, num_elites=4, iterations=2,
                                                             num_policy_samples=0, dtype_autocast=False),
                           constraint=constraint)
    with torch.no_grad():
        action = planner.plan(rows[:1])
    assert action.shape == (ACTION,) and "no_feasible_plan" in planner.last_stats


def robotics_agent() -> WorldModelAgent:
    cfg = RunConfig()
    cfg.env.obs, cfg.env.image_size = "pixels", SIZE
    cfg.model.world_model = "robotics"
    cfg.model.latent_dim, cfg.model.hidden_dim, cfg.model.num_bins = 16, 32, 21
    cfg.plan.num_samples, cfg.plan.num_elites, cfg.plan.iterations, cfg.plan.num_policy_samples = 16, 4, 2, 4
    cfg.learn.lr = 1e-3
    torch.manual_seed(0)
    return WorldModelAgent((fused_size(SIZE, STATE),), ACTION, cfg.validate(), torch.device("cpu"))


def test_losses_decrease_on_a_tiny_fixed_batch() -> None:
    agent = robotics_agent()
    horizon, batch = 3, 8
    rows, _, _ = fused_batch(horizon + 1, batch, seed=1)
    agent.world_model.set_obs_stats(rows.flatten(0, 1))
    gen = torch.Generator().manual_seed(2)
    cost = (torch.rand(horizon + 1, batch, generator=gen) < 0.2).float()
    data = {"obs": rows, "action": torch.rand(horizon, batch, ACTION, generator=gen) * 2 - 1,
            "reward": torch.rand(horizon, batch, generator=gen), "terminated": torch.zeros(horizon, batch, dtype=torch.bool),
            "cost": cost}
    history = [agent.update(data) for _ in range(40)]
    for key in ("consistency", "reward", "reconstruction", "safety", "total"):
        first, last = history[0][key], history[-1][key]
        assert last < first, f"{key}: {first:.4f} -> {last:.4f}"


class _Identity:
    """A 'world model' whose latent is the observation and which never moves: isolates the head."""

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return obs

    def next(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return z


def test_safety_head_learns_a_separable_rare_label_with_high_precision_and_recall() -> None:
    torch.manual_seed(0)
    head = SafetyHead(3, 2, 32)
    learner = SafetyLearner(head, _Identity(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)

    def batch(n: int) -> dict[str, torch.Tensor]:
        obs = torch.randn(2, n, 3, generator=gen)
        action = torch.rand(1, n, 2, generator=gen) * 2 - 1
        unsafe = (action[0, :, 0] > 0.8).float()  # about 10% of steps: rare, as in the envs
        return {"obs": obs, "action": action, "cost": torch.stack([torch.zeros(n), unsafe])}

    for _ in range(300):
        learner.update(batch(256))
    assert 0.05 < learner.pos_rate < 0.15 and learner.pos_weight() == pytest.approx(
        math.sqrt((1 - learner.pos_rate) / learner.pos_rate))
    held_out = batch(2000)
    with torch.no_grad():
        p = head.p_unsafe(held_out["obs"][0], held_out["action"][0]).numpy()
    precision, recall = precision_recall(p >= 0.5, held_out["cost"][1].numpy() > 0)
    assert precision > 0.85 and recall > 0.9, (precision, recall)


def test_precision_and_recall_definitions() -> None:
    assert precision_recall(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0])) == (0.5, 0.5)
    precision, recall = precision_recall(np.zeros(3), np.zeros(3))
    assert math.isnan(precision) and math.isnan(recall)


def test_latent_model_learns_a_safety_head_when_a_budget_is_set() -> None:
    cfg = RunConfig()
    cfg.model.latent_dim, cfg.model.hidden_dim = 16, 32
    cfg.plan.num_samples, cfg.plan.num_elites, cfg.plan.iterations = 16, 4, 2
    cfg.plan.safety_budget = 0.3
    agent = WorldModelAgent((6,), ACTION, cfg.validate(), torch.device("cpu"))
    assert agent.safety_head is not None and agent.planner.constraint is not None
    agent.act(np.zeros(6, np.float32), explore=False, rng=np.random.default_rng(0))
    assert 0.0 <= agent.last_p_unsafe <= 1.0 and "no_feasible_plan" in agent.planner.last_stats
    plain = RunConfig()
    plain.model.latent_dim, plain.model.hidden_dim = 16, 32
    assert WorldModelAgent((6,), ACTION, plain.validate(), torch.device("cpu")).safety_head is None


def test_eval_frames_mark_predicted_and_real_violations_differently() -> None:
    frames = np.zeros((3, 16, 16, 3), np.uint8)
    marked = mark_safety(frames, [(False, False), (True, False), (True, True)])
    assert not marked[0].any()
    assert tuple(marked[1, 2, 8]) == PREDICTED_UNSAFE_COLOUR and not marked[1, 0, 8].any()
    assert tuple(marked[2, 0, 8]) == VIOLATION_COLOUR and tuple(marked[2, 2, 8]) == PREDICTED_UNSAFE_COLOUR
    assert not frames.any()  # the input is left alone
