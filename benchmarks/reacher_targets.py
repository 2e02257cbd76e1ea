"""Reacher training episodes by target distance, per window of env steps: is a far target learned, or lost?

A reacher target 0.15-0.20 m from the base needs the arm open; nearer ones are reached with the wrist
folded. Evaluations (5 episodes) are too few to see which a run can do; its training episodes are ten
times as many. This reads a run's episode files (no checkpoint, no model: seconds) and counts, in each
window, the episodes solved (return >= --solved) among near and among far targets. Issue 27's seed 1
solved far targets at 7.5-10k and then failed almost all of them up to 30k: the table shows such a
loss where the evaluation curve only wobbles.

    python benchmarks/reacher_targets.py RUN_DIR [RUN_DIR ...] --tag reacher-easy-s1
    # a new run beside a baseline whose run directory was lost with its machine (its results file stays)
    python benchmarks/reacher_targets.py RUN_DIR --beside benchmarks/results/reacher_targets_reacher-easy-s1-50k.json --tag T
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.training_episodes import window_end  # noqa: E402

RESULTS_DIR = ROOT / "benchmarks" / "results"
FAR_FROM = 0.15  # m from the base: beyond what the finger reaches with the wrist folded at its limit


def window_table(episodes: list[tuple[int, float, float]], window: int, solved_from: float) -> list[dict]:
    """One row per window (by the episode's end): near/far episodes and how many were solved."""
    rows: dict[int, dict] = {}
    for end, distance, ret in episodes:
        key = window_end(end, window)
        row = rows.setdefault(key, {"window_end": key, "near": 0, "near_solved": 0, "far": 0, "far_solved": 0})
        band = "far" if distance >= FAR_FROM else "near"
        row[band] += 1
        row[f"{band}_solved"] += ret >= solved_from
    return [rows[k] for k in sorted(rows)]


def earlier_runs(path: Path, window: int) -> dict[str, list[dict]]:
    """The runs of an earlier reacher_targets results file, each named ``<its tag>: <run folder>``."""
    try:
        data = json.loads(path.read_text())
        if data["window"] != window:
            raise SystemExit(f"--beside {path}: its window is {data['window']}, this table's {window}; expected "
                             "the same window")
        return {f"{data['tag']}: {Path(run).name}": rows for run, rows in data["runs"].items()}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SystemExit(f"--beside {path}: not a reacher_targets results file ({err}); expected a "
                         "benchmarks/results/reacher_targets_<tag>.json") from None


def markdown(runs: dict[str, list[dict]], window: int) -> list[str]:
    names = list(runs)
    ends = sorted({row["window_end"] for rows in runs.values() for row in rows})
    lines = ["| env steps | " + " | ".join(f"{n}: near | {n}: far" for n in names) + " |",
             "|---|" + "---|---|" * len(names)]
    for end in ends:
        cells = []
        for name in names:
            row = next((r for r in runs[name] if r["window_end"] == end), None)
            cells += ([f"{row['near_solved']}/{row['near']}", f"{row['far_solved']}/{row['far']}"] if row
                      else ["-", "-"])
        lines.append(f"| {end - window}-{end} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="reacher run directories (their episodes/ folders)")
    parser.add_argument("--window", type=int, default=5_000, help="env steps per row (default 5000)")
    parser.add_argument("--solved", type=float, default=600.0, help="an episode returning this or more is solved")
    parser.add_argument("--beside", type=Path, action="append", default=[], metavar="JSON",
                        help="also show the runs of an earlier results file (reacher_targets_<tag>.json), e.g. a "
                             "baseline whose run directory is gone; repeatable")
    parser.add_argument("--tag", required=True, help="results file name: reacher_targets_<tag>.{md,json}")
    args = parser.parse_args(argv)
    if args.window < 1:
        raise SystemExit(f"--window {args.window}: expected at least 1")
    from dm_control import suite

    from benchmarks.reacher_failures import training_episodes_by_target

    earlier = {}
    for path in args.beside:
        earlier.update(earlier_runs(path, args.window))
    for run in args.runs:
        if not (run / "episodes").is_dir():
            raise SystemExit(f"{run}: no episodes/ folder; expected a run directory of a reacher run")
    physics = suite.load("reacher", "easy").physics
    measured = {str(run): window_table(training_episodes_by_target(run, physics), args.window, args.solved)
                for run in args.runs}
    short = len({run.name for run in args.runs}) == len(args.runs)  # columns by folder name where they differ
    runs = {**earlier, **{Path(run).name if short else run: rows for run, rows in measured.items()}}
    command = "python benchmarks/reacher_targets.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    table = "\n".join([f"# Reacher training episodes by target distance: {args.tag}", "",
                       f"Command: `{command}`", "",
                       f"Solved (return >= {args.solved:g}) / episodes ending in each window, for targets nearer "
                       f"than {FAR_FROM} m to the base (near) and the others (far: they need the wrist open). "
                       "Training episodes act with exploration.", "", *markdown(runs, args.window)]) + "\n"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"reacher_targets_{args.tag}.json").write_text(
        json.dumps({"tag": args.tag, "window": args.window, "solved": args.solved, "far_from": FAR_FROM,
                    "runs": measured,
                    "beside": [str(path) for path in args.beside], "command": command}, indent=1) + "\n")
    (RESULTS_DIR / f"reacher_targets_{args.tag}.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
