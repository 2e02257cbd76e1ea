"""Summary statistics of a suite run, following rliable's conventions (Agarwal et al., 2021).

- Per task: the mean over seeds with a 95% percentile-bootstrap interval (seeds resampled).
- Per suite: the interquartile mean (IQM) of normalised scores pooled over tasks and seeds,
  with a 95% *stratified* bootstrap interval: seeds are resampled within each task, so
  every replicate keeps every task.

Written here rather than imported from ``rliable``: rliable 1.2 imports ``arch``, whose
releases that install beside our numpy 2 fail to import with pandas 3 (and rliable would
also bring statsmodels, seaborn and pandas for a few lines of numpy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

REPS = 2000  # bootstrap replicates: CI bounds stable to about 1% of their width


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float


def iqm(scores: np.ndarray) -> float:
    """Mean of the middle 50% of all scores (scipy's trim_mean(x, 0.25), as rliable)."""
    x = np.sort(np.asarray(scores, dtype=float).ravel())
    cut = int(0.25 * x.size)
    return float(x[cut:x.size - cut].mean())


def _percentiles(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_mean(values: list[float] | np.ndarray, rng: np.random.Generator, reps: int = REPS,
                   confidence: float = 0.95) -> Interval:
    """Mean over seeds with a percentile-bootstrap interval (a single seed: no spread)."""
    x = np.asarray(values, dtype=float)
    means = x[rng.integers(0, x.size, size=(reps, x.size))].mean(axis=1)
    return Interval(float(x.mean()), *_percentiles(means, confidence))


def stratified_bootstrap(per_task: list[np.ndarray], statistic: Callable[[np.ndarray], float],
                         rng: np.random.Generator, reps: int = REPS, confidence: float = 0.95) -> Interval:
    """``statistic`` of all scores pooled, with seeds resampled within each task."""
    tasks = [np.asarray(t, dtype=float) for t in per_task]
    replicates = np.empty(reps)
    for i in range(reps):
        replicates[i] = statistic(np.concatenate([t[rng.integers(0, t.size, t.size)] for t in tasks]))
    return Interval(statistic(np.concatenate(tasks)), *_percentiles(replicates, confidence))


def normalise(returns: np.ndarray, low: float, high: float) -> np.ndarray:
    return (np.asarray(returns, dtype=float) - low) / (high - low)
