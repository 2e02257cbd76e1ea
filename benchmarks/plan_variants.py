"""How a trained agent acts under other planner settings: a test-time ablation on fixed weights.

Each variant changes only `PlanConfig` fields (how the agent plans, never what it learned) and is
evaluated on the same reset seeds as every other variant, so the episodes are paired: a variant
that solves an episode the default fails shows up as that episode, not as noise between seeds.
Issue 27 asks for a planner that does not chase model error; this measures candidate rankings
(the policy prior's own plan, a margin before leaving it, a pessimistic value, a larger
population) on checkpoints whose failures are known, in minutes instead of retraining for hours.
What it cannot show is how a variant changes the data a run collects while training.

    python benchmarks/plan_variants.py RUN [RUN ...] --episodes 20 --tag reacher-easy-i26-48k \\
        --variant default --variant prior:prior_margin=1e9 --variant margin5:prior_margin=5

A variant is ``name`` or ``name:field=value,field=value`` (fields of `agent.config.PlanConfig`);
``default`` changes nothing. The key ``explore=True`` is not a field: it acts as while training (a drawn
elite plus the planner's noise), to tell a trapped deterministic plan from an agent that cannot do the task.
Results go to ``benchmarks/results/plan_variants_<tag>.{md,json}``
with the command; rerunning the command skips the (run, variant) cells the json already holds.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import multiprocessing
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS_DIR = ROOT / "benchmarks" / "results"

DEFAULT_VARIANTS = ("default", "prior:prior_margin=1e9", "margin1:prior_margin=1", "margin5:prior_margin=5",
                    "pessimism1:value_pessimism=1", "population:num_samples=512,num_elites=64,iterations=6")


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """``name:field=value,...`` -> (name, {field: value}); values are Python literals, else strings."""
    name, _, spec = text.partition(":")
    if not name:
        raise SystemExit(f"--variant {text!r}: no name; expected NAME or NAME:field=value,...")
    options: dict[str, Any] = {}
    for item in filter(None, spec.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"--variant {text!r}: {item!r} is not field=value")
        try:
            options[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            options[key.strip()] = value.strip()
    return name, options


def evaluate_variant(run: Path, options: dict[str, Any], episodes: int, seed: int, threads: int) -> dict[str, Any]:
    """Returns of ``episodes`` evaluation episodes of ``run``'s newest checkpoint planned with ``options``."""
    from agent.run.evaluate import evaluate_restored

    start = time.perf_counter()
    plan = {k: v for k, v in options.items() if k != "explore"}
    done = evaluate_restored(run, episodes, seed, "cpu", plan=plan, with_llm=False, threads=threads,
                             explore=bool(options.get("explore", False)))
    return {"env_steps": done.env_steps, "returns": [float(r) for r in done.result.returns],
            "plan_ms_per_action": done.result.plan_ms_per_action, "seconds": time.perf_counter() - start,
            **done.plan_stats}


def evaluate_cell(job: tuple[str, str, dict[str, Any], int, int, int]) -> tuple[str, str, dict[str, Any]]:
    """`evaluate_variant` of one (run, name, options, episodes, seed, threads) job, keyed by (run, name)."""
    run, name, options, episodes, seed, threads = job
    return run, name, evaluate_variant(Path(run), options, episodes, seed, threads)


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """SIGTERM raises SystemExit here (its default kills this process at once, skipping every cleanup), so a
    stopped benchmark unwinds and its pool terminates the workers instead of leaving them computing lost cells."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def evaluate_cells(todo: list[tuple[str, str, dict[str, Any]]], episodes: int, seed: int, threads: int,
                   jobs: int) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(run, variant name, cell) for each (run, name, options) of ``todo``, as they finish.

    With ``jobs`` > 1 the cells run in that many spawned processes (each with ``threads`` torch threads):
    cells are independent evaluations, so the wall time divides by the cores given; only this process
    writes the json, so a stop (SIGTERM, Ctrl-C) loses at most the cells still running, and ends the
    workers with it (leaving the pool's block terminates them)."""
    jobs_args = [(run, name, options, episodes, seed, threads) for run, name, options in todo]
    if jobs == 1:
        yield from map(evaluate_cell, jobs_args)
        return
    with sigterm_as_exit(), multiprocessing.get_context("spawn").Pool(jobs) as pool:
        yield from pool.imap_unordered(evaluate_cell, jobs_args)


def label(run: str) -> str:
    """A column name: the run directory's name, also for one of its checkpoint files (``seed1/ckpt_...pt``)."""
    path = Path(run)
    return f"{path.parent.parent.name}/{path.name}" if path.parent.name == "checkpoints" else path.name


def report(data: dict[str, Any], fail_below: float | None) -> str:
    """The markdown table: one row per variant, each run's mean (and failures) and the pooled figures."""
    runs, variants = data["runs"], data["variants"]
    head = ["variant", "changes"] + [label(r) for r in runs] + ["mean", "worst run"]
    if fail_below is not None:
        head.append(f"episodes < {fail_below:g}")
    head.append("plan ms")
    lines = [f"# Planner variants on fixed weights: {data['tag']}", "",
             f"Command: `{data['command']}`", "",
             f"{data['episodes']} evaluation episodes per run and variant, the same reset seeds (eval seed "
             f"{data['seed']}) for every variant, no exploration noise; checkpoints: "
             + ", ".join(f"{label(r)} at {data['env_steps'].get(r, '?')} env steps" for r in runs) + ".", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, options in variants.items():
        cells = [data["results"].get(f"{r}|{name}") for r in runs]
        done = [c for c in cells if c is not None]
        row = [name, ", ".join(f"{k}={v}" for k, v in options.items()) or "-"]
        row += [f"{np.mean(c['returns']):.1f}" if c else "-" for c in cells]
        pooled = [x for c in done for x in c["returns"]]
        row.append(f"{np.mean(pooled):.1f}" if pooled else "-")
        row.append(f"{min(np.mean(c['returns']) for c in done):.1f}" if done else "-")
        if fail_below is not None:
            row.append(f"{sum(x < fail_below for x in pooled)} of {len(pooled)}" if pooled else "-")
        row.append(f"{np.mean([c['plan_ms_per_action'] for c in done]):.1f}" if done else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories (newest checkpoint) or checkpoint files")
    parser.add_argument("--variant", action="append", help="NAME or NAME:field=value,... (repeatable; default: "
                        + "; ".join(DEFAULT_VARIANTS) + ")")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes per run and variant")
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed (the reset seeds of the episodes)")
    parser.add_argument("--fail-below", type=float, default=None, help="count episodes returning less than this")
    parser.add_argument("--tag", required=True, help="results file name: plan_variants_<tag>.{md,json}")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per evaluation (default 1)")
    parser.add_argument("--jobs", type=int, default=1, help="evaluations at once, one process each (default 1)")
    parser.add_argument("--report-only", action="store_true", help="write the table from the json, run nothing")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        raise SystemExit(f"--episodes {args.episodes}: expected at least 1")
    if args.jobs < 1:
        raise SystemExit(f"--jobs {args.jobs}: expected at least 1")

    variants = dict(parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS))
    json_path = RESULTS_DIR / f"plan_variants_{args.tag}.json"
    runs = [str(r) for r in args.runs]
    data: dict[str, Any] = {"tag": args.tag, "runs": runs, "variants": variants, "episodes": args.episodes,
                            "seed": args.seed, "results": {}, "env_steps": {},
                            "command": "python benchmarks/plan_variants.py " + shlex.join(sys.argv[1:] if argv is None
                                                                                        else argv)}
    if json_path.exists():
        old = json.loads(json_path.read_text())
        if (old["episodes"], old["seed"]) == (args.episodes, args.seed):
            data["results"], data["env_steps"] = old["results"], old["env_steps"]
    todo = [(run, name, options) for run in runs for name, options in variants.items()
            if f"{run}|{name}" not in data["results"] and not args.report_only]
    # closing: a stop that lands while this loop writes the json still ends the generator, and with it the pool
    with contextlib.closing(evaluate_cells(todo, args.episodes, args.seed, args.threads, args.jobs)) as cells:
        for run, name, cell in cells:
            data["results"][f"{run}|{name}"], data["env_steps"][run] = cell, cell["env_steps"]
            print(f"{label(run)} {name}: mean {np.mean(cell['returns']):.1f} "
                  f"({', '.join(f'{x:.0f}' for x in cell['returns'])})", flush=True)
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            partial = json_path.with_suffix(".json.partial")  # replaced whole: a stop mid-write keeps the old json
            partial.write_text(json.dumps(data, indent=1) + "\n")
            partial.replace(json_path)
    table = report(data, args.fail_below)
    print(table)
    (RESULTS_DIR / f"plan_variants_{args.tag}.md").write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
