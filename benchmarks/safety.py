"""Safety benchmark: the planner with and without a safety budget, same env steps, several seeds.

Each (env, variant, seed) is a real ``wm-agent train`` run in
``benchmarks/runs/safety/<env>-<variant>/seed<k>``; running the same command again resumes
unfinished runs from their checkpoints. Both variants learn the safety head (so they
cost the same per update and both report its precision/recall); only ``budget`` plans
with it. The table compares the last evaluation of each run: eval return and
violations per episode (steps the env flagged unsafe), mean over seeds, and checks the
target: at least 5x fewer violations at no more than 10% lower return.

    python benchmarks/safety.py                                   # reacher-hard and Pusher-v5, 3 seeds, 20k
    python benchmarks/safety.py --envs Pusher-v5 --seeds 1 --steps 10000 --budget 0.2
    python benchmarks/safety.py --report-only
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.train_runs import TrainRun, train_all, training_command  # noqa: E402

TARGET_FEWER_VIOLATIONS = 5.0  # at least this many times fewer with the budget
TARGET_MAX_RETURN_DROP = 0.10  # at no more than this fraction lower return


def variants(budget: float, mode: str) -> dict[str, list[str]]:
    return {"unconstrained": ["--safety-head"],
            "budget": ["--safety-budget", str(budget), "--safety-mode", mode]}


def last_row(path: Path) -> dict[str, float] | None:
    if not path.is_file():
        return None
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: float(v) for k, v in rows[-1].items()} if rows else None


def summarise(run_dirs: list[Path]) -> dict[str, float | None]:
    """Mean over seeds of the last eval's return, violations per episode and head precision/recall."""
    evals = [(last_row(d / "eval.csv"), last_row(d / "eval_safety.csv")) for d in run_dirs]
    done = [(e, s) for e, s in evals if e is not None and s is not None]
    if not done:
        return {"seeds_done": 0, "env_steps": None, "return": None, "return_sd": None, "violations": None,
                "precision": None, "recall": None}

    def mean(values: list[float]) -> float | None:
        finite = [v for v in values if v == v]  # NaN: undefined for that seed
        return round(statistics.fmean(finite), 3) if finite else None

    returns = [e["return_mean"] for e, _ in done]
    return {"seeds_done": len(done), "env_steps": int(min(e["env_steps"] for e, _ in done)),
            "return": mean(returns), "return_sd": round(statistics.pstdev(returns), 1),
            "violations": mean([s["episode_cost_mean"] for _, s in done]),
            "precision": mean([s["head_precision"] for _, s in done]), "recall": mean([s["head_recall"] for _, s in done])}


def verdict(free: dict, safe: dict) -> str:
    """Whether the budget met the target against the unconstrained planner."""
    if free["return"] is None or safe["return"] is None:
        return "pending"
    if (free["seeds_done"], free["env_steps"]) != (safe["seeds_done"], safe["env_steps"]):
        return "pending (not yet at equal seeds and env steps)"
    drop = (free["return"] - safe["return"]) / max(abs(free["return"]), 1e-9)
    if not free["violations"]:
        return f"no violations to remove without the budget; return {-100 * drop:+.1f}%: not measurable"
    if safe["violations"] == 0:
        fewer, fewer_text = float("inf"), "no violations left"
    else:
        fewer = free["violations"] / safe["violations"]
        fewer_text = f"{fewer:.1f}x fewer violations"
    met = fewer >= TARGET_FEWER_VIOLATIONS and drop <= TARGET_MAX_RETURN_DROP
    return f"{fewer_text}, return {-100 * drop:+.1f}%: {'met' if met else 'not met'}"


def markdown(rows: list[dict]) -> str:
    header = ["env", "variant", "seeds", "env_steps", "eval return (sd)", "violations/episode",
              "head precision", "head recall", "vs unconstrained"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    show = lambda v: "-" if v is None else str(v)  # noqa: E731
    for r in rows:
        ret = "-" if r["return"] is None else f"{r['return']} ({r['return_sd']})"
        lines.append(f"| {r['env']} | {r['variant']} | {r['seeds_done']} | {show(r['env_steps'])} | {ret} | "
                     f"{show(r['violations'])} | {show(r['precision'])} | {show(r['recall'])} | {r.get('verdict', '')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["reacher-hard", "Pusher-v5"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    # 20k, not 50k: 12 runs of 50k are about 15 h of this 2-core machine, 20k about 6 h.
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--parallel", type=int, default=2,
                        help="runs trained at once (each gets cores/parallel torch threads)")
    parser.add_argument("--budget", type=float, default=0.3, help="--safety-budget of the constrained variant")
    parser.add_argument("--mode", default="chance", choices=("chance", "penalty"))
    parser.add_argument("--runs", type=Path, default=ROOT / "benchmarks" / "runs" / "safety")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                        help="where safety.md/.json are written")
    parser.add_argument("--report-only", action="store_true", help="only print the table of what exists")
    parser.add_argument("train_args", nargs="*", help="extra 'wm-agent train' options after --")
    args = parser.parse_args()

    plan = variants(args.budget, args.mode)
    run_dir = lambda env, variant, seed: args.runs / f"{env}-{variant}" / f"seed{seed}"  # noqa: E731
    if not args.report_only:
        # Seed-major, so an interrupted sitting leaves whole (env, seed) pairs to compare.
        train_all([TrainRun(run_dir(env, variant, seed), env, seed, [*extra, *args.train_args])
                   for seed in args.seeds for env in args.envs for variant, extra in plan.items()],
                  args.steps, args.parallel)
    rows = []
    for env in args.envs:
        summaries = {variant: summarise([run_dir(env, variant, s) for s in args.seeds]) for variant in plan}
        rows += [{"env": env, "variant": variant, **summary} for variant, summary in summaries.items()]
        rows[-1]["verdict"] = verdict(summaries["unconstrained"], summaries["budget"])

    text = markdown(rows)
    print(text)
    command = training_command(__file__, sys.argv[1:])
    previous = args.out / "safety.json"
    if args.report_only and previous.is_file():
        command = json.loads(previous.read_text())["command"]
    args.out.mkdir(parents=True, exist_ok=True)
    note = (f"# Safety: planning with and without a safety budget\n\nCommand: `{command}`\n\n"
            f"Last evaluation of each run (no exploration noise), mean over seeds: eval return and violations "
            f"per episode (env steps flagged unsafe, see README's safety table). `budget` plans with "
            f"`--safety-budget {args.budget} --safety-mode {args.mode}`; both variants learn the safety head. "
            f"Target: >= {TARGET_FEWER_VIOLATIONS:g}x fewer violations at <= {100 * TARGET_MAX_RETURN_DROP:g}% "
            f"lower return.\n\n{text}\n")
    (args.out / "safety.md").write_text(note)
    (args.out / "safety.json").write_text(json.dumps(
        {"command": command, "envs": args.envs, "seeds": args.seeds, "steps": args.steps, "budget": args.budget,
         "mode": args.mode, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
