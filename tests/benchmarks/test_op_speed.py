"""benchmarks/op_speed.py compares like with like: each alternative computes what the agent's form computes."""

import torch

from agent.model.ops import simnorm
from agent.model.networks import mlp
from benchmarks.op_speed import BatchedHeads, plain_simnorm, sorted_unique_dropout, time_pair


def test_the_batched_q_heads_compute_the_loop_of_heads():
    torch.manual_seed(0)
    heads = torch.nn.ModuleList(mlp(12, [16, 16], 5) for _ in range(3))
    for head in heads:  # non-trivial LayerNorm parameters, so their stacking is checked too
        for p in head.parameters():
            p.data.normal_()
    x = torch.randn(7, 12)
    torch.testing.assert_close(BatchedHeads(heads)(x), torch.stack([h(x) for h in heads]), rtol=1e-5, atol=1e-5)


def test_the_plain_simnorm_and_the_earlier_dropout_are_what_they_replaced():
    z = torch.randn(9, 32)
    torch.testing.assert_close(plain_simnorm(z), simnorm(z, 8), rtol=0, atol=1e-6)
    torch.manual_seed(1)
    x = torch.ones(200, 100)
    rates = [(sorted_unique_dropout(x, 0.05) == 0).float().mean().item() for _ in range(50)]
    assert abs(sum(rates) / len(rates) - 0.05) < 0.005


def test_time_pair_reports_the_slower_side_as_slower():
    slow, fast = torch.randn(300, 300), torch.randn(3, 3)
    a, b = time_pair(lambda: fast @ fast, lambda: slow @ slow @ slow, rounds=2, calls=5)
    assert b > a > 0
