"""bf16 autocast updates (the default where bf16 is native) against fp32: the same losses and gradients.

The agent's default-sized networks (latent 128, hidden 256, five Q-heads with dropout) are first
trained for a few fp32 updates, so that no head is at its zero initialisation. From that same state
one more update runs under bf16 autocast and one in fp32, on the same batch and the same random
draws. Adam's first moment moves by (1 - beta1) times the clipped gradient, so comparing how the
moments moved compares the gradients, scale included.
"""

import copy

import torch

from agent.config import LearnConfig, ModelConfig
from agent.learn.learner import Learner
from agent.model.policy_prior import PolicyPrior
from agent.model.value import QEnsemble
from agent.model.world_model import LatentWorldModel
from tests.support import fixed_batch

OBS_DIM, ACTION_DIM = 11, 2
BETA1 = 0.9


def trained_learner() -> tuple[Learner, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    m = ModelConfig()  # the defaults
    wm = LatentWorldModel((OBS_DIM,), ACTION_DIM, m)
    critic = QEnsemble(m.latent_dim, ACTION_DIM, m.hidden_dim, m.num_q, m.num_bins, m.q_dropout)
    policy = PolicyPrior(m.latent_dim, ACTION_DIM, m.hidden_dim)
    batch = fixed_batch(batch=256, obs_dim=OBS_DIM, action_dim=ACTION_DIM)
    wm.set_obs_stats(batch["obs"])
    learner = Learner(wm, critic, policy, LearnConfig(update_bf16=False), m)
    for seed in range(20):
        learner.update(fixed_batch(batch=256, obs_dim=OBS_DIM, action_dim=ACTION_DIM, seed=seed))
    return learner, fixed_batch(batch=256, obs_dim=OBS_DIM, action_dim=ACTION_DIM, seed=99)


def update_from(trained: Learner, batch: dict[str, torch.Tensor], bf16: bool) -> tuple[dict, list[torch.Tensor]]:
    """One update of a copy of ``trained`` (a new Learner over copied networks, its optimizer state loaded)."""
    wm, critic, policy = copy.deepcopy((trained.wm, trained.critic, trained.policy))
    learner = Learner(wm, critic, policy, LearnConfig(update_bf16=bf16), trained.model_cfg)
    learner.load_state_dict(trained.state_dict())
    assert learner.bf16 == bf16
    params = [p for g in learner.model_optim.param_groups for p in g["params"]]
    before = [learner.model_optim.state[p]["exp_avg"].clone() for p in params]
    torch.manual_seed(1)  # the same dropout positions and Q-head draws on both sides
    losses = learner.update(copy.deepcopy(batch))
    grads = [((learner.model_optim.state[p]["exp_avg"] - BETA1 * m) / (1 - BETA1)).flatten()
             for p, m in zip(params, before)]
    return losses, grads


def test_a_bf16_update_has_the_fp32_losses_and_gradients():
    trained, batch = trained_learner()
    fp32, fp32_grads = update_from(trained, batch, bf16=False)
    bf16, bf16_grads = update_from(trained, batch, bf16=True)
    for key in ("consistency", "reward", "reconstruction", "value", "total"):
        assert abs(bf16[key] - fp32[key]) <= 0.02 * abs(fp32[key]) + 1e-4, (key, fp32[key], bf16[key])
    a, b = torch.cat(fp32_grads), torch.cat(bf16_grads)
    assert torch.nn.functional.cosine_similarity(a, b, dim=0) > 0.99
    assert abs(b.norm() / a.norm() - 1) < 0.05
    # tensor by tensor too, so that no single network's gradient is lost in the total
    worst = min(torch.nn.functional.cosine_similarity(x, y, dim=0).item()
                for x, y in zip(fp32_grads, bf16_grads) if x.norm() > 1e-6)
    assert worst > 0.95, worst
