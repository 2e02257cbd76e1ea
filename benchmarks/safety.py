"""Safety benchmark: the planner with and without a safety budget, same env steps, several seeds.

Each (env, variant, seed) is a real ``wm-agent train`` run in
``benchmarks/runs/safety/<env>-<variant>/seed<k>``; running the same command again resumes
unfinished runs from their checkpoints. A budget or mode other than the default trains in
``<env>-budget<b>-<mode>`` beside them and reuses the unconstrained runs, so trying another
budget costs only the budget runs. Both variants learn the safety head (so they
cost the same per update and both report its precision/recall); only ``budget`` plans
with it. The table compares the runs at one evaluation step (``--steps``, or while runs
are unfinished the last step every seed reached): eval return and violations per
episode (steps the env flagged unsafe), mean over seeds, and checks the target: at
least 5x fewer violations at no more than 10% lower return. Once a run reaches
``--steps`` its checkpoint there gets a final evaluation of ``--final-episodes``
episodes (``wm-agent eval``; the same reset seeds for both variants of a seed), which the
table uses once every seed has it: the trainer's periodic evaluation runs only 5
episodes, too few where episodes either succeed or fail (reacher-hard).

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
from agent.layout import CONFIG_FILE, EVAL_CSV, EVAL_SAFETY_CSV
from agent.run.evaluate import eval_report_path  # noqa: E402
from benchmarks.train_runs import TrainRun, evaluate_all, train_all, training_command  # noqa: E402

TARGET_FEWER_VIOLATIONS = 5.0  # at least this many times fewer with the budget
TARGET_MAX_RETURN_DROP = 0.10  # at no more than this fraction lower return


# Limits the benchmark sets where the family's default (chosen from a random policy, README's
# safety table) is never reached by a trained agent, so that there would be nothing to compare.
# Pusher-v5: its control cost makes a trained agent gentle; at 20k env steps (seed 1, 5 eval
# episodes) its joint speed had median 0.36, 90th percentile 1.6 and max 2.7 rad/s against the
# default limit of 5 (random policy: 90th percentile 4.85), and both variants had 0 violations.
# 1.5 rad/s is about that agent's 90th percentile: reachable, and a careful agent can stay below.
BENCHMARK_LIMITS: dict[str, str] = {"Pusher-v5": "joint_speed=1.5"}


DEFAULT_BUDGET, DEFAULT_MODE = 0.3, "chance"


def run_dir_name(env: str, variant: str, budget: float, mode: str) -> str:
    """``<env>-<variant>``, except a non-default budget's own ``<env>-budget<b>-<mode>`` (unconstrained is shared)."""
    if variant == "budget" and (budget, mode) != (DEFAULT_BUDGET, DEFAULT_MODE):
        return f"{env}-budget{budget:g}-{mode}"
    return f"{env}-{variant}"


def variants(budget: float, mode: str) -> dict[str, list[str]]:
    return {"unconstrained": ["--safety-head"],
            "budget": ["--safety-budget", str(budget), "--safety-mode", mode]}


def env_options(env: str) -> list[str]:
    """'wm-agent train' options the benchmark sets for ``env`` (both variants)."""
    return ["--safety-limits", BENCHMARK_LIMITS[env]] if env in BENCHMARK_LIMITS else []


def check_limits(run_dir: Path, env: str) -> None:
    """Refuse to resume a run that was started with other safety limits than the benchmark's now."""
    config = run_dir / CONFIG_FILE
    if not config.is_file():
        return
    found = json.loads(config.read_text())["env"].get("safety_limits", "")
    wanted = BENCHMARK_LIMITS.get(env, "")
    if found != wanted:
        raise SystemExit(f"{run_dir} was started with safety limits {found or 'the family default'!r}, the benchmark "
                         f"now sets {wanted or 'the family default'!r}; move it aside to start it again")


def rows_by_step(path: Path) -> dict[int, dict[str, float]]:
    """A run's CSV (eval.csv or eval_safety.csv) as env steps -> row; empty before its first evaluation."""
    if not path.is_file():
        return {}
    with open(path) as f:
        return {int(float(r["env_steps"])): {k: float(v) for k, v in r.items()} for r in csv.DictReader(f)}


def final_eval(run_dir: Path, steps: int, episodes: int) -> dict[str, float] | None:
    """The run's final evaluation at ``steps`` (``wm-agent eval``'s report) in the CSV rows' terms, if it has
    at least ``episodes`` episodes."""
    path = eval_report_path(run_dir, steps)
    if episodes <= 0 or not path.is_file():
        return None
    report = json.loads(path.read_text())
    if report["episodes"] < episodes:
        return None
    return {"return_mean": statistics.fmean(report["returns"]), "episode_cost_mean": statistics.fmean(report["costs"]),
            "head_precision": report["safety_head_precision"], "head_recall": report["safety_head_recall"],
            "episodes": report["episodes"]}


def summarise(run_dirs: list[Path], steps: int, final_episodes: int = 0) -> dict[str, float | None]:
    """Mean over seeds of eval return, violations per episode and head precision/recall, every seed at one
    env step: ``steps`` where seeds reached it (those seeds only), else the last step all seeds reached.
    The final evaluations (``final_episodes`` each) replace the periodic ones once every such seed has one."""
    runs = [(d, rows_by_step(d / EVAL_CSV), rows_by_step(d / EVAL_SAFETY_CSV)) for d in run_dirs]
    runs = [(d, e, s) for d, e, s in runs if set(e) & set(s)]  # evaluated at least once
    finished = [(d, e, s) for d, e, s in runs if steps in e and steps in s]
    common = set.intersection(*(set(e) & set(s) for _, e, s in runs)) if runs else set()
    if not finished and not common:
        return {"seeds_done": 0, "env_steps": None, "episodes": None, "return": None, "return_sd": None,
                "violations": None, "precision": None, "recall": None}
    runs, step = (finished, steps) if finished else (runs, max(common))
    finals = [final_eval(d, step, final_episodes) for d, _, _ in runs]
    evals = finals if all(finals) else [{**e[step], **s[step]} for _, e, s in runs]

    def mean(values: list[float]) -> float | None:
        finite = [v for v in values if v == v]  # NaN: undefined for that seed
        return round(statistics.fmean(finite), 3) if finite else None

    returns = [r["return_mean"] for r in evals]
    return {"seeds_done": len(evals), "env_steps": step, "episodes": int(min(r["episodes"] for r in evals)),
            "return": mean(returns), "return_sd": round(statistics.pstdev(returns), 1),
            "violations": mean([r["episode_cost_mean"] for r in evals]),
            "precision": mean([r["head_precision"] for r in evals]),
            "recall": mean([r["head_recall"] for r in evals])}


def verdict(free: dict, safe: dict) -> str:
    """Whether the budget met the target against the unconstrained planner."""
    if free["return"] is None or safe["return"] is None:
        return "pending"
    if [free[k] for k in ("seeds_done", "env_steps", "episodes")] != [safe[k] for k in ("seeds_done", "env_steps", "episodes")]:
        return "pending (not yet at equal seeds, env steps and evaluation episodes)"
    drop = (free["return"] - safe["return"]) / max(abs(free["return"]), 1e-9)
    change = f"return {-100 * drop + 0.0:+.1f}%"  # + 0.0: no '-0.0%' when nothing changed
    if not free["violations"]:
        return f"no violations to remove without the budget; {change}: not measurable"
    if safe["violations"] == 0:
        fewer, fewer_text = float("inf"), "no violations left"
    else:
        fewer = free["violations"] / safe["violations"]
        fewer_text = f"{fewer:.1f}x fewer violations"
    met = fewer >= TARGET_FEWER_VIOLATIONS and drop <= TARGET_MAX_RETURN_DROP
    return f"{fewer_text}, {change}: {'met' if met else 'not met'}"


def markdown(rows: list[dict]) -> str:
    header = ["env", "variant", "seeds", "env_steps", "episodes/seed", "eval return (sd)", "violations/episode",
              "head precision", "head recall", "vs unconstrained"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    show = lambda v: "-" if v is None else str(v)  # noqa: E731
    for r in rows:
        ret = "-" if r["return"] is None else f"{r['return']} ({r['return_sd']})"
        lines.append(f"| {r['env']} | {r['variant']} | {r['seeds_done']} | {show(r['env_steps'])} | {show(r.get('episodes'))} | {ret} | "
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
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET, help="--safety-budget of the constrained variant")
    parser.add_argument("--mode", default=DEFAULT_MODE, choices=("chance", "penalty"))
    parser.add_argument("--runs", type=Path, default=ROOT / "benchmarks" / "runs" / "safety")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                        help="where safety.md/.json are written")
    parser.add_argument("--final-episodes", type=int, default=20,
                        help="episodes of the final evaluation at --steps (0: the trainer's periodic ones only)")
    parser.add_argument("--report-only", action="store_true", help="only print the table of what exists")
    parser.add_argument("train_args", nargs="*", help="extra 'wm-agent train' options after --")
    args = parser.parse_args()
    if args.final_episodes < 0:
        parser.error(f"--final-episodes={args.final_episodes} is invalid; accepted: an integer >= 0 (0: no final evaluation)")

    plan = variants(args.budget, args.mode)

    def run_dir(env: str, variant: str, seed: int) -> Path:
        return args.runs / run_dir_name(env, variant, args.budget, args.mode) / f"seed{seed}"

    if not args.report_only:
        # Seed-major, so an interrupted sitting leaves whole (env, seed) pairs to compare.
        runs = [TrainRun(run_dir(env, variant, seed), env, seed, [*extra, *env_options(env), *args.train_args])
                for seed in args.seeds for env in args.envs for variant, extra in plan.items()]
        for run in runs:
            check_limits(run.run_dir, run.env)
        train_all(runs, args.steps, args.parallel)
        if args.final_episodes > 0:
            evaluate_all(runs, args.steps, args.final_episodes, args.parallel)
    rows = []
    for env in args.envs:
        summaries = {variant: summarise([run_dir(env, variant, s) for s in args.seeds], args.steps, args.final_episodes)
                     for variant in plan}
        rows += [{"env": env, "variant": variant, **summary} for variant, summary in summaries.items()]
        rows[-1]["verdict"] = verdict(summaries["unconstrained"], summaries["budget"])

    text = markdown(rows)
    print(text)
    command = training_command(__file__, sys.argv[1:])
    previous = args.out / "safety.json"
    if args.report_only and previous.is_file():
        command = json.loads(previous.read_text())["command"]
    args.out.mkdir(parents=True, exist_ok=True)
    limits = {env: BENCHMARK_LIMITS[env] for env in args.envs if env in BENCHMARK_LIMITS}
    limits_text = ", ".join(f"{env} `{spec}`" for env, spec in limits.items()) or "none"
    note = (f"# Safety: planning with and without a safety budget\n\nCommand: `{command}`\n\n"
            f"Evaluation at the env steps shown (no exploration noise; `episodes/seed` episodes per seed: "
            f"{args.final_episodes} in the final evaluation of the checkpoint at {args.steps}, on the same reset seeds for "
            f"both variants, else the trainer's periodic ones), mean over the seeds that reached them: "
            f"eval return and violations per episode (env steps flagged unsafe, see README's safety table). `budget` plans with "
            f"`--safety-budget {args.budget} --safety-mode {args.mode}`; both variants learn the safety head. "
            f"Safety limits: the family defaults, except {limits_text} (`BENCHMARK_LIMITS` in "
            f"`benchmarks/safety.py` says why). "
            f"Target: >= {TARGET_FEWER_VIOLATIONS:g}x fewer violations at <= {100 * TARGET_MAX_RETURN_DROP:g}% "
            f"lower return.\n\n{text}\n")
    (args.out / "safety.md").write_text(note)
    (args.out / "safety.json").write_text(json.dumps(
        {"command": command, "envs": args.envs, "seeds": args.seeds, "steps": args.steps, "budget": args.budget,
         "mode": args.mode, "final_episodes": args.final_episodes, "limits": limits, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
