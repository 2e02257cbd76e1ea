"""Bad input through the ``wm-agent`` command: config files, options, resume directories, checkpoints and
--override (hostile input: tests/test_hostile_input.py).

Each gets one line naming the value and what is accepted, and exit status 2.
"""

import json
import shutil

import pytest
import torch

from agent.run.checkpoint import list_checkpoints
from agent.cli import main
from agent.config import ConfigError, RunConfig
from tests.support import one_line_error


@pytest.mark.parametrize("content, expected", [
    ({"learn": {"horizon": "three"}}, "invalid learn.horizon='three': expected an integer"),
    ({"learn": {"horizon": -1}}, "invalid horizon=-1: expected an integer >= 1"),
    ({"plan": {"num_samples": 8, "num_elites": 16}}, "invalid num_elites=16: expected an integer in [1, num_samples=8]"),
    ({"env": {"action_repeat": 0}}, "invalid action_repeat=0: expected an integer >= 1"),
    ({"model": {"use_value": 1}}, "invalid model.use_value=1: expected true or false"),
    ({"steps": 1.5}, "invalid steps=1.5: expected an integer"),
    ({"seed": True}, "invalid seed=True: expected an integer"),
    ({"plan": {"planner": "ilqr"}}, "invalid plan.planner='ilqr': expected one of 'cem', 'mppi'"),
    ({"plan": {"horizon": 3}}, "unknown config key plan.'horizon': expected one of"),
    ({"stepz": 5}, "unknown config key 'stepz'"),
    ({"env": "reacher"}, "config key 'env' must be an object"),
    ("{not json", "is not valid JSON"),
    ([1, 2], "must be a JSON object"),
])
def test_bad_config_file_is_one_line_and_exit_2(content, expected, tmp_path, capsys):
    path = tmp_path / "cfg.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    assert main(["train", "--config", str(path), "--logdir", str(tmp_path / "runs")]) == 2
    assert expected in one_line_error(capsys)
    assert not (tmp_path / "runs").exists()


def test_missing_config_file_is_one_line(tmp_path, capsys):
    assert main(["train", "--config", str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in one_line_error(capsys)


@pytest.mark.parametrize("argv, expected", [
    (["--action-repeat", "0"], "invalid action_repeat=0: expected an integer >= 1 (leave it out for the suite default)"),
    (["--plan-horizon", "-2"], "invalid plan_horizon=-2"),
    (["--override", "lr"], "--override lr: only with --resume"),
])
def test_bad_options_are_one_line(argv, expected, tmp_path, capsys):
    assert main(["train", "--logdir", str(tmp_path), *argv]) == 2
    assert expected in one_line_error(capsys)


def test_a_directory_that_is_not_a_run_is_refused(tmp_path, capsys):
    (tmp_path / "something.txt").write_text("not a run")
    assert main(["train", "--resume", str(tmp_path)]) == 2
    err = one_line_error(capsys)
    assert f"--resume {tmp_path}: not a run directory (no config.json in it)" in err and "wm-agent train" in err


def test_a_run_with_a_broken_config_json_is_refused(tmp_path, capsys):
    (tmp_path / "config.json").write_text('{"steps": ')
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "config.json is not valid JSON" in one_line_error(capsys)


def test_configs_written_before_action_repeat_became_optional_still_load(tmp_path):
    old = RunConfig().to_dict()
    old["env"]["action_repeat"] = 0  # how earlier versions wrote "suite default"
    (tmp_path / "config.json").write_text(json.dumps(old))
    assert RunConfig.load(tmp_path / "config.json").validate().env.action_repeat is None
    with pytest.raises(ConfigError, match="invalid action_repeat=0"):
        RunConfig.from_dict(old).validate()  # but a user's config may not say 0


def test_from_dict_checks_types_from_the_dataclass_fields():
    cfg = RunConfig.from_dict({"learn": {"lr": 1, "horizon": 5}, "model": {"use_value": False}, "env": {"action_repeat": None}})
    assert cfg.learn.lr == 1.0 and isinstance(cfg.learn.lr, float) and cfg.learn.horizon == 5
    for data in ({"learn": {"horizon": 3.0}}, {"learn": {"lr": "0.1"}}, {"model": {"use_value": "yes"}},
                 {"env": {"name": 3}}, {"learn": {"batch_size": False}}):
        with pytest.raises(ConfigError, match="invalid"):
            RunConfig.from_dict(data)


def test_config_file_values_are_used_and_options_override_them(config_file_run):
    saved = json.loads((config_file_run / "config.json").read_text())
    assert saved["env"]["name"] == "Reacher-v5" and saved["plan"]["planner"] == "cem" and saved["seed_steps"] == 50
    assert saved["steps"] == 100 and saved["learn"]["batch_size"] == 16


def test_resume_with_a_changed_config_names_the_keys_and_suggests_override(config_file_run, capsys):
    assert main(["train", "--resume", str(config_file_run), "--lr", "0.001", "--utd", "0.5"]) == 2
    err = one_line_error(capsys)
    assert "cannot change lr (0.0003 -> 0.001), utd (1.0 -> 0.5) without --override lr,utd" in err


def test_override_changes_the_config_and_logs_it(config_file_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(config_file_run, run)
    assert main(["train", "--resume", str(run), "--override", "lr", "--lr", "0.001", "--utd", "1.0",
                 "--steps", "150", "--no-progress"]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["learn"]["lr"] == 0.001 and saved["steps"] == 150
    log = (run / "train.log").read_text()
    assert "resumed with a changed config: lr: 0.0003 -> 0.001, steps: 100 -> 150" in log
    assert main(["train", "--resume", str(run), "--override", "lr,plan-horizon", "--lr", "0.002"]) == 2
    assert "--override plan_horizon: no option given changes it" in one_line_error(capsys)
    assert main(["train", "--resume", str(run), "--override", "lernrate", "--lr", "0.002"]) == 2
    assert "--override lernrate: not a config key" in one_line_error(capsys)


def test_an_override_the_checkpoint_cannot_follow_is_one_line(config_file_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(config_file_run, run)
    assert main(["train", "--resume", str(run), "--override", "hidden_dim", "--hidden-dim", "48", "--steps", "150"]) == 2
    assert "does not fit this run's config" in one_line_error(capsys)


@pytest.mark.parametrize("damage, expected", [
    (lambda p: torch.save({"format_version": 999}, p), "has format 999; this version reads format 2"),
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "cannot read checkpoint"),
])
def test_an_incompatible_or_truncated_checkpoint_is_one_line(damage, expected, config_file_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(config_file_run, run)
    damage(list_checkpoints(run / "checkpoints")[-1])
    assert main(["train", "--resume", str(run), "--steps", "150"]) == 2
    assert expected in one_line_error(capsys)
