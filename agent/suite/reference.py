"""Published learning curves to compare against (``agent/suite/published/``, see its README).

Every CSV in that folder is one source repository (TD-MPC2's result files, TD-MPC's, the DreamerV3
authors' scores, MR.Q's, SimbaV2's with BRO, DR.Q's, BMPC's). Rows are (task, method, seed, env steps,
return) with our task names and our step unit (agent decisions at action repeat 2 on dm_control), so a
lookup at an env step compares like with like. Nothing is interpolated: a method has a value at a step only where it
published one.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parent / "published"  # package data: ships with pip install
# In the order tables and plots show them: the TD-MPC family (planning with a learned model and value),
# model-based representations (MR.Q, DR.Q), model-free (SimbaV2, BRO, SAC), then DreamerV3. "DreamerV3" is
# TD-MPC2's runs of it (eval episodes, every 50k of our steps); "DreamerV3 (authors)" its authors' runs
# (training episodes, every 5k). BMPC published means over seeds only (one value per step).
METHODS = ("TD-MPC2", "BMPC", "TD-MPC", "MR.Q", "DR.Q", "SimbaV2", "BRO", "SAC", "DreamerV3", "DreamerV3 (authors)")
# Methods whose source published only a mean over seeds (stored as seed 0): shown without an interval and
# left out of the suite IQM, which is over tasks x seeds.
MEANS_ONLY = ("BMPC",)

# How many of a source's own steps make one of ours (agent decisions at action repeat 2 = dm_control env
# steps / 2), per method: benchmarks/reference/reduce.py divides by it, tests/suite/test_reference_units.py pins
# it against values read from the sources' files. The evidence is in agent/suite/published/README.md.
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
    # facebookresearch/MRQ results/dmc_results.txt: its Timestep counts agent decisions (MRQ/main.py:162 adds 1
    # per env.step, the dmc wrapper repeats each action twice, MRQ/env_preprocessing.py:95,159), our unit.
    "MR.Q": 1,
    # DAVIAN-Robotics/SimbaV2 results/: env_step = interaction_step * action_repeat (2) (run_online.py:160).
    "SimbaV2": 2,
    # SimbaV2's results/baseline/bro_utd10.csv: BRO has no action repeat (naumix/BiggerRegularizedOptimistic
    # jaxrl/envs/dmc_gym.py: one physics-level env.step per action), evaluating every 25,000 of those steps.
    "BRO": 2,
    # dmksjfl/DR.Q results/drq.csv: the MR.Q code (500k decisions at repeat 2) on SimbaV2's env-step axis
    # (its copy of SimbaV2's file keeps SimbaV2's env_step); runs end at 1M = 500k decisions x 2.
    "DR.Q": 2,
    # wertyuilife2/bmpc results/data_dmc_all_1M.json: on TD-MPC2's results axis (env steps): its SAC curve is
    # TD-MPC2's published one at the same step labels, and its own TD-MPC2 runs match TD-MPC2's at the same
    # labels, not at double. Not stated by the authors; see the README.
    "BMPC": 2,
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
