"""Safety benchmark: the planner with and without a safety budget, same env steps, several seeds.

Each (env, variant, seed) is a real ``wm-agent train`` run in
``benchmarks/runs/safety/<env>-<variant>/seed<k>``; running the same command again resumes
unfinished runs from their checkpoints. Both variants learn the safety head (so they
cost the same per update and both report its precision/recall); only ``budget`` plans
with it. The table compares the last evaluation of each run: eval return and
violations per episode (steps the env flagged unsafe), mean over seeds, and checks the
target: at least 5x fewer violations at no more than 10% lower return.

    python benchmarks/safety.py                                   # reacher-hard and Pusher-v5, 3 seeds
    python benchmarks/safety.py --envs Pusher-v5 --seeds 1 --steps 20000 --budget 0.2
    python benchmarks/safety.py --report-only
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_FEWER_VIOLATIONS = 5.0  # at least this many times fewer with the budget
TARGET_MAX_RETURN_DROP = 0.10  # at no more than this fraction lower return


def variants(budget: float, mode: str) -> dict[str, list[str]]:
    return {"unconstrained": ["--safety-head"],
            "budget": ["--safety-budget", str(budget), "--safety-mode", mode]}


def run_one(run_dir: Path, env: str, seed: int, steps: int, extra: list[str]) -> None:
    """Train (or resume) one run to ``steps`` env steps."""
    if (run_dir / "config.json").is_file():
        cmd = ["train", "--resume", str(run_dir), "--steps", str(steps)]
    else:
        cmd = ["train", "--env", env, "--seed", str(seed), "--steps", str(steps),
               "--logdir", str(run_dir.parent), "--run-name", run_dir.name, *extra]
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(run_dir.parent / f"{run_dir.name}.out", "a") as out:
        subprocess.run([sys.executable, "-m", "agent.cli", *cmd, "--no-progress"], stdout=out,
                       stderr=subprocess.STDOUT, check=True, cwd=ROOT,
                       env={**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")})


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
    fewer = free["violations"] / max(safe["violations"], 1e-9) if free["violations"] else float("inf")
    drop = (free["return"] - safe["return"]) / max(abs(free["return"]), 1e-9)
    met = fewer >= TARGET_FEWER_VIOLATIONS and drop <= TARGET_MAX_RETURN_DROP
    return f"{fewer:.1f}x fewer violations, return {-100 * drop:+.1f}%: {'met' if met else 'not met'}"


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
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--budget", type=float, default=0.3, help="--safety-budget of the constrained variant")
    parser.add_argument("--mode", default="chance", choices=("chance", "penalty"))
    parser.add_argument("--runs", type=Path, default=ROOT / "benchmarks" / "runs" / "safety")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                        help="where safety.md/.json are written")
    parser.add_argument("--report-only", action="store_true", help="only print the table of what exists")
    parser.add_argument("train_args", nargs="*", help="extra 'wm-agent train' options after --")
    args = parser.parse_args()

    started = time.time()
    plan = variants(args.budget, args.mode)
    rows = []
    for env in args.envs:
        summaries = {}
        for variant, extra in plan.items():
            dirs = [args.runs / f"{env}-{variant}" / f"seed{s}" for s in args.seeds]
            if not args.report_only:
                for seed, run_dir in zip(args.seeds, dirs):
                    run_one(run_dir, env, seed, args.steps, [*extra, *args.train_args])
            summaries[variant] = summarise(dirs)
            rows.append({"env": env, "variant": variant, **summaries[variant]})
        rows[-1]["verdict"] = verdict(summaries["unconstrained"], summaries["budget"])

    text = markdown(rows)
    print(text)
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, ROOT), *sys.argv[1:]])
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
         "mode": args.mode, "rows": rows, "sitting_seconds": round(time.time() - started)}, indent=2) + "\n")


if __name__ == "__main__":
    main()
