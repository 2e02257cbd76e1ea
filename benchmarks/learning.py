"""Learning benchmark: eval return against env steps and wall-clock, several seeds.

Each seed is a real ``wm-agent train`` run in ``benchmarks/runs/learning/<name>/seed<k>``;
running the same command again resumes unfinished seeds from their checkpoints, so a
benchmark can span several sittings. The table (median over seeds at each eval step)
is printed and written to ``benchmarks/results/learning_<name>.md`` and ``.json`` with
the command that produced it.

Env steps are agent decisions: dm_control at action repeat 2, 500 decisions per episode,
returns on the usual 0-1000 scale. The published curves shown beside ours are converted to
that unit (dm_control env steps / 2) in agent/suite/published/, whatever their source counts.
``--report-only`` without the run directories (they are not committed) rebuilds the table from
the published json, recomputing only the published methods' columns. Below the curves, the report
counts each seed's training episodes that returned below 600 per 5k env steps
(``benchmarks/training_episodes.py``): ten times the evaluation episodes, and each evaluation
replays the same five reset seeds, so that count is the steadier measure of how often a seed
still misses.

    python benchmarks/learning.py --env reacher-easy --seeds 1 2 3 --steps 50000
    python benchmarks/learning.py --variant no-value no-prior --seeds 1 --steps 50000 --parallel 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from agent.suite.reference import METHODS, Reference, load_reference, returns_at  # noqa: E402
from agent.suite.results import read_eval_csv  # noqa: E402  (one reader of a run's eval.csv)
from benchmarks.train_runs import TrainRun, threads_per_run, train_all, training_command  # noqa: E402
from benchmarks.training_episodes import FAIL_BELOW, WINDOW, failures_after, failures_per_window  # noqa: E402
VARIANTS = {
    "full": [],
    "no-value": ["--no-value"],
    "no-prior": ["--no-policy-prior"],
    "no-value-no-prior": ["--no-value", "--no-policy-prior"],
}


def published_mean(reference: Reference, env: str, method: str, step: int) -> float | None:
    values = returns_at(reference, env, method, step)
    return round(statistics.fmean(values), 1) if values else None


def table(curves: dict[int, list[dict[str, float]]], env: str = "", reference: Reference | None = None
          ) -> tuple[list[str], list[dict]]:
    """Per eval step: each seed's return, their median and wall-clock, and the mean of each published
    method at that same step (``reference``, the columns of methods that published at some step here)."""
    steps = sorted({int(r["env_steps"]) for curve in curves.values() for r in curve})
    rows = []
    for step in steps:
        at = {seed: next((r for r in curve if int(r["env_steps"]) == step), None) for seed, curve in curves.items()}
        returns = [r["return_mean"] for r in at.values() if r]
        walls = [r["wall_seconds"] / 60 for r in at.values() if r]
        rows.append({"env_steps": step, **{f"seed{s}": (round(r["return_mean"], 1) if r else None) for s, r in at.items()},
                     "seeds": len(returns), "median": round(statistics.median(returns), 1),
                     "wall_min_median": round(statistics.median(walls), 1)})
    return with_published(rows, env, reference or {})


def with_published(rows: list[dict], env: str, reference: Reference) -> tuple[list[str], list[dict]]:
    """``rows`` with our columns kept and the published ones (re)computed from ``reference``: a column per
    method that published a value at one of the rows' steps, its mean over seeds or None."""
    ours = [{k: v for k, v in row.items() if k.startswith("seed") or k in OUR_COLUMNS} for row in rows]
    methods = [m for m in METHODS if any(returns_at(reference, env, m, row["env_steps"]) for row in ours)]
    for row in ours:
        row.update({m: published_mean(reference, env, m, row["env_steps"]) for m in methods})
    return ([*ours[0]] if ours else list(OUR_COLUMNS)), ours


OUR_COLUMNS = ("env_steps", "seeds", "median", "wall_min_median")  # and seed<k>, one per seed


def published_note(reference: Reference, env: str, obs: str, step: int) -> str:
    """What the published columns are, and the published values at ``step`` (the last evaluation)."""
    if obs != "state":
        return ("The published curves in agent/suite/published/ learn from proprioception, so none is shown "
                "beside a run from pixels.")
    if not any(reference.get(env, {}).values()):
        return f"No published curve for {env} in agent/suite/published/."
    at = {m: v for m in METHODS if (v := published_mean(reference, env, m, step)) is not None}
    return ("Published methods (agent/suite/published/README.md: their authors' data files converted to our step "
            "unit; mean over their seeds at the same env steps; DreamerV3 (authors) from training episodes, BMPC "
            "published as a mean only) are in the second table, at the steps where they published a value. At "
            f"{step:,} env steps on {env}: " + (", ".join(f"{m} {v}" for m, v in at.items()) or "none") + ".")


def status(curves: dict[int, list[dict[str, float]]], steps: int) -> str:
    """'complete' or which seeds are short of ``steps`` (a benchmark may span several sittings)."""
    return status_of({seed: int(curve[-1]["env_steps"]) if curve else 0 for seed, curve in curves.items()}, steps)


def status_of(reached: dict[int, int], steps: int) -> str:
    short = {seed: n for seed, n in reached.items() if n < steps}
    if not short:
        return f"complete: every seed evaluated at {steps} env steps"
    return ("partial (rerun the command to resume): last evaluation of "
            + ", ".join(f"seed {seed} at {n}" for seed, n in reached.items()) + f" of {steps} env steps")


def markdown(header: list[str], rows: list[dict]) -> str:
    """Our columns as one table; the published methods, if any, as a second one beside our median, at the
    steps where at least one of them has a value (a row per step of '-' would only be noise)."""
    methods = [h for h in header if h in METHODS]
    text = _table([h for h in header if h not in methods], rows)
    published = [{"env_steps": row["env_steps"], "wm-agent median": row["median"], **{m: row[m] for m in methods}}
                 for row in rows if any(row[m] is not None for m in methods)]
    if published:
        text += ("\n\nPublished at the same env steps (mean over each method's seeds):\n\n"
                 + _table(["env_steps", "wm-agent median", *methods], published))
    return text


def _table(header: list[str], rows: list[dict]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join("-" if row[h] is None else str(row[h]) for h in header) + " |")
    return "\n".join(lines)


def failures_markdown(failures: dict[int, dict[int, tuple[int, int]]], after: int = 15_000) -> str:
    """Per seed, training episodes below FAIL_BELOW out of those ended in each WINDOW of env steps, and
    the sum over the windows after ``after`` (where the seed phase and first learning are behind)."""
    if not any(failures.values()):
        return ""
    seeds = list(failures)
    ends = sorted({end for counts in failures.values() for end in counts})
    rows = [{"env_steps": end, **{f"seed{s}": "/".join(map(str, failures[s][end])) if end in failures[s] else None
                                  for s in seeds}} for end in ends]
    totals = {s: failures_after(failures[s], after) for s in seeds}
    rows.append({"env_steps": f"after {after // 1000}k", **{f"seed{s}": "/".join(map(str, totals[s])) for s in seeds}})
    return (f"Training episodes (with exploration) returning below {FAIL_BELOW:g}, of those that ended in each "
            f"window of {WINDOW} env steps up to the row's step, per seed; ten times as many as the evaluation "
            f"episodes, so a steadier measure of how often the agent still misses:\n\n"
            + _table(["env_steps", *[f"seed{s}" for s in seeds]], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="reacher-easy")
    parser.add_argument("--obs", default="state", choices=("state", "pixels"))
    parser.add_argument("--variant", nargs="+", default=["full"], choices=sorted(VARIANTS),
                        help="which planning aids are on: terminal value and policy prior; several variants run side "
                             "by side in one pool (an ablation measured on the same machine load)")
    parser.add_argument("--tag", default="", help="suffix of the benchmark's name, to keep runs of an earlier agent "
                                                  "version apart (e.g. 'q2': 2 Q-heads without dropout)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--parallel", type=int, default=1,
                        help="runs (variant x seed) trained at once (each gets cores/parallel threads)")
    parser.add_argument("--runs", type=Path, default=ROOT / "benchmarks" / "runs" / "learning")
    parser.add_argument("--report-only", action="store_true", help="only print the table of what exists")
    parser.add_argument("train_args", nargs="*", help="extra 'wm-agent train' options after --")
    args = parser.parse_args()

    names = {v: f"{args.env}-{args.obs}-{v}" + (f"-{args.tag}" if args.tag else "") for v in args.variant}
    threads = threads_per_run(args.parallel)
    if not args.report_only:
        train_all([TrainRun(args.runs / names[v] / f"seed{s}", args.env, s, ["--obs", args.obs, *VARIANTS[v],
                                                                           *args.train_args])
                   for v in args.variant for s in args.seeds], args.steps, args.parallel)
    command = training_command(__file__, sys.argv[1:])
    for variant, name in names.items():
        report(args, variant, name, command, threads)


def report(args: argparse.Namespace, variant: str, name: str, command: str, threads: int) -> None:
    """Print one variant's table and write it (markdown with commentary, and json) to benchmarks/results/."""
    curves = {s: read_eval_csv(args.runs / name / f"seed{s}") for s in args.seeds}
    failures = {s: failures_per_window(args.runs / name / f"seed{s}") for s in args.seeds}
    reference = load_reference()
    # Published curves learn from proprioception: no columns beside a pixel run (published_note says so).
    shown = reference if args.obs == "state" else {}
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    published = results / f"learning_{name}.json"
    previous = json.loads(published.read_text()) if args.report_only and published.is_file() else None
    if previous is not None and not any(curves.values()):
        # The run directories are not here (they are not committed): our columns come from the table
        # published before, and only the published methods' columns are recomputed (e.g. after new
        # reference data).
        header, rows = with_published(previous["rows"], args.env, shown)
        reached = {s: max((r["env_steps"] for r in rows if r.get(f"seed{s}") is not None), default=0)
                   for s in args.seeds}
        state = status_of(reached, args.steps)
        failures = {int(s): {int(end): tuple(pair) for end, pair in counts.items()}
                    for s, counts in previous.get("training_failures", {}).items()}
    else:
        header, rows = table(curves, args.env, shown)
        state = status(curves, args.steps)
    text = markdown(header, rows)
    print(f"{name}\n{text}")
    parallel = args.parallel
    if previous is not None:
        # A table regenerated without training keeps how the runs were trained.
        command, threads, parallel = previous["command"], previous["threads_per_seed"], previous["parallel"]
    notes = results / f"learning_{name}.notes.md"  # hand-written commentary, kept across regenerations
    commentary = notes.read_text().strip() + "\n\n" if notes.is_file() else ""
    last = max((r["env_steps"] for r in rows), default=0)
    note = (f"# Learning: {name}\n\n**Status: {state}.**\n\n{commentary}"
            f"Command: `{command}`\n\nEval return (mean over eval episodes, no exploration noise) "
            f"per seed at each env step (agent decisions), and their median over the seeds evaluated there; wall-clock is training time summed over sittings, "
            f"evaluation included, on a {os.cpu_count()}-core machine with {threads} torch thread(s) per run and "
            f"{parallel} run(s) at once.\n\n{published_note(reference, args.env, args.obs, last)}\n\n" + text + "\n")
    if failures_text := failures_markdown(failures):
        note += "\n" + failures_text + "\n"
    (results / f"learning_{name}.md").write_text(note)
    published.write_text(json.dumps(
        {"command": command, "env": args.env, "obs": args.obs, "variant": variant, "seeds": args.seeds,
         "steps": args.steps, "threads_per_seed": threads, "parallel": parallel, "rows": rows,
         "training_failures": {str(s): {str(end): list(pair) for end, pair in counts.items()}
                               for s, counts in failures.items() if counts}},
        indent=2) + "\n")


if __name__ == "__main__":
    main()
