"""The ``--devices`` of the speed benchmarks: which torch devices a run may time here."""

from __future__ import annotations

import argparse

import torch


def check_devices(parser: argparse.ArgumentParser, devices: list[str]) -> None:
    """Stop with one line naming the first device that is not 'cpu', 'cuda' or 'cuda:N', or not here."""
    for device in devices:
        if not (device == "cpu" or device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())):
            parser.error(f"invalid --devices value {device!r}: use 'cpu', 'cuda' or 'cuda:N'")
        if device.startswith("cuda") and not torch.cuda.is_available():
            parser.error(f"invalid --devices value {device!r}: this torch build sees no CUDA device")
