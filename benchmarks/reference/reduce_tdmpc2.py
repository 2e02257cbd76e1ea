"""Reduce TD-MPC2's published dm_control result CSVs to the small reference file we plot against.

Reads ``results/{tdmpc2,dreamerv3,sac}/<task>.csv`` (columns ``step,reward,seed``) from a
git checkout of github.com/nicklashansen/tdmpc2 and keeps the dm_control tasks of our
suites up to ``--max-steps`` env steps. Their ``step`` counts agent decisions at action
repeat 2 (500 per episode), as ours does, so the numbers are written unchanged.

    python benchmarks/reference/reduce_tdmpc2.py /path/to/tdmpc2-git-dir
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agent.suites import SUITES  # noqa: E402
from envs import resolve_env_name  # noqa: E402

METHODS = {"tdmpc2": "TD-MPC2", "dreamerv3": "DreamerV3", "sac": "SAC"}
OUT = Path(__file__).resolve().parent / "dmc_tdmpc2_dreamerv3_sac.csv"


def their_name(task: str) -> str:
    """Our 'ball_in_cup-catch' / 'finger-turn_hard' are their 'cup-catch' / 'finger-turn-hard'."""
    return task.replace("ball_in_cup", "cup").replace("_", "-")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repo), *args], check=True, capture_output=True, text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path, help="git directory of a tdmpc2 clone (bare or .git)")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    args = parser.parse_args()

    commit = git(args.repo, "rev-parse", args.commit).strip()
    tasks = sorted({t for s in SUITES.values() for t in s.tasks if resolve_env_name(t).suite == "dmc"})
    rows, missing = [], []
    for task in tasks:
        for folder, method in METHODS.items():
            path = f"results/{folder}/{their_name(task)}.csv"
            try:
                text = git(args.repo, "show", f"{commit}:{path}")
            except subprocess.CalledProcessError:
                missing.append(f"{method}:{task}")
                continue
            for r in csv.DictReader(io.StringIO(text)):
                step = int(float(r["step"]))
                if step <= args.max_steps:
                    rows.append((task, method, int(r["seed"]), step, float(r["reward"])))
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    with open(OUT, "w", newline="") as f:
        f.write(f"# source: github.com/nicklashansen/tdmpc2 commit {commit}, results/{{tdmpc2,dreamerv3,sac}}/<task>.csv\n")
        f.write("# env_steps: agent decisions at action repeat 2 (500 per episode), as in wm-agent; "
                f"kept up to {args.max_steps}; return: their eval episode return (0-1000)\n")
        writer = csv.writer(f)
        writer.writerow(["task", "method", "seed", "env_steps", "return"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows for {len(tasks)} tasks to {OUT}; not published: {', '.join(missing) or 'none'}")


if __name__ == "__main__":
    main()
