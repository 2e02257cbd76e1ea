"""The ``--devices`` of the speed benchmarks: which torch devices a run may time here."""

from __future__ import annotations

import argparse

import torch

from agent.config import is_device_name


def check_devices(parser: argparse.ArgumentParser, devices: list[str]) -> None:
    """Stop with one line naming the first device that is not 'cpu', 'cuda' or 'cuda:N', or not here."""
    for device in devices:
        if device == "auto" or not is_device_name(device):
            parser.error(f"invalid --devices value {device!r}: use 'cpu', 'cuda' or 'cuda:N'")
        if device.startswith("cuda") and not torch.cuda.is_available():
            parser.error(f"invalid --devices value {device!r}: this torch build sees no CUDA device")
