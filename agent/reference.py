"""Published learning curves to compare against (``benchmarks/reference/``, see its README).

Rows are (task, method, seed, env steps, return) with our task names and our step unit
(agent decisions at action repeat 2 on dm_control), so a lookup at an env step compares
like with like. Nothing is interpolated: a method has a value at a step only where it
published one.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

REFERENCE_CSV = Path(__file__).resolve().parent.parent / "benchmarks" / "reference" / "dmc_tdmpc2_dreamerv3_sac.csv"
METHODS = ("TD-MPC2", "DreamerV3", "SAC")

# task -> method -> env_steps -> returns over seeds
Reference = dict[str, dict[str, dict[int, list[float]]]]


def load_reference(path: Path = REFERENCE_CSV) -> Reference:
    """The published curves; empty where the file is absent (an install without benchmarks/)."""
    table: Reference = defaultdict(lambda: defaultdict(dict))
    if not path.is_file():
        return {}
    with open(path) as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            per_step = table[row["task"]][row["method"]]
            per_step.setdefault(int(row["env_steps"]), []).append(float(row["return"]))
    return {task: dict(methods) for task, methods in table.items()}


def returns_at(reference: Reference, task: str, method: str, env_steps: int) -> list[float]:
    """Returns over the method's seeds at exactly ``env_steps``; empty if not published there."""
    return reference.get(task, {}).get(method, {}).get(env_steps, [])


def published_steps(reference: Reference, task: str) -> list[int]:
    return sorted({s for curve in reference.get(task, {}).values() for s in curve})
