"""Shared test setup: headless rendering, a small torch thread count, and the runs several test files read."""

import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import torch  # noqa: E402

torch.set_num_threads(1)


import pytest  # noqa: E402

ROBOT_MODULE = "tests.custom_envs.my_robot"


@pytest.fixture(scope="session")
def robot_run(tmp_path_factory):
    """One tiny CLI run on the custom arm (tests/custom_envs/my_robot.py) with the user's safety cost and a
    safety head: 100 env steps, an eval at 100. Shared by the custom-env and Python API tests."""
    from agent.cli import main
    from tests.support import TINY, only_run_dir

    logdir = tmp_path_factory.mktemp("robot_runs")
    assert main(["train", "--env", f"{ROBOT_MODULE}:MyRobot-v0", "--steps", "100", "--seed-steps", "50",
                 "--eval-every", "100", "--safety-cost", f"{ROBOT_MODULE}:tip_speed_cost", "--safety-head",
                 "--logdir", str(logdir), *TINY]) == 0
    return only_run_dir(logdir)


@pytest.fixture(scope="session")
def config_file_run(tmp_path_factory) -> Path:
    """A run made from a config file, with command-line options on top (tests copy it before changing it)."""
    import json

    from agent.cli import main
    from tests.support import TINY_ONE_THREAD as TINY

    tmp = tmp_path_factory.mktemp("cfgrun")
    path = tmp / "cfg.json"
    path.write_text(json.dumps({"env": {"name": "Reacher-v5"}, "steps": 1000, "seed_steps": 50, "eval_every": 100,
                                "learn": {"batch_size": 8}, "plan": {"planner": "cem"}}))
    assert main(["train", "--config", str(path), "--steps", "100", "--logdir", str(tmp), "--run-name", "run",
                 *TINY]) == 0  # TINY sets --batch-size 16: the command line wins
    return tmp / "run"
