"""The trainer's and evaluator's pick of torch intra-op threads (agent/run/runtime.py)."""

import pytest
import torch

from agent.run import runtime


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("threads, pixels, cores, expected", [
    (0, False, 2, 1),   # state: one thread (1.5x faster than two on a 2-core machine)
    (0, False, 16, 1),
    (0, True, 2, 2),    # pixels: convolutions split across two cores
    (0, True, 16, 2),
    (0, True, 1, 1),
    (3, False, 2, 3),   # an explicit --threads is kept
    (1, True, 2, 1),
])
def test_threads_from_state_pixels_and_the_option(monkeypatch, threads, pixels, cores, expected):
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: cores)
    assert runtime.set_threads(threads, pixels=pixels) == expected
    assert torch.get_num_threads() == expected
