"""Published learning curves to compare against (``benchmarks/reference/``, see its README).

Every CSV in that folder is one source (TD-MPC2's result files; TD-MPC's; the DreamerV3
authors' scores). Rows are (task, method, seed, env steps, return) with our task names and our step unit
(agent decisions at action repeat 2 on dm_control), so a lookup at an env step compares
like with like. Nothing is interpolated: a method has a value at a step only where it
published one.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "benchmarks" / "reference"
# In the order tables and plots show them. "DreamerV3" is TD-MPC2's runs of it (eval episodes, every 100k
# steps); "DreamerV3 (authors)" its authors' runs (training episodes, every 5k steps).
METHODS = ("TD-MPC2", "DreamerV3", "SAC", "TD-MPC", "DreamerV3 (authors)")

# How many of a source's own steps make one of ours (agent decisions at action repeat 2 = dm_control env
# steps / 2), per method: benchmarks/reference/reduce.py divides by it, tests/test_reference_units.py pins
# it against values read from the sources' files. The evidence is in benchmarks/reference/README.md.
SOURCE_STEPS_PER_OURS = {
    # nicklashansen/tdmpc2 results/: dm_control env steps. The author in tdmpc2 issue #45: "Action repeat is
    # applied as a post-processing step before plotting / dumping to csv so the results in results/ indeed do
    # account for action repeat"; the code evaluates every 50,000 decisions (config.yaml:12) and the files
    # have a point every 100,000.
    "TD-MPC2": 2, "DreamerV3": 2, "SAC": 2,
    # nicklashansen/tdmpc results/: the env_step its trainer logs, step * action_repeat (src/train.py:77), i.e.
    # dm_control env steps whatever the task's repeat (2 to 8).
    "TD-MPC": 2,
    # danijar/dreamerv3 scores/: the logger's step times the env's repeat (embodied/core/logger.py:32 at 2411f7d,
    # the commit that added the scores, when dmc had repeat: 2), i.e. dm_control env steps.
    "DreamerV3 (authors)": 2,
}

# task -> method -> env_steps -> returns over seeds
Reference = dict[str, dict[str, dict[int, list[float]]]]


def load_reference(folder: Path = REFERENCE_DIR) -> Reference:
    """The published curves of every CSV in ``folder``; empty where there is none (an install without benchmarks/)."""
    table: Reference = defaultdict(lambda: defaultdict(dict))
    for path in sorted(folder.glob("*.csv")):
        with open(path) as f:
            for row in csv.DictReader(line for line in f if not line.startswith("#")):
                if row["method"] not in METHODS:
                    raise ValueError(f"{path}: method {row['method']!r} is not one of {', '.join(METHODS)}")
                per_step = table[row["task"]][row["method"]]
                per_step.setdefault(int(row["env_steps"]), []).append(float(row["return"]))
    return {task: dict(methods) for task, methods in table.items()}


def returns_at(reference: Reference, task: str, method: str, env_steps: int) -> list[float]:
    """Returns over the method's seeds at exactly ``env_steps``; empty if not published there."""
    return reference.get(task, {}).get(method, {}).get(env_steps, [])


def published_steps(reference: Reference, task: str, method: str | None = None) -> list[int]:
    """Env steps with a published value for ``task`` (by ``method``, or by any)."""
    curves = reference.get(task, {})
    return sorted({s for m, curve in curves.items() if method in (None, m) for s in curve})
