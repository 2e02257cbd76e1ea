"""This checkout's training pace against an older revision's, measured side by side.

The baseline revision is exported with ``git archive`` into a temporary directory and run
from there with this machine's same environment; both sides run the same short real
``wm-agent train`` (same env, seed and options), one at a time, alternating which goes
first in each round so that a drift of the machine's speed hits both. A side's pace is the
median of its runs' per-episode ``perf/env_steps_per_s`` after the seed phase (the trainer's
own scalars: plan, env step and updates of the normal loop); 'x' is this checkout's pace
over the baseline's, per round and as the median of the rounds.

    python benchmarks/speedup.py --baseline b6cd575
    python benchmarks/speedup.py --baseline b6cd575 --label fp32-baseline \\
        --baseline-args="--no-update-bf16 --no-bf16"
    python benchmarks/speedup.py --baseline HEAD --label overlap --current-args="--schedule overlap"
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


def export_revision(rev: str, into: Path) -> str:
    """Unpack ``rev``'s tree into ``into``; returns its full commit hash."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
                            capture_output=True, text=True)
    if commit.returncode != 0:
        raise SystemExit(f"speedup: --baseline {rev}: not a commit of this repository")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit.stdout.strip()], capture_output=True,
                             check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return commit.stdout.strip()


def train(source: Path, obs: str, extra: list[str], args: argparse.Namespace, logdir: Path) -> dict:
    """One short run of ``source``'s own ``wm-agent train``; its pace after the seed phase."""
    steps = args.seed_steps + args.measure_steps
    run_dir = logdir / f"{source.name}-{obs}-{time.time_ns()}"
    cmd = [sys.executable, "-m", "agent.cli", "train", "--env", args.env, "--obs", obs, "--seed", str(args.seed),
           "--steps", str(steps), "--seed-steps", str(args.seed_steps), "--pretrain-updates",
           str(args.pretrain_updates), "--eval-every", str(steps + 1), "--eval-episodes", "1", "--video-every", "0",
           "--no-progress", "--logdir", str(logdir), "--run-name", run_dir.name, *extra]
    # cwd and PYTHONPATH first on sys.path: the side's own agent/, envs/ and planners/ are imported
    env = {**os.environ, "PYTHONPATH": str(source)}
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=source, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"speedup: {source.name} {obs} run exited {done.returncode}: "
                         f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    paces = read_perf(run_dir, after_step=args.seed_steps).get("env_steps_per_s", [])
    return {"env_steps_per_s": statistics.median(paces), "episodes": len(paces), "wall_s": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default="b6cd575", help="revision to compare with (default: %(default)s)")
    parser.add_argument("--baseline-args", default="", help="extra train options for the baseline side only")
    parser.add_argument("--current-args", default="", help="extra train options for this checkout's side only "
                                                           "(e.g. --current-args='--schedule overlap')")
    parser.add_argument("--env", default="Reacher-v5", help="env (default: %(default)s: 50-step episodes, so a "
                                                           "short run times several whole episodes)")
    parser.add_argument("--obs", nargs="+", default=["state", "pixels"], choices=["state", "pixels"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seed-steps", type=int, default=100, help="untimed random steps (default: 100)")
    parser.add_argument("--pretrain-updates", type=int, default=10, help="untimed updates (default: 10)")
    parser.add_argument("--measure-steps", type=int, default=150, help="timed env steps per run (default: 150)")
    parser.add_argument("--rounds", type=int, default=2, help="baseline/current pairs per obs (default: 2)")
    parser.add_argument("--label", default="", help="results name: speedup_vs_<rev>[_<label>]")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("train_args", nargs="*", help="extra 'wm-agent train' options for both sides, after '--'")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="speedup-") as tmp:
        baseline_dir = Path(tmp) / f"baseline-{args.baseline}"
        baseline_dir.mkdir()
        commit = export_revision(args.baseline, baseline_dir)
        logdir = Path(tmp) / "runs"
        sides = {"baseline": (baseline_dir, [*args.train_args, *shlex.split(args.baseline_args)]),
                 "current": (ROOT, [*args.train_args, *shlex.split(args.current_args)])}
        for obs in args.obs:
            for round_index in range(args.rounds):
                order = ["baseline", "current"] if round_index % 2 == 0 else ["current", "baseline"]
                result = {}
                for side in order:
                    source, extra = sides[side]
                    result[side] = train(source, obs, extra, args, logdir)
                    print(json.dumps({"obs": obs, "round": round_index, "side": side, **result[side]}), flush=True)
                rows.append({"obs": obs, "round": round_index, **result,
                             "x": result["current"]["env_steps_per_s"] / result["baseline"]["env_steps_per_s"]})
    command = "python benchmarks/" + Path(__file__).name + " " + shlex.join(sys.argv[1:])
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    lines = ["| obs | round | baseline env steps/s | current env steps/s | x |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['obs']} | {r['round']} | {r['baseline']['env_steps_per_s']:.3f} | "
                     f"{r['current']['env_steps_per_s']:.3f} | {r['x']:.2f} |")
    for obs in args.obs:
        median = statistics.median(r["x"] for r in rows if r["obs"] == obs)
        lines.append(f"| **{obs}** | median | | | **{median:.2f}** |")
    text = (f"# Training pace: this checkout ({head.stdout.strip()}{' + uncommitted' if _dirty() else ''}) "
            f"against {args.baseline} ({commit[:12]})\n\nCommand: `{command}`\n\n"
            f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}; {args.env}, "
            f"seed {args.seed}, {args.measure_steps} timed env steps per run after {args.seed_steps} seed steps and "
            f"{args.pretrain_updates} pretraining updates; baseline options: `{args.baseline_args or '(defaults)'}`; "
            f"current options: `{args.current_args or '(defaults)'}`; "
            f"both: `{shlex.join(args.train_args) or '(defaults)'}`. Pace = median per-episode perf/env_steps_per_s "
            f"after the seed phase.\n\n" + "\n".join(lines) + "\n")
    print(text)
    if not args.no_write:
        out = ROOT / "benchmarks" / "results" / f"speedup_vs_{args.baseline}{'_' + args.label if args.label else ''}"
        out.with_suffix(".md").write_text(text)
        out.with_suffix(".json").write_text(json.dumps({"command": command, "baseline": commit, "rows": rows},
                                                       indent=2) + "\n")
        print(f"wrote {out}.md and .json")


def _dirty() -> bool:
    status = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                            capture_output=True, text=True)
    return bool(status.stdout.strip())


if __name__ == "__main__":
    main()
