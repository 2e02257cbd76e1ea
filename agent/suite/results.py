"""One result per (task, seed): read from a run directory, written as a small JSON file.

A run's ``eval.csv`` (written by the trainer at every evaluation, the last one at the
final env step) gives the curve, the final return and the wall-clock; ``train.log``
gives the planner's time per action of that evaluation. Everything here reads files
only, so it serves runs trained now, runs trained earlier and runs a Ray worker sent back.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agent.layout import CONFIG_FILE, EPISODE_DIR, EPISODE_FILE, EVAL_CSV, TRAIN_LOG

# The trainer's evaluation line, e.g. "eval at 20000 env steps: return 812.3 +- 10.1 over 5 episodes (18.2 ms/action)".
EVAL_LINE = re.compile(r"eval at (\d+) env steps: .*\(([\d.]+) ms/action\)")


@dataclass
class RunResult:
    task: str
    seed: int
    env_steps: int
    return_mean: float
    return_std: float
    episodes: int
    wall_seconds: float
    plan_ms_per_action: float | None
    run_dir: str
    curve: list[tuple[int, float, float]] = field(default_factory=list)  # (env_steps, mean, std) per evaluation

    @property
    def name(self) -> str:
        return f"{self.task}-s{self.seed}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunResult":
        data = dict(data)
        data["curve"] = [tuple(p) for p in data.get("curve", [])]
        return cls(**data)


def read_eval_csv(run_dir: Path) -> list[dict[str, float]]:
    path = run_dir / EVAL_CSV
    if not path.is_file():
        return []
    with open(path) as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def plan_ms_at(run_dir: Path, env_steps: int) -> float | None:
    """Planner ms per action of the evaluation at ``env_steps`` (the last one logged there)."""
    path = run_dir / TRAIN_LOG
    if not path.is_file():
        return None
    found = None
    for match in EVAL_LINE.finditer(path.read_text()):
        if int(match[1]) == env_steps:
            found = float(match[2])
    return found


def read_run(run_dir: Path) -> RunResult | None:
    """The result of a run directory at its last evaluation; None before any evaluation."""
    rows = read_eval_csv(run_dir)
    if not rows or not (run_dir / CONFIG_FILE).is_file():
        return None
    config = json.loads((run_dir / CONFIG_FILE).read_text())
    last = rows[-1]
    steps = int(last["env_steps"])
    return RunResult(task=config["env"]["name"], seed=int(config["seed"]), env_steps=steps,
                     return_mean=last["return_mean"], return_std=last["return_std"], episodes=int(last["episodes"]),
                     wall_seconds=last["wall_seconds"], plan_ms_per_action=plan_ms_at(run_dir, steps),
                     run_dir=str(run_dir), curve=[(int(r["env_steps"]), r["return_mean"], r["return_std"]) for r in rows])


def steps_done(run_dir: Path) -> int:
    """Env steps in the run's finished episodes (file names carry the lengths): cheap to poll."""
    episodes = run_dir / EPISODE_DIR
    if not episodes.is_dir():
        return 0
    return sum(int(m[2]) for p in episodes.iterdir() if (m := EPISODE_FILE.match(p.name)))


def find_runs(directory: Path) -> list[Path]:
    """Every run directory (config.json and eval.csv) under ``directory``, itself included."""
    return sorted(p.parent for p in directory.rglob(EVAL_CSV) if (p.parent / CONFIG_FILE).is_file())


def write_result(result: RunResult, results_dir: Path) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{result.name}.json"
    path.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return path


def load_results(results_dir: Path) -> list[RunResult]:
    return [RunResult.from_dict(json.loads(p.read_text())) for p in sorted(results_dir.glob("*.json"))]
