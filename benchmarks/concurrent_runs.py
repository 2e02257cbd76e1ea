"""Several ``wm-agent train`` runs on one machine at once: does each get its fair share of the cores?

Users train seeds side by side. With N runs started together (same short config, seeds 1..N,
default thread settings unless ``-- --threads K`` is passed through), each run's pace is the
median of its per-episode ``perf/env_steps_per_s`` after the seed phase (the trainer's own
scalars); the table sums them per N. No collapse means the sum for N = 2 and 4 is at least that
of one run alone. Settings of the environment (e.g. ``--env-var OMP_WAIT_POLICY=ACTIVE``) apply
to every run of that row, so a policy can be compared with the default in one sitting; the
rows are interleaved over ``--rounds``.

    python benchmarks/concurrent_runs.py                      # N = 1, 2, 4, defaults
    python benchmarks/concurrent_runs.py --variant default= --variant active=OMP_WAIT_POLICY=ACTIVE
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.train_speed import read_perf  # noqa: E402


def run_group(count: int, env_vars: dict[str, str], args: argparse.Namespace, logdir: Path) -> dict:
    """Start ``count`` runs at once and wait for all; their paces and the group's wall-clock."""
    steps = args.seed_steps + args.measure_steps
    procs, dirs = [], []
    for seed in range(1, count + 1):
        run_dir = logdir / f"n{count}-{time.time_ns()}-s{seed}"
        cmd = [sys.executable, "-m", "agent.cli", "train", "--env", args.env, "--obs", args.obs, "--seed", str(seed),
               "--steps", str(steps), "--seed-steps", str(args.seed_steps), "--pretrain-updates",
               str(args.pretrain_updates), "--eval-every", str(steps + 1), "--eval-episodes", "1", "--video-every",
               "0", "--no-progress", "--logdir", str(logdir), "--run-name", run_dir.name, *args.train_args]
        env = {**os.environ, **env_vars}
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True))
        dirs.append(run_dir)
    start = time.perf_counter()
    errors = [p.communicate()[1] for p in procs]
    wall = time.perf_counter() - start
    paces = []
    for proc, run_dir, err in zip(procs, dirs, errors):
        if proc.returncode != 0:
            raise SystemExit(f"concurrent_runs: a run exited {proc.returncode}: {err.strip().splitlines()[-1:]}")
        values = read_perf(run_dir, after_step=args.seed_steps).get("env_steps_per_s", [])
        paces.append(statistics.median(values))
    return {"runs": count, "env_vars": env_vars, "paces": paces, "sum_env_steps_per_s": sum(paces),
            "wall_s": wall}


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, assignments = text.partition("=")
    env_vars = dict(a.split("=", 1) for a in assignments.split(",") if a)
    return name, env_vars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="Reacher-v5", help="env (default: %(default)s, 50-step episodes)")
    parser.add_argument("--obs", default="state", choices=["state", "pixels"])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 2, 4], help="runs at once (default: 1 2 4)")
    parser.add_argument("--seed-steps", type=int, default=100)
    parser.add_argument("--pretrain-updates", type=int, default=10)
    parser.add_argument("--measure-steps", type=int, default=200, help="timed env steps per run (default: 200)")
    parser.add_argument("--rounds", type=int, default=1, help="repetitions of every row, interleaved")
    parser.add_argument("--variant", action="append", metavar="NAME=VAR=VALUE,...",
                        help="environment variables of a row group, e.g. active=OMP_WAIT_POLICY=ACTIVE "
                             "(default: one group 'default' with none)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "concurrent_runs")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("train_args", nargs="*", help="extra 'wm-agent train' options, after '--'")
    args = parser.parse_args()
    variants = [parse_variant(v) for v in (args.variant or ["default="])]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="concurrent_runs-") as tmp:
        for _ in range(args.rounds):
            for name, env_vars in variants:
                for count in args.counts:
                    row = {"variant": name, **run_group(count, env_vars, args, Path(tmp))}
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    command = "python benchmarks/" + Path(__file__).name + " " + shlex.join(sys.argv[1:])
    lines = ["| variant | runs at once | env steps/s of each run | summed env steps/s | sum / one run alone |",
             "|---|---|---|---|---|"]
    for name, _ in variants:
        alone = statistics.median(r["sum_env_steps_per_s"] for r in rows if r["variant"] == name and r["runs"] == 1) \
            if any(r["variant"] == name and r["runs"] == 1 for r in rows) else None
        for count in dict.fromkeys(args.counts):  # a count given twice (e.g. 1 2 4 1) is one row, its median
            group = [r for r in rows if r["variant"] == name and r["runs"] == count]
            total = statistics.median(r["sum_env_steps_per_s"] for r in group)
            each = ", ".join(f"{p:.2f}" for p in group[-1]["paces"])
            ratio = f"{total / alone:.2f}" if alone else "-"
            lines.append(f"| {name} | {count} | {each} | {total:.2f} | {ratio} |")
    text = (f"# Runs side by side on {os.cpu_count()} cores\n\nCommand: `{command}`\n\n"
            f"{platform.machine()}, python {platform.python_version()}; {args.env} from {args.obs}, "
            f"{args.measure_steps} timed env steps per run after {args.seed_steps} seed steps; pace = median of "
            f"the run's per-episode perf/env_steps_per_s.\n\n" + "\n".join(lines) + "\n")
    print(text)
    if not args.no_write:
        args.out.with_suffix(".md").write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps({"command": command, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
