"""Each published source's step unit, pinned by values read from the source's own data file.

A point of a source's file (task, seed, its step in its own unit, value) must sit in our CSV at that step
converted to our unit (agent decisions at action repeat 2 = dm_control env steps / 2), and not at the step
the other reading would give. A source whose unit is misread (as TD-MPC2's once was, read as decisions
when it counts env steps) fails here. The values were copied by hand from the files at the commits the
CSV headers name (agent/suite/published/README.md).
"""

from __future__ import annotations

import csv

import pytest

from agent.suite.reference import METHODS, REFERENCE_DIR, SOURCE_STEPS_PER_OURS

# Their steps per step of ours, with the evidence in agent/suite/reference.py and agent/suite/published/README.md.
EXPECTED_STEPS_PER_OURS = {"TD-MPC2": 2, "DreamerV3": 2, "SAC": 2, "TD-MPC": 2, "DreamerV3 (authors)": 2,
                           "MR.Q": 1, "SimbaV2": 2, "BRO": 2, "DR.Q": 2, "BMPC": 2}

# (our CSV, our task name, method, seed, step in the source's unit, value there), from the source's file.
PINS = [
    # nicklashansen/tdmpc2 results/tdmpc2/walker-walk.csv: step 100000, seed 1, reward 966.7
    ("dmc_tdmpc2_dreamerv3_sac.csv", "walker-walk", "TD-MPC2", 1, 100_000, 966.7),
    # results/dreamerv3/cheetah-run.csv: step 200000, seed 2, reward 449.6
    ("dmc_tdmpc2_dreamerv3_sac.csv", "cheetah-run", "DreamerV3", 2, 200_000, 449.6),
    # results/sac/reacher-easy.csv: step 100000, seed 3, reward 813.4
    ("dmc_tdmpc2_dreamerv3_sac.csv", "reacher-easy", "SAC", 3, 100_000, 813.4),
    # nicklashansen/tdmpc results/cartpole-swingup.csv: seed 1, step 40000, return 667 (cartpole repeats 8x)
    ("dmc_tdmpc.csv", "cartpole-swingup", "TD-MPC", 1, 40_000, 667.0),
    # danijar/dreamerv3 scores/dmc_proprio-dreamerv3.json.gz: dmc_finger_spin seed 0, xs 100000, ys 848.0
    ("dmc_dreamerv3.csv", "finger-spin", "DreamerV3 (authors)", 0, 100_000, 848.0),
    # facebookresearch/MRQ results/dmc_results.txt: Dmc-reacher-easy, Timestep 20000, Seed 0 496.40000
    ("dmc_mrq.csv", "reacher-easy", "MR.Q", 0, 20_000, 496.4),
    # DAVIAN-Robotics/SimbaV2 results/simbaV2_utd2.csv: cheetah-run, seed 0, avg_return at env_step 100000 725.43
    ("dmc_simbav2_bro.csv", "cheetah-run", "SimbaV2", 0, 100_000, 725.4),
    # results/baseline/bro_utd10.csv: finger-spin, seed 1, avg_return at env_step 50000 938.1
    ("dmc_simbav2_bro.csv", "finger-spin", "BRO", 1, 50_000, 938.1),
    # dmksjfl/DR.Q results/drq.csv: walker_walk, seed 0, avg_return at env_step 100000 961.50
    ("dmc_drq.csv", "walker-walk", "DR.Q", 0, 100_000, 961.5),
    # wertyuilife2/bmpc results/data_dmc_all_1M.json: BMPC cup-catch, steps 200000, values 980.90 (a mean: seed 0)
    ("dmc_bmpc.csv", "ball_in_cup-catch", "BMPC", 0, 200_000, 980.9),
]


def rows_of(name: str) -> dict[tuple[str, str, int, int], float]:
    with open(REFERENCE_DIR / name) as f:
        return {(r["task"], r["method"], int(r["seed"]), int(r["env_steps"])): float(r["return"])
                for r in csv.DictReader(line for line in f if not line.startswith("#"))}


def test_every_method_has_its_pinned_conversion():
    assert SOURCE_STEPS_PER_OURS == EXPECTED_STEPS_PER_OURS
    assert set(SOURCE_STEPS_PER_OURS) == set(METHODS)
    assert {method for _, _, method, *_ in PINS} == set(METHODS)  # every method is pinned by a value


@pytest.mark.parametrize("name,task,method,seed,their_step,value", PINS, ids=[p[2] for p in PINS])
def test_a_published_value_sits_at_its_step_in_our_unit(name, task, method, seed, their_step, value):
    rows = rows_of(name)
    per_ours = EXPECTED_STEPS_PER_OURS[method]
    assert rows[task, method, seed, their_step // per_ours] == pytest.approx(value, abs=0.05)
    # The other reading (their step taken as ours, or for MR.Q as env steps) puts another value, or none, there.
    misread = their_step if per_ours != 1 else their_step // 2
    assert rows.get((task, method, seed, misread)) != pytest.approx(value, abs=0.05)
