"""The summary of a suite run: a table per task, the suite's IQM, plots; printed and written.

Each task's row is taken at the env step all its seeds reached (their last common
evaluation), and the published methods are shown at that same step where they
published one. Files written in the suite directory: ``summary.md``, ``summary.json``,
``plots/<task>.png``, ``plots/<suite>.png`` and the plots as TensorBoard images under
``tensorboard/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.suite.reference import MEANS_ONLY, METHODS, Reference, load_reference, published_steps, returns_at
from agent.suite.results import RunResult
from agent.suite.stats import Interval, bootstrap_mean, iqm, normalise, stratified_bootstrap
from agent.suite.definitions import score_range

SEED = 0  # bootstrap rng: the same results always give the same intervals
PUBLISHED_SEED = 1  # a stream of its own, so that new reference data never moves our intervals


@dataclass
class TaskRow:
    task: str
    seeds: list[int]
    env_steps: int
    ours: Interval
    wall_minutes: float
    plan_ms_per_action: float | None
    published: dict[str, Interval] = field(default_factory=dict)  # method -> at the same env steps


@dataclass
class Summary:
    suite: str
    rows: list[TaskRow]
    iqm: Interval | None
    iqm_note: str
    published_iqm: dict[str, Interval]
    missing: list[str]  # tasks of the suite without any result


def at_step(result: RunResult, step: int) -> float:
    return next(mean for s, mean, _ in result.curve if s == step)


def common_step(results: list[RunResult]) -> int:
    """The last env step at which every seed was evaluated (seeds share the eval cadence)."""
    shared = set.intersection(*({int(s) for s, *_ in r.curve} for r in results))
    return max(shared) if shared else min(r.env_steps for r in results)


def task_row(task: str, results: list[RunResult], reference: Reference, rng: np.random.Generator,
             rng_published: np.random.Generator) -> TaskRow:
    step = common_step(results)
    returns = _returns_of(results, step)
    plan_ms = [r.plan_ms_per_action for r in results if r.plan_ms_per_action is not None]
    published = {m: bootstrap_mean(v, rng_published) for m in METHODS if (v := returns_at(reference, task, m, step))}
    return TaskRow(task, sorted(r.seed for r in results), step, bootstrap_mean(returns, rng),
                   float(np.mean([r.wall_seconds for r in results])) / 60, float(np.mean(plan_ms)) if plan_ms else None,
                   published)


def summarise(suite: str, tasks: tuple[str, ...], results: list[RunResult], reference: Reference) -> Summary:
    rng, rng_published = np.random.default_rng(SEED), np.random.default_rng(PUBLISHED_SEED)
    by_task = group(results)
    rows = [task_row(t, by_task[t], reference, rng, rng_published) for t in tasks if t in by_task]
    missing = [t for t in tasks if t not in by_task]
    ranges = {row.task: score_range(row.task) for row in rows}
    unscaled = [t for t, r in ranges.items() if r is None]
    iqm_value, published_iqm, note = None, {}, ""
    if not rows:
        note = "no results"
    elif unscaled:
        note = f"not computed, no accepted score scale for {', '.join(unscaled)}"
    else:
        per_task = [normalise(_returns_of(by_task[row.task], row.env_steps), *ranges[row.task]) for row in rows]
        iqm_value = stratified_bootstrap(per_task, iqm, rng)
        note = "IQM of normalised scores ((return - low) / (high - low); dm_control: return / 1000) over tasks and seeds"
        for method in (m for m in METHODS if m not in MEANS_ONLY):  # an IQM over seeds needs the seeds
            theirs = [returns_at(reference, row.task, method, row.env_steps) for row in rows]
            if all(theirs):
                published_iqm[method] = stratified_bootstrap(
                    [normalise(v, *ranges[row.task]) for v, row in zip(theirs, rows)], iqm, rng_published)
    if missing:
        note += f"; over {len(rows)} of {len(tasks)} tasks (missing: {', '.join(missing)})"
    return Summary(suite, rows, iqm_value, note, published_iqm, missing)


def _returns_of(results: list[RunResult], step: int) -> list[float]:
    """Each seed's return at ``step`` (its final one if it was never evaluated there)."""
    return [at_step(r, step) if any(s == step for s, *_ in r.curve) else r.return_mean for r in results]


def group(results: list[RunResult]) -> dict[str, list[RunResult]]:
    by_task: dict[str, list[RunResult]] = {}
    for result in sorted(results, key=lambda r: (r.task, r.seed)):
        by_task.setdefault(result.task, []).append(result)
    return by_task


def _fmt(i: Interval | None, mean_only: bool = False) -> str:
    if i is None:
        return "-"
    return f"{i.value:.1f} (mean)" if mean_only else f"{i.value:.1f} [{i.low:.1f}, {i.high:.1f}]"


def shown_methods(summary: Summary) -> list[str]:
    """The published methods with a value at some row's env step (the others would be a column of '-')."""
    return [m for m in METHODS if any(m in row.published for row in summary.rows)]


def sampling_gap(reference: Reference, tasks: list[str], method: str) -> int | None:
    """How far apart ``method`` publishes its points on ``tasks`` (the smallest gap), if it published any."""
    steps = sorted({s for t in tasks for s in published_steps(reference, t, method)})
    gaps = [b - a for a, b in zip(steps, steps[1:])]
    return min(gaps) if gaps else None


def markdown(summary: Summary, reference: Reference) -> str:
    methods = shown_methods(summary)
    head = ["task", "seeds", "env steps", "wm-agent return [95% CI]", "wall min", "plan ms/action", *methods]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in summary.rows:
        lines.append("| " + " | ".join([
            row.task, ",".join(map(str, row.seeds)), str(row.env_steps), _fmt(row.ours), f"{row.wall_minutes:.1f}",
            "-" if row.plan_ms_per_action is None else f"{row.plan_ms_per_action:.1f}",
            *(_fmt(row.published.get(m), m in MEANS_ONLY) for m in methods)]) + " |")
    if summary.iqm is not None:
        lines.append("| **IQM** (normalised) | | | " + " | ".join(
            [_fmt_iqm(summary.iqm), "", "", *(_fmt_iqm(summary.published_iqm.get(m)) for m in methods)]) + " |")
    notes = [f"IQM: {summary.iqm_note}."]
    if any(m not in row.published for row in summary.rows for m in methods):
        notes.append("'-' under a method: it published no value for that task at that env step (never interpolated).")
    tasks = [row.task for row in summary.rows]
    hidden = [(m, gap) for m in METHODS if m not in methods and (gap := sampling_gap(reference, tasks, m))]
    if hidden:
        notes.append("Not shown, no published value at these env steps: "
                     + ", ".join(f"{m} (published every {gap:,} steps)" for m, gap in hidden)
                     + "; the plots show their points up to our last env step, if any beyond step 0.")
    for method in (m for m in MEANS_ONLY if m in methods):
        notes.append(f"{method}: its published mean over seeds (no per-seed values published), so no interval "
                     "and no IQM.")
    if "DreamerV3 (authors)" in methods:
        notes.append("DreamerV3 (authors): its authors' own runs, training-episode scores in bins of 5,000 steps "
                     "(the others are evaluation episodes).")
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


def _fmt_iqm(i: Interval | None) -> str:
    return "-" if i is None else f"{i.value:.3f} [{i.low:.3f}, {i.high:.3f}]"


def to_json(summary: Summary) -> dict:
    def interval(i: Interval | None) -> dict | None:
        return None if i is None else {"value": i.value, "low": i.low, "high": i.high}

    return {"suite": summary.suite, "iqm": interval(summary.iqm), "iqm_note": summary.iqm_note,
            "published_iqm": {m: interval(i) for m, i in summary.published_iqm.items()}, "missing": summary.missing,
            "tasks": [{"task": r.task, "seeds": r.seeds, "env_steps": r.env_steps, "return": interval(r.ours),
                       "wall_minutes": r.wall_minutes, "plan_ms_per_action": r.plan_ms_per_action,
                       "published": {m: interval(i) for m, i in r.published.items()}} for r in summary.rows]}


def write_report(suite_dir: Path, suite: str, tasks: tuple[str, ...], results: list[RunResult],
                 command: str = "", reference: Reference | None = None) -> tuple[Summary, str]:
    """Summary, Markdown and plots of ``results`` into ``suite_dir``; returns the summary and its table."""
    from agent.suite.plots import log_images, plot_grid, plot_task

    reference = load_reference() if reference is None else reference
    summary = summarise(suite, tasks, results, reference)
    table = markdown(summary, reference)
    suite_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    grouped = group(results)
    by_task = {t: grouped[t] for t in tasks if t in grouped}  # the suite's order
    images = {f"task/{t}": plot_task(suite_dir / "plots" / f"{t}.png", t, rs, reference, rng) for t, rs in by_task.items()}
    if by_task:
        images[f"suite/{suite}"] = plot_grid(suite_dir / "plots" / f"{suite}.png", f"{suite}: eval return vs env steps",
                                             by_task, reference, rng)
        log_images(suite_dir / "tensorboard", images, max(r.env_steps for r in results))
    header = f"# Suite {suite}\n\n" + (f"Command: `{command}`\n\n" if command else "")
    text = (header + "Eval return at the last env step (agent decisions) all seeds of a task reached; mean over "
            "seeds with a 95% percentile-bootstrap interval. Published methods at the same env step, from their "
            "authors' data files converted to our step unit (sources, commits, units, seeds and episodes: "
            "agent/suite/published/README.md).\n\n" + table
            + (f"\n![{suite}](plots/{suite}.png)\n" if by_task else ""))
    (suite_dir / "summary.md").write_text(text)
    (suite_dir / "summary.json").write_text(json.dumps(to_json(summary), indent=2) + "\n")
    return summary, table
