import numpy as np
import pytest
import torch

from agent.config import LearnConfig, ModelConfig
from agent.learn.learner import Learner
from agent.model.ops import TwoHot, simnorm
from agent.model.policy_prior import PolicyPrior
from agent.model.value import QEnsemble
from agent.model.world_model import LatentWorldModel
from tests.support import build_latent_model, fixed_batch


def test_two_hot_round_trip_and_loss_minimum():
    th = TwoHot(101)
    x = torch.tensor([-50.0, -1.3, 0.0, 0.7, 3.0, 200.0])
    np.testing.assert_allclose(th.decode(torch.log(th.encode(x) + 1e-12)).numpy(), x.numpy(), rtol=1e-3, atol=1e-3)
    target_logits = torch.log(th.encode(x) + 1e-12)
    assert (th.loss(target_logits, x) < th.loss(torch.zeros_like(target_logits), x)).all()


def test_simnorm_makes_groups_probability_simplices():
    z = simnorm(torch.randn(4, 32) * 10, 8)
    np.testing.assert_allclose(z.view(4, 4, 8).sum(-1).numpy(), np.ones((4, 4)), rtol=1e-5)
    assert (z >= 0).all()


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16-autocast"])
def test_update_lowers_the_loss_on_a_fixed_batch(bf16):
    wm, critic, policy, learner = build_latent_model((5,), bf16=bf16)
    batch = fixed_batch()
    first = learner.update(batch)
    for _ in range(150):
        last = learner.update(batch)
    for key in ("consistency", "reward", "reconstruction", "value"):
        assert last[key] < first[key], (key, first[key], last[key])
    assert last["reconstruction"] < 0.5 * first["reconstruction"]
    assert last["reward"] < 0.5 * first["reward"]


def test_ema_target_encoder_trails_the_online_encoder():
    wm, _, _, learner = build_latent_model((5,), use_actor_critic=False)
    batch = fixed_batch()
    before = [p.clone() for p in wm.target_encoder.parameters()]
    learner.update(batch)
    moved = [(p - b).abs().max().item() for p, b in zip(wm.target_encoder.parameters(), before)]
    assert max(moved) > 0  # the target moves ...
    online_gap = [(p - t).abs().max().item() for p, t in zip(wm.encoder.parameters(), wm.target_encoder.parameters())]
    assert max(online_gap) > 0  # ... but slower than the online encoder


def test_planning_interface_shapes_without_decoder():
    wm, *_ = build_latent_model((5,))
    z = wm.initial_latent(torch.randn(1, 5))
    assert z.shape == (1, 32)
    next_z, reward = wm.next_latent_and_reward(z.expand(7, -1), torch.zeros(7, 2))
    assert next_z.shape == (7, 32) and reward.shape == (7,)


def test_pixel_model_encodes_decodes_and_updates():
    wm, critic, policy, learner = build_latent_model((64, 64, 3))
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (3, 8, 64, 64, 3), generator=g, dtype=torch.uint8)
    batch = {"obs": frames, "action": torch.rand(2, 8, 2) * 2 - 1, "reward": torch.rand(2, 8),
             "terminated": torch.zeros(2, 8, dtype=torch.bool)}
    assert wm.encode(frames[0]).shape == (8, 32)
    assert wm.decode(wm.encode(frames[0])).shape == (8, 64, 64, 3)
    first = learner.update(batch)
    for _ in range(20):
        last = learner.update(batch)
    assert last["reconstruction"] < first["reconstruction"]


def test_reconstruction_on_part_of_the_batch_is_that_parts_loss_and_decodes_only_it():
    batch = fixed_batch(batch=16)
    part = {k: v[:, :4] for k, v in batch.items()}
    *_, whole_of_part = build_latent_model((5,), use_actor_critic=False)
    wm, _, _, learner = build_latent_model((5,), use_actor_critic=False, recon_batch=4)
    decoded_rows = []
    wm.decoder.register_forward_hook(lambda module, args, out: decoded_rows.append(out.shape[0]))
    losses = learner.update(batch)
    assert decoded_rows == [4 * (3 + 1)]  # the first 4 sub-sequences, every step of each
    # Sub-sequences are independent rows: same weights, same loss as a learner given only those 4.
    np.testing.assert_allclose(losses["reconstruction"], whole_of_part.update(part)["reconstruction"], rtol=1e-5)
    # Asking for more rows than the batch holds reconstructs the whole batch.
    *_, capped = build_latent_model((5,), use_actor_critic=False, recon_batch=1000)
    *_, whole = build_latent_model((5,), use_actor_critic=False)
    np.testing.assert_allclose(capped.update(batch)["reconstruction"], whole.update(batch)["reconstruction"], rtol=1e-6)


@pytest.mark.parametrize("size", [48, 63])
def test_pixel_sizes_that_do_not_halve_to_four_are_refused(size):
    with pytest.raises(ValueError, match="image_size"):
        LatentWorldModel((size, size, 3), 2, ModelConfig())


def test_state_normalisation_is_fitted_once_and_inverted_by_decode_observation():
    wm, *_ = build_latent_model((5,))
    g = torch.Generator().manual_seed(1)
    obs = torch.randn(1000, 5, generator=g) * torch.tensor([0.1, 1.0, 10.0, 0.01, 3.0]) + 4.0
    wm.set_obs_stats(obs)
    normed = wm.normalize(obs)
    np.testing.assert_allclose(normed.mean(0).numpy(), np.zeros(5), atol=1e-4)
    np.testing.assert_allclose(normed.std(0).numpy(), np.ones(5), atol=1e-3)
    # The decoder is trained on standardised targets; decode_observation maps back to env units.
    z = wm.encode(obs[:3])
    np.testing.assert_allclose(wm.decode_observation(z).detach().numpy(),
                               (wm.decode(z) * wm.obs_std + wm.obs_mean).detach().numpy(), rtol=1e-5)
    # The statistics are buffers: they travel with the state dict (checkpoints).
    assert {"obs_mean", "obs_std"} <= set(wm.state_dict())


def test_nonfinite_losses_are_skipped_then_last_good_weights_restored_with_half_lr():
    wm, critic, policy, learner = build_latent_model((5,))
    batch = fixed_batch()
    for _ in range(3):
        learner.update(batch)
    good = {k: v.clone() for k, v in wm.state_dict().items()}
    poisoned = dict(batch, reward=batch["reward"].clone())
    poisoned["reward"][0, 0] = float("nan")

    out = learner.update(poisoned)
    assert out == {"nonfinite_skipped": 1.0, "restored_last_good": 0.0}
    assert all(torch.equal(v, good[k]) for k, v in wm.state_dict().items())  # no step taken
    learner.update(poisoned)
    out = learner.update(poisoned)
    assert out["restored_last_good"] == 1.0 and learner.restores == 1 and learner.nonfinite_skipped == 3
    # Back at the snapshot taken at construction (before any update), with half the learning rate.
    assert [g["lr"] for g in learner.model_optim.param_groups] == [1e-3 * 0.3 * 0.5, 1e-3 * 0.5, 1e-3 * 0.5]
    assert not torch.equal(wm.dynamics[0].weight, good["dynamics.0.weight"])
    # Training goes on normally afterwards.
    assert all(np.isfinite(v) for v in learner.update(batch).values())


def test_value_and_reward_start_at_zero():
    wm, critic, _, _ = build_latent_model((5,))
    z = wm.encode(torch.randn(8, 5))
    a = torch.rand(8, 2) * 2 - 1
    torch.testing.assert_close(critic.q(z, a), torch.zeros(8))
    torch.testing.assert_close(wm.next_latent_and_reward(z, a)[1], torch.zeros(8))


def test_policy_step_moves_the_policy_and_leaves_the_critic_alone():
    wm, critic, policy, learner = build_latent_model((5,))
    for _ in range(3):  # a few model steps so Q is not the zero-initialised constant
        learner.update(fixed_batch())
    zs = torch.stack([wm.encode(o) for o in fixed_batch()["obs"]]).detach()
    critic_before = [p.detach().clone() for p in critic.parameters()]
    policy_before = [p.detach().clone() for p in policy.parameters()]
    learner.model_optim.zero_grad(set_to_none=True)
    learner.update_policy(zs)
    assert all(p.grad is None for p in critic.parameters())  # no wasted critic backward
    assert all(p.requires_grad for p in critic.heads.parameters())  # the model step still trains Q
    assert all(torch.equal(a, b) for a, b in zip(critic_before, critic.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(policy_before, policy.parameters()))


def test_q_head_dropout_acts_only_inside_an_update():
    torch.manual_seed(0)
    m = ModelConfig(latent_dim=32, hidden_dim=64, simnorm_dim=8)
    wm = LatentWorldModel((5,), 2, m)
    critic = QEnsemble(32, 2, 64, 2, m.num_bins, dropout=0.5)
    learner = Learner(wm, critic, PolicyPrior(32, 2, 64), LearnConfig(lr=1e-3), m)
    seen_training = []
    critic.heads[0].register_forward_hook(lambda module, args, out: seen_training.append(module.training))
    learner.update(fixed_batch())
    assert seen_training and all(seen_training)  # dropout on for the value and policy losses
    assert not critic.training  # and off afterwards, for the planner
    z, a = torch.rand(8, 32), torch.rand(8, 2) * 2 - 1
    torch.testing.assert_close(critic.q(z, a), critic.q(z, a))  # deterministic outside updates
    critic.train()
    assert not torch.equal(critic.q(z, a), critic.q(z, a))  # (where dropout would show)


def test_value_pessimism_lowers_the_value_where_the_q_heads_disagree():
    torch.manual_seed(0)
    critic = QEnsemble(latent_dim=4, action_dim=2, hidden_dim=16, num_q=5, num_bins=101)
    with torch.no_grad():  # heads that disagree: random output layers (they start at zero, i.e. agreeing)
        for head in critic.heads:
            head[-1].weight.normal_(0, 1.0)
    z, a = torch.randn(8, 4), torch.randn(8, 2)
    qs = critic.two_hot.decode(torch.stack([head(torch.cat([z, a], -1)) for head in critic.heads]))
    assert torch.allclose(critic.lower_bound(z, a, 0.0), qs.mean(0))
    assert torch.allclose(critic.lower_bound(z, a, 1.5), qs.mean(0) - 1.5 * qs.std(0, correction=0))
    assert torch.all(critic.lower_bound(z, a, 1.0) < qs.mean(0))  # they disagree everywhere here


def test_the_planner_terminal_value_is_the_lower_bound_under_value_pessimism():
    from agent.world_model_agent import WorldModelAgent
    from agent.config import RunConfig

    cfg = RunConfig()
    cfg.model.latent_dim, cfg.model.hidden_dim, cfg.plan.value_pessimism = 16, 32, 2.0
    agent = WorldModelAgent((6,), 2, cfg.validate(), torch.device("cpu"))
    z = torch.rand(4, 16)
    torch.manual_seed(1)
    value = agent.terminal_value(z)
    torch.manual_seed(1)  # the same policy sample
    assert torch.allclose(value, agent.critic.lower_bound(z, agent.policy.sample(z), 2.0))
