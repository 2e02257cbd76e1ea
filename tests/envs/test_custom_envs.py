"""Any Gymnasium env by ``--env module:EnvId``: a user's own MuJoCo robot (tests/custom_envs/my_robot.py),
trained and evaluated through the CLI from state and from pixels; what cannot work is one line, exit 2."""

import json
from pathlib import Path

import numpy as np
import pytest

from agent.cli import main
from envs import CustomEnvError, SafetyConfig, make_env, resolve_env_name
from tests.support import TINY, only_run_dir, tensorboard_tags

ROBOT = "tests.custom_envs.my_robot"
SHORT = ["--steps", "100", "--seed-steps", "50", "--eval-every", "100", *TINY]


@pytest.mark.parametrize("env_id", ["MyRobot-v0", "MyRobotMj-v0"])
def test_a_custom_env_gets_unit_actions_float_vectors_and_its_time_limit(env_id):
    env = make_env(f"{ROBOT}:{env_id}", seed=0)
    assert env.action_space.low.tolist() == [-1, -1] and env.action_space.high.tolist() == [1, 1]
    assert env.observation_space.shape == (8,) and env.max_episode_steps == 50 and env.action_repeat == 1
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and "cost" not in info  # no safety cost unless asked for
    env.step(np.array([1.0, -0.5], np.float32))
    assert env.unwrapped.data.ctrl.tolist() == [2.0, -1.0]  # [-1, 1] rescaled to the env's bounds [-2, 2]
    steps, truncated = 1, False
    while not truncated:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        assert not terminated
    assert steps == 50  # Gymnasium's TimeLimit, as registered
    env.close()


def test_a_custom_env_that_terminates_itself_is_respected_under_action_repeat():
    env = make_env(f"{ROBOT}:MyRobotTerminating-v0", action_repeat=2, seed=0)
    env.reset(seed=0)
    flags = [env.step(np.zeros(2, np.float32))[2:4] for _ in range(4)]
    assert flags == [(False, False)] * 3 + [(True, False)]  # 7 control steps: the 4th decision ends it
    env.close()


def test_a_registered_id_works_without_a_module_and_names_are_exact():
    import tests.custom_envs.my_robot  # noqa: F401 - registers the ids

    spec = resolve_env_name("MyRobot-v0")
    assert (spec.suite, spec.task, spec.action_repeat) == ("custom", "MyRobot-v0", 1)
    assert resolve_env_name("MountainCarContinuous-v0").suite == "custom"  # any package's continuous env
    assert resolve_env_name("Reacher-v5").suite == "gym"  # built-in names keep their own handling


def test_a_user_cost_function_gives_info_cost_and_can_end_the_episode():
    env = make_env(f"{ROBOT}:MyRobot-v0", seed=0,
                   safety=SafetyConfig(cost_function=f"{ROBOT}:tip_speed_cost", terminate=True))
    _, info = env.reset(seed=0)
    assert info["cost"] == 0.0 and info["cost_user"] == 0.0
    for _ in range(50):  # full torque on the elbow spins it past 3 rad/s
        _, _, terminated, _, info = env.step(np.array([0.0, 1.0], np.float32))
        if terminated:
            break
    assert terminated and info["cost"] == 1.0 and abs(env.unwrapped.data.qvel[1]) > 3.0
    env.close()


def test_safety_limits_on_a_custom_mujoco_env_measure_only_those_limits():
    env = make_env(f"{ROBOT}:MyRobot-v0", seed=0, safety=SafetyConfig(limits={"joint_speed": 3.0}))
    _, info = env.reset(seed=0)
    assert set(info) == {"cost", "cost_joint_speed"}  # no family defaults (contact force, upright) added
    env.close()


@pytest.mark.parametrize("env_id, expected", [
    ("MyRobotDiscrete-v0", "is not continuous"),
    ("MyRobotUnbounded-v0", "is unbounded"),
    ("MyRobotEndless-v0", "no time limit"),
    ("Nope-v0", "'Nope-v0' is not a registered Gymnasium id"),
])
def test_what_cannot_be_planned_is_one_line_and_exit_2(env_id, expected, tmp_path, capsys):
    assert main(["train", "--env", f"{ROBOT}:{env_id}", "--logdir", str(tmp_path / "runs"), *SHORT]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err and env_id in err
    assert not (tmp_path / "runs").exists()  # no run directory left by a refused start


@pytest.mark.parametrize("argv, expected", [
    (["--env", "no_such_module:MyRobot-v0"], "cannot import module 'no_such_module'"),
    (["--env", f"{ROBOT}:MyRobot-v0", "--safety-budget", "0.1"], "needs a safety cost"),
    (["--env", f"{ROBOT}:MyRobot-v0", "--safety-cost", f"{ROBOT}:nothing"], "cannot import it"),
    (["--env", f"{ROBOT}:MyRobot-v0", "--safety-cost", f"{ROBOT}:EPISODE_STEPS"], "not a function"),
])
def test_bad_modules_and_missing_costs_are_one_line(argv, expected, tmp_path, capsys):
    assert main(["train", *argv, "--logdir", str(tmp_path / "runs"), *SHORT]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err
    assert not (tmp_path / "runs").exists()


def check_trained_run(run_dir: Path, env_id: str, obs: str, capsys) -> None:
    assert run_dir.name.startswith(f"{env_id}-{obs}-")  # the id, without the module, names the run
    assert json.loads((run_dir / "config.json").read_text())["env"]["name"] == f"{ROBOT}:{env_id}"
    assert (run_dir / "eval.csv").read_text().splitlines()[1].startswith("100,")
    assert (run_dir / "eval_safety.csv").is_file()  # the user's cost is measured like a built-in one
    tags = tensorboard_tags(run_dir).Tags()
    assert "eval/rollout_real_vs_imagined" in tags["images"]  # the video, from the env's own renderer

    capsys.readouterr()
    assert main(["eval", str(run_dir), "--episodes", "2"]) == 0
    report = json.loads((run_dir / "eval_100.json").read_text())
    assert report["env"] == f"{ROBOT}:{env_id}" and len(report["returns"]) == 2
    assert all(-20.0 <= r < 0.0 for r in report["returns"])  # 50 steps of -distance, at most 0.24 + 0.14 each


def test_a_custom_env_trains_from_state_and_evaluates_through_the_cli(robot_run, capsys):
    check_trained_run(robot_run, "MyRobot-v0", "state", capsys)  # trained by the conftest fixture, via the CLI


def test_a_custom_mujoco_env_trains_from_pixels_and_evaluates_through_the_cli(tmp_path, capsys):
    logdir = tmp_path / "runs"
    assert main(["train", "--env", f"{ROBOT}:MyRobotMj-v0", "--obs", "pixels", "--image-size", "32",
                 "--logdir", str(logdir), "--safety-cost", f"{ROBOT}:tip_speed_cost", "--safety-head", *SHORT]) == 0
    check_trained_run(only_run_dir(logdir), "MyRobotMj-v0", "pixels", capsys)


def test_envs_output_mentions_module_env_id(capsys):
    assert main(["envs"]) == 0
    assert "module:EnvId" in capsys.readouterr().out


def test_check_registered_reports_a_broken_user_module(tmp_path, monkeypatch):
    (tmp_path / "broken_envs.py").write_text("raise RuntimeError('boom in the user module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CustomEnvError, match=r"cannot import module 'broken_envs' \(RuntimeError: boom"):
        resolve_env_name("broken_envs:X-v0")
