"""Learning curves of a suite run against the published ones, as PNG files and TensorBoard images.

Every curve is plotted against env steps (agent decisions), never updates: ours as the
mean over seeds with a 95% bootstrap band, each published method the same way over its
seeds. The x-axis runs to our last step, or on to the next published step so that a
short run still shows where the references stand next.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and in tests
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from agent.suite.reference import MEANS_ONLY, METHODS, Reference, published_steps  # noqa: E402
from agent.suite.results import RunResult  # noqa: E402
from agent.suite.stats import bootstrap_mean  # noqa: E402

DPI = 100
TASK_FIGSIZE = (6.0, 4.0)   # inches: 600 x 400 pixels
CELL_FIGSIZE = (4.0, 3.0)   # inches per task in the suite grid: 400 x 300 pixels each
GRID_COLUMNS = 3
COLORS = {"ours": "tab:blue", "TD-MPC2": "tab:orange", "BMPC": "tab:brown", "TD-MPC": "tab:purple",
          "MR.Q": "tab:pink", "DR.Q": "tab:cyan", "SimbaV2": "tab:gray", "BRO": "black", "SAC": "tab:red",
          "DreamerV3": "tab:green", "DreamerV3 (authors)": "tab:olive"}


def _band(curve: dict[int, list[float]], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    steps = sorted(curve)
    stats = [bootstrap_mean(curve[s], rng) for s in steps]
    return (np.array(steps), np.array([i.value for i in stats]), np.array([i.low for i in stats]),
            np.array([i.high for i in stats]))


def our_curve(results: list[RunResult]) -> dict[int, list[float]]:
    """env steps -> eval return of every seed evaluated there."""
    curve: dict[int, list[float]] = {}
    for result in results:
        for step, mean, _std in result.curve:
            curve.setdefault(int(step), []).append(mean)
    return curve


def x_limit(results: list[RunResult], reference: Reference, task: str) -> int:
    last = max((int(s) for r in results for s, *_ in r.curve), default=0)
    later = [s for s in published_steps(reference, task) if s >= last]
    return max(last, min(later)) if later else max(last, 1)


def draw_task(ax: plt.Axes, task: str, results: list[RunResult], reference: Reference,
              rng: np.random.Generator, label: str = "wm-agent") -> None:
    limit = x_limit(results, reference, task)
    curves = {label: our_curve(results)}
    for method in METHODS:
        curve = {s: v for s, v in reference.get(task, {}).get(method, {}).items() if s <= limit}
        if any(s > 0 for s in curve):  # a lone point at step 0 (the untrained policy) would only crowd the legend
            curves[method] = curve
    for name, curve in curves.items():
        if not curve:
            continue
        steps, mean, low, high = _band(curve, rng)
        color = COLORS.get(name, COLORS["ours"])
        # Published curves are sampled (every 5k to 50k of our steps): dashed between their points.
        style = {"linestyle": "-", "markersize": 3} if name == label else {"linestyle": "--", "markersize": 5}
        seeds = "mean" if name in MEANS_ONLY else f"n={max(map(len, curve.values()))}"
        ax.plot(steps, mean, marker="o", color=color, label=f"{name} ({seeds})", **style)
        ax.fill_between(steps, low, high, color=color, alpha=0.2, linewidth=0)
    ax.set_title(task, fontsize=10)
    ax.set_xlim(0, limit)
    ax.set_xlabel("env steps")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1000:g}k" if x else "0"))
    ax.set_ylabel("eval return")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def plot_task(path: Path, task: str, results: list[RunResult], reference: Reference,
              rng: np.random.Generator) -> Path:
    fig, ax = plt.subplots(figsize=TASK_FIGSIZE, dpi=DPI)
    draw_task(ax, task, results, reference, rng)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)  # no bbox_inches='tight': the pixel size stays figsize * dpi
    plt.close(fig)
    return path


def plot_grid(path: Path, title: str, by_task: dict[str, list[RunResult]], reference: Reference,
              rng: np.random.Generator) -> Path:
    columns = min(GRID_COLUMNS, max(len(by_task), 1))
    rows = max(math.ceil(len(by_task) / columns), 1)
    fig, axes = plt.subplots(rows, columns, figsize=(CELL_FIGSIZE[0] * columns, CELL_FIGSIZE[1] * rows), dpi=DPI,
                             squeeze=False)
    for ax, (task, results) in zip(axes.ravel(), by_task.items()):
        draw_task(ax, task, results, reference, rng)
    for ax in axes.ravel()[len(by_task):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def log_images(logdir: Path, images: dict[str, Path], step: int) -> None:
    """Each PNG as a TensorBoard image (tag -> file) at env step ``step``."""
    from PIL import Image
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(logdir))
    try:
        for tag, path in images.items():
            writer.add_image(tag, np.asarray(Image.open(path).convert("RGB")), step, dataformats="HWC")
    finally:
        writer.close()
