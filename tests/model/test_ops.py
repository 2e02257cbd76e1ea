"""Numeric helpers of agent/model/ops.py: each fast form equals the plain computation it replaces."""

import copy

import torch
import torch.nn.functional as F

from agent.model.ops import adam, ema_, simnorm
from agent.model.networks import mlp


def _plain_simnorm(z: torch.Tensor, group: int) -> torch.Tensor:
    return F.softmax(z.float().reshape(*z.shape[:-1], -1, group), dim=-1).reshape(z.shape)


def test_simnorm_is_the_softmax_within_consecutive_groups():
    torch.manual_seed(0)
    for shape, group in (((280, 128), 8), ((3, 5, 64), 4), ((7, 24), 24), ((2, 16), 1)):
        z = torch.randn(*shape) * 5
        out = simnorm(z, group)
        assert out.shape == z.shape and out.dtype == torch.float32
        torch.testing.assert_close(out, _plain_simnorm(z, group), rtol=0, atol=1e-6)
        sums = out.reshape(*shape[:-1], -1, group).sum(-1)
        torch.testing.assert_close(sums, torch.ones_like(sums))
    z = torch.randn(4, 16)
    assert torch.equal(simnorm(z, 0), z)


def test_simnorm_gradient_equals_the_plain_softmax_gradient():
    torch.manual_seed(1)
    z1 = torch.randn(32, 64, requires_grad=True)
    z2 = z1.detach().clone().requires_grad_()
    weights = torch.randn(32, 64)
    (simnorm(z1, 8) * weights).sum().backward()
    (_plain_simnorm(z2, 8) * weights).sum().backward()
    torch.testing.assert_close(z1.grad, z2.grad, rtol=0, atol=1e-6)


def test_simnorm_of_bf16_input_is_computed_in_fp32():
    z = torch.randn(8, 32).bfloat16()
    torch.testing.assert_close(simnorm(z, 8), _plain_simnorm(z, 8), rtol=0, atol=1e-6)


def test_ema_moves_every_target_tau_of_the_way():
    torch.manual_seed(2)
    source = mlp(6, [8], 3)
    target = copy.deepcopy(source)
    for p in source.parameters():
        p.data.add_(1.0)
    before = [p.clone() for p in target.parameters()]
    ema_(list(target.parameters()), list(source.parameters()), 0.25)
    for old, new, src in zip(before, target.parameters(), source.parameters()):
        torch.testing.assert_close(new, old + 0.25 * (src - old))


def test_fused_adam_takes_the_same_steps_as_the_plain_one():
    torch.manual_seed(3)
    net = mlp(6, [16, 16], 3)
    twin = copy.deepcopy(net)
    fused = adam([{"params": list(net.parameters())[:2], "lr": 1e-3}, {"params": list(net.parameters())[2:]}],
                 lr=3e-3, eps=1e-5)
    plain = torch.optim.Adam([{"params": list(twin.parameters())[:2], "lr": 1e-3},
                              {"params": list(twin.parameters())[2:]}], lr=3e-3, eps=1e-5)
    assert fused.param_groups[0]["fused"] and not plain.param_groups[0]["fused"]
    x, y = torch.randn(64, 6), torch.randn(64, 3)
    for _ in range(5):
        for model, optim in ((net, fused), (twin, plain)):
            optim.zero_grad()
            F.mse_loss(model(x), y).backward()
            optim.step()
    for a, b in zip(net.parameters(), twin.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_learner_resumed_from_an_unfused_optimizer_state_stays_fused():
    from agent.learn.learner import _load_keeping_fused

    net = mlp(4, [8], 2)
    old = torch.optim.Adam(net.parameters(), lr=1e-3)
    F.mse_loss(net(torch.randn(5, 4)), torch.zeros(5, 2)).backward()
    old.step()
    resumed = adam(net.parameters(), lr=1e-3)
    _load_keeping_fused(resumed, old.state_dict())
    assert resumed.param_groups[0]["fused"] is True
    resumed.step()  # the loaded step counters and moments work with the fused kernel
    assert int(resumed.state[next(iter(net.parameters()))]["step"]) == 2
