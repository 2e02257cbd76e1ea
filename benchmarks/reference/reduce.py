"""Reduce published dm_control learning curves to the small CSVs the suite report compares against.

Each source is read from a git directory of its repository (a bare clone or a ``.git``)
and written to its own CSV here, in our task names and our step unit: agent decisions at
action repeat 2, i.e. dm_control env steps / 2 (500 per episode).

    python benchmarks/reference/reduce.py tdmpc2    /path/to/tdmpc2.git     # TD-MPC2, DreamerV3, SAC
    python benchmarks/reference/reduce.py tdmpc     /path/to/tdmpc.git      # TD-MPC
    python benchmarks/reference/reduce.py dreamerv3 /path/to/dreamerv3.git  # DreamerV3, the authors' runs
    python benchmarks/reference/reduce.py mrq       /path/to/MRQ.git        # MR.Q
    python benchmarks/reference/reduce.py simbav2   /path/to/SimbaV2.git    # SimbaV2, BRO
    python benchmarks/reference/reduce.py drq       /path/to/DR.Q.git       # DR.Q
    python benchmarks/reference/reduce.py bmpc      /path/to/bmpc.git       # BMPC

Only data files are read; see README.md for what each source's step counts and why the
conversion below is right.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agent.suite.reference import REFERENCE_DIR, SOURCE_STEPS_PER_OURS  # noqa: E402  (the CSVs are package data)
from agent.suite.definitions import SUITES  # noqa: E402
from envs import resolve_env_name  # noqa: E402

Row = tuple[str, str, int, int, float]  # task, method, seed, env steps (ours), return
DREAMERV3_AUTHORS = "DreamerV3 (authors)"  # the DreamerV3 authors' own runs, beside TD-MPC2's runs of it


def their_name(task: str) -> str:
    """Our 'ball_in_cup-catch' / 'finger-turn_hard' are their 'cup-catch' / 'finger-turn-hard'."""
    return task.replace("ball_in_cup", "cup").replace("_", "-")


def git_bytes(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(repo), *args], check=True, capture_output=True).stdout


def git(repo: Path, *args: str) -> str:
    return git_bytes(repo, *args).decode()


def dmc_tasks() -> list[str]:
    return sorted({t for s in SUITES.values() for t in s.tasks if resolve_env_name(t).suite == "dmc"})


def ours(method: str, their_step: float) -> int:
    """Their step in our unit (SOURCE_STEPS_PER_OURS); a step that does not divide evenly is a misread unit."""
    per_ours = SOURCE_STEPS_PER_OURS[method]
    step = int(their_step)
    if step != their_step or step % per_ours:
        raise ValueError(f"{method}: step {their_step} is not a multiple of {per_ours} of their steps")
    return step // per_ours


def show_csv(repo: Path, commit: str, path: str) -> list[dict[str, str]] | None:
    try:
        return list(csv.DictReader(io.StringIO(git(repo, "show", f"{commit}:{path}"))))
    except subprocess.CalledProcessError:
        return None


def tdmpc2_rows(repo: Path, commit: str, missing: list[str]) -> Iterator[Row]:
    """results/{tdmpc2,dreamerv3,sac}/<task>.csv, columns step,reward,seed; step is dm_control env steps."""
    for task in dmc_tasks():
        for folder, method in {"tdmpc2": "TD-MPC2", "dreamerv3": "DreamerV3", "sac": "SAC"}.items():
            rows = show_csv(repo, commit, f"results/{folder}/{their_name(task)}.csv")
            if rows is None:
                missing.append(f"{method}:{task}")
                continue
            for r in rows:
                yield task, method, int(r["seed"]), ours(method, float(r["step"])), float(r["reward"])


def tdmpc_rows(repo: Path, commit: str, missing: list[str]) -> Iterator[Row]:
    """results/<task>.csv, columns seed,step,return; step is their env_step = dm_control env steps."""
    for task in dmc_tasks():
        rows = show_csv(repo, commit, f"results/{their_name(task)}.csv")
        if rows is None:
            missing.append(f"TD-MPC:{task}")
            continue
        for r in rows:
            yield task, "TD-MPC", int(r["seed"]), ours("TD-MPC", int(r["step"])), float(r["return"])


def dreamerv3_rows(repo: Path, commit: str, missing: list[str]) -> Iterator[Row]:
    """scores/dmc_proprio-dreamerv3.json.gz: runs of {task, seed, xs, ys}; xs are dm_control env steps."""
    runs = json.loads(gzip.decompress(git_bytes(repo, "show", f"{commit}:scores/dmc_proprio-dreamerv3.json.gz")))
    by_task: dict[str, list[dict]] = defaultdict(list)
    for run in runs:
        by_task[run["task"]].append(run)
    for task in dmc_tasks():
        theirs = "dmc_" + task.replace("-", "_")
        if theirs not in by_task:
            missing.append(f"{DREAMERV3_AUTHORS}:{task}")
            continue
        for run in by_task[theirs]:
            for x, y in zip(run["xs"], run["ys"]):
                yield task, DREAMERV3_AUTHORS, int(run["seed"]), ours(DREAMERV3_AUTHORS, x), float(y)


def mrq_rows(repo: Path, commit: str, missing: list[str]) -> Iterator[Row]:
    """results/dmc_results.txt: per task a block 'Env: Dmc-<task>', a 'Timestep<TAB>Seed 0 ...' header, then one
    line per evaluation (timestep, then one return per seed); Timestep is agent decisions at action repeat 2."""
    blocks: dict[str, list[list[str]]] = {}
    for line in git(repo, "show", f"{commit}:results/dmc_results.txt").splitlines():
        if line.startswith("Env: "):
            rows = blocks[line.split()[1]] = []
        elif line.strip() and not line.startswith("-"):
            rows.append(line.split())
    for task in dmc_tasks():
        block = blocks.get(f"Dmc-{task}")  # 'Dmc-visual-<task>' are the pixel runs, not read
        if block is None:
            missing.append(f"MR.Q:{task}")
            continue
        header, *evaluations = block
        seeds = [int(seed) for word, seed in zip(header[1::2], header[2::2]) if word == "Seed"]
        for timestep, *returns in evaluations:
            assert len(returns) == len(seeds), (task, timestep)
            for seed, ret in zip(seeds, returns):
                yield task, "MR.Q", seed, ours("MR.Q", float(timestep)), float(ret)


def scale_rl_csv_rows(repo: Path, commit: str, path: str, method: str, name: Callable[[str], str],
                      missing: list[str]) -> Iterator[Row]:
    """A csv in SimbaV2's format (columns ,exp_name,env_name,seed,metric,env_step,value): its avg_return rows."""
    by_task: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in show_csv(repo, commit, path) or []:
        if r["metric"] == "avg_return":
            by_task[r["env_name"]].append(r)
    for task in dmc_tasks():
        if name(task) not in by_task:
            missing.append(f"{method}:{task}")
            continue
        for r in by_task[name(task)]:
            yield task, method, int(float(r["seed"])), ours(method, float(r["env_step"])), float(r["value"])


def simbav2_rows(repo: Path, commit: str, missing: list[str]) -> Iterator[Row]:
    """results/simbaV2_utd2.csv (SimbaV2, our task names) and results/baseline/bro_utd10.csv (BRO, names with '-'
    for '_'); env_step is dm_control env steps in both."""
    yield from scale_rl_csv_rows(repo, commit, "results/simbaV2_utd2.csv", "SimbaV2", lambda t: t, missing)
    yield from scale_rl_csv_rows(repo, commit, "results/baseline/bro_utd10.csv", "BRO",
                                 lambda t: t.replace("_", "-"), missing)


def drq_rows(repo: Path, commit: str, missing: list[str]) -> Iterator[Row]:
    """results/drq.csv in SimbaV2's format, task names with '_' for '-'; env_step is dm_control env steps."""
    yield from scale_rl_csv_rows(repo, commit, "results/drq.csv", "DR.Q", lambda t: t.replace("-", "_"), missing)


def bmpc_rows(repo: Path, commit: str, missing: list[str]) -> Iterator[Row]:
    """results/data_dmc_all_1M.json: method -> task -> {steps, values, lcbs, ucbs}, means over seeds only; BMPC's
    own curves (its copies of TD-MPC2, SAC and DreamerV3 are not read). The mean is written as seed 0."""
    curves = json.loads(git(repo, "show", f"{commit}:results/data_dmc_all_1M.json"))["BMPC"]
    for task in dmc_tasks():
        curve = curves.get(their_name(task))
        if curve is None:
            missing.append(f"BMPC:{task}")
            continue
        for step, value in zip(curve["steps"], curve["values"], strict=True):
            yield task, "BMPC", 0, ours("BMPC", step), float(value)


@dataclass(frozen=True)
class Source:
    repository: str
    files: str
    out: str
    unit: str  # the second header line: what env_steps and return are
    rows: Callable[[Path, str, list[str]], Iterator[Row]]


SOURCES = {
    "tdmpc2": Source("github.com/nicklashansen/tdmpc2", "results/{tdmpc2,dreamerv3,sac}/<task>.csv",
                     "dmc_tdmpc2_dreamerv3_sac.csv",
                     "env_steps: their step (dm_control env steps, action repeat 2 applied: tdmpc2 issue #45) / 2 "
                     "= agent decisions at action repeat 2, as in wm-agent; return: their eval episode return "
                     "(0-1000)", tdmpc2_rows),
    "tdmpc": Source("github.com/nicklashansen/tdmpc", "results/<task>.csv", "dmc_tdmpc.csv",
                    "env_steps: their env_step (dm_control env steps, any action repeat) / 2 = agent decisions at "
                    "action repeat 2, as in wm-agent; return: their eval episode return (0-1000)", tdmpc_rows),
    "dreamerv3": Source("github.com/danijar/dreamerv3", "scores/dmc_proprio-dreamerv3.json.gz", "dmc_dreamerv3.csv",
                        "env_steps: their xs (dm_control env steps at action repeat 2, bins of 10,000) / 2 = agent "
                        "decisions at action repeat 2, as in wm-agent; return: their training episode score "
                        "(0-1000)", dreamerv3_rows),
    "mrq": Source("github.com/facebookresearch/MRQ", "results/dmc_results.txt", "dmc_mrq.csv",
                  "env_steps: their Timestep (agent decisions at action repeat 2), unchanged = as in wm-agent; "
                  "return: their eval return (mean of 10 episodes, 0-1000)", mrq_rows),
    "simbav2": Source("github.com/DAVIAN-Robotics/SimbaV2", "results/simbaV2_utd2.csv, results/baseline/bro_utd10.csv",
                      "dmc_simbav2_bro.csv",
                      "env_steps: their env_step (dm_control env steps; SimbaV2 at action repeat 2, BRO without "
                      "repeat) / 2 = agent decisions at action repeat 2, as in wm-agent; return: their eval "
                      "avg_return (0-1000)", simbav2_rows),
    "drq": Source("github.com/dmksjfl/DR.Q", "results/drq.csv", "dmc_drq.csv",
                  "env_steps: their env_step (dm_control env steps: decisions at action repeat 2 x 2) / 2 = agent "
                  "decisions at action repeat 2, as in wm-agent; return: their eval avg_return (0-1000)", drq_rows),
    "bmpc": Source("github.com/wertyuilife2/bmpc", "results/data_dmc_all_1M.json (BMPC only)", "dmc_bmpc.csv",
                   "env_steps: their steps (dm_control env steps, on TD-MPC2's results axis) / 2 = agent decisions "
                   "at action repeat 2, as in wm-agent; return: their mean over seeds (seed 0 = that mean; no "
                   "per-seed values published) (0-1000)", bmpc_rows),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", choices=sorted(SOURCES))
    parser.add_argument("repo", type=Path, help="git directory of a clone of the source (bare or .git)")
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--max-steps", type=int, default=1_000_000, help="keep env steps (ours) up to this")
    args = parser.parse_args()

    source = SOURCES[args.source]
    commit = git(args.repo, "rev-parse", args.commit).strip()
    missing: list[str] = []
    rows = sorted(r for r in source.rows(args.repo, commit, missing) if r[3] <= args.max_steps)
    out = REFERENCE_DIR / source.out
    with open(out, "w", newline="") as f:
        f.write(f"# source: {source.repository} commit {commit}, {source.files}\n")
        f.write(f"# {source.unit}; kept up to {args.max_steps}\n")
        writer = csv.writer(f)
        writer.writerow(["task", "method", "seed", "env_steps", "return"])
        writer.writerows((task, method, seed, steps, f"{ret:.1f}") for task, method, seed, steps, ret in rows)
    print(f"wrote {len(rows)} rows to {out}; not published: {', '.join(missing) or 'none'}")


if __name__ == "__main__":
    main()
