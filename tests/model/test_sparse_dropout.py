"""SparseDropout: the Q-heads' dropout, with nn.Dropout's distribution at a fraction of its random draws."""

import math

import pytest
import torch

from agent.model.networks import SparseDropout, mlp


def test_drops_each_entry_with_probability_p_and_rescales_the_rest():
    torch.manual_seed(0)
    layer = SparseDropout(0.01).train()
    x = torch.ones(768, 256)
    dropped = torch.zeros_like(x)
    draws = 300
    for _ in range(draws):
        out = layer(x)
        kept = out != 0
        assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / 0.99))
        dropped += (~kept).float()
    rate = dropped.sum().item() / (draws * x.numel())
    sd = math.sqrt(0.01 * 0.99 / (draws * x.numel()))
    assert abs(rate - 0.01) < 5 * sd
    # uniform over positions: per-column counts spread as binomial counts do, no column favoured
    per_column = dropped.sum(0)
    expected = draws * 768 * 0.01
    chi2 = ((per_column - expected) ** 2 / expected).sum().item()
    assert chi2 < 256 + 6 * math.sqrt(2 * 256)  # chi-square with 255 dof, far tail
    per_row = dropped.sum(1)
    assert (per_row.max() - per_row.min()).item() < 10 * math.sqrt(draws * 256 * 0.01)


def test_no_entry_is_dropped_in_eval_mode_or_at_p_zero():
    x = torch.randn(64, 32)
    assert torch.equal(SparseDropout(0.01).eval()(x), x)
    assert torch.equal(SparseDropout(0.0).train()(x), x)


def test_gradient_is_zero_exactly_where_the_entry_was_dropped():
    torch.manual_seed(1)
    x = torch.ones(256, 64, requires_grad=True)
    out = SparseDropout(0.05).train()(x)
    out.sum().backward()
    assert torch.equal(x.grad == 0, out == 0)
    assert (out == 0).any()


def test_large_p_and_bf16_keep_dropout_semantics():
    torch.manual_seed(2)
    x = torch.ones(512, 512)
    out = SparseDropout(0.5).train()(x)
    assert abs((out == 0).float().mean().item() - 0.5) < 0.01
    half = SparseDropout(0.01).train()(x.bfloat16())
    assert half.dtype == torch.bfloat16


def test_q_head_mlp_uses_it_and_p_out_of_range_is_refused():
    net = mlp(8, [16, 16], 4, dropout=0.01)
    assert any(isinstance(m, SparseDropout) for m in net)
    with pytest.raises(ValueError, match="dropout p"):
        SparseDropout(1.0)


def test_dropped_count_spreads_as_a_binomial_one():
    # positions are independent Bernoulli draws: the count per call has variance n p (1 - p),
    # not that of a fixed or merely uniform-subset count
    torch.manual_seed(4)
    layer = SparseDropout(0.02).train()
    x = torch.ones(50, 100)
    counts = torch.tensor([(layer(x) == 0).sum().item() for _ in range(2000)], dtype=torch.float64)
    n, p = x.numel(), 0.02
    assert abs(counts.mean().item() - n * p) < 5 * math.sqrt(n * p * (1 - p) / 2000)
    assert abs(counts.var().item() / (n * p * (1 - p)) - 1) < 0.15


def test_bernoulli_positions_cover_the_whole_range_even_when_it_needs_more_draws():
    from agent.model.networks import bernoulli_positions

    torch.manual_seed(5)
    hits = torch.zeros(10)
    for _ in range(4000):
        pos = bernoulli_positions(10, 0.09, torch.device("cpu"))
        assert (pos[1:] > pos[:-1]).all() and (pos >= 0).all() and (pos < 10).all()
        hits[pos] += 1
    assert ((hits / 4000 - 0.09).abs() < 0.02).all()
    assert bernoulli_positions(0, 0.01, torch.device("cpu")).numel() == 0
