"""TensorBoard scalars, videos and images, plus a plain-text log in the run directory."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm


class RunLogger:
    """Tags are namespaced like CleanRL's: ``train/``, ``eval/``, ``loss/``, ``perf/``."""

    def __init__(self, run_dir: Path, purge_step: int | None = None) -> None:
        """``purge_step``: on resume, TensorBoard hides every earlier event at a step >= it.

        The resumed run logs again from the checkpoint on, so the killed process's later
        events would otherwise show up twice (or beside a different history).
        """
        self.run_dir = run_dir
        self.writer = SummaryWriter(str(run_dir), purge_step=purge_step)
        self.log_path = run_dir / "train.log"

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        for key, value in values.items():
            self.writer.add_scalar(f"{prefix}/{key}", value, step)

    def video(self, tag: str, frames: np.ndarray, step: int, fps: int = 15) -> None:
        """(T, H, W, 3) uint8 -> one TensorBoard video (GIF)."""
        tensor = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).unsqueeze(0)
        self.writer.add_video(tag, tensor, step, fps=fps)

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        self.writer.add_image(tag, image, step, dataformats="HWC")

    def config(self, config: dict) -> None:
        self.writer.add_text("config", "```\n" + json.dumps(config, indent=2) + "\n```", 0)

    def message(self, text: str) -> None:
        """Print above the progress bar and append to train.log."""
        tqdm.write(text)
        append_log(self.run_dir, text)

    def warning(self, text: str) -> None:
        """A fault the run survived: one line on stderr and in train.log."""
        tqdm.write(f"warning: {text}", file=sys.stderr)
        append_log(self.run_dir, f"warning: {text}")

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def append_log(run_dir: Path, text: str) -> None:
    """Append one time-stamped line to ``train.log``; a full disk loses the line, not the run."""
    try:
        with open(run_dir / "train.log", "a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")
    except OSError:
        pass
