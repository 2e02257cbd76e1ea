"""Training episodes that failed, per window of env steps, read from a run's episode files.

A run's five evaluation episodes every few thousand steps swing by hundreds on reacher-easy, whose
returns are bimodal (the finger reaches the target and stays, ~950, or it does not, ~0). Its
training episodes are ten times as many: the count of those below a threshold in each window of
env steps tells two agents apart with far less noise (they act with exploration, so they count
failures of the agent as it trains, not of its evaluation policy).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from agent.layout import EPISODE_DIR, EPISODE_FILE

WINDOW = 5_000  # env steps per window: ten reacher episodes of 500 decisions
FAIL_BELOW = 600.0  # on reacher-easy a return below this means the target was missed for much of the episode


def window_end(end: int, window: int) -> int:
    """The end of the window (a multiple of ``window``) an episode ending at env step ``end`` is counted in."""
    return -(-end // window) * window


def episode_ends(run_dir: Path) -> Iterator[tuple[int, Path]]:
    """(env steps at its end, file) of each finished training episode of ``run_dir`` in the order they were
    collected; nothing without episode files."""
    directory = run_dir / EPISODE_DIR
    # the listing of agent.learn.replay.episode_files, without importing torch into a report
    files = sorted(p for p in directory.iterdir() if EPISODE_FILE.match(p.name)) if directory.is_dir() else []
    end = 0
    for path in files:
        end += int(EPISODE_FILE.match(path.name).group(2))  # type: ignore[union-attr]
        yield end, path


def failures_per_window(run_dir: Path, window: int = WINDOW, below: float = FAIL_BELOW) -> dict[int, tuple[int, int]]:
    """{window end: (episodes returning < ``below``, episodes)} over the run's finished training episodes,
    each counted in the window where it ended; {} without episode files."""
    counts: dict[int, tuple[int, int]] = {}
    for end, path in episode_ends(run_dir):
        with np.load(path) as data:
            failed = float(data["reward"].sum()) < below
        key = window_end(end, window)
        bad, total = counts.get(key, (0, 0))
        counts[key] = (bad + failed, total + 1)
    return counts


def failures_after(counts: dict[int, tuple[int, int]], env_steps: int) -> tuple[int, int]:
    """(failed, episodes) summed over the windows that end after ``env_steps``."""
    pairs = [pair for end, pair in counts.items() if end > env_steps]
    return sum(p[0] for p in pairs), sum(p[1] for p in pairs)
