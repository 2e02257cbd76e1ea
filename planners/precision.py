"""Whether bf16 autocast pays on a device: only where the hardware does bf16 arithmetic itself.

On a CPU without AVX512-BF16 or AMX, oneDNN emulates bf16 by converting to and from fp32
around every op: measured on this project's 2-core AMD EPYC (AVX2 only), an env step from
state took 2.46 s under bf16 autocast against 0.33 s in fp32 (benchmarks/results/step_profile_*.md).
The ``bf16`` options of the planner and the learner default to None, which means this check.
"""

from __future__ import annotations

import functools

import torch


@functools.cache
def _cpu_bf16_native() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def bf16_is_native(device: torch.device | str) -> bool:
    """True on CUDA devices with bf16 support and on CPUs with AVX512-BF16 or AMX."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return _cpu_bf16_native()
    return False


def use_bf16(requested: bool | None, device: torch.device | str) -> bool:
    """An explicit True/False as given; None (the default) = bf16 where it is native."""
    return bf16_is_native(device) if requested is None else requested
