"""Hostile input through the ``wm-agent`` command (issue 31): paths that are not what they seem, read-only
or failing disks, NaN and infinity, damaged run files. Every refusal is one line, exit status 2, and leaves
the disk as it was.
"""

import dataclasses
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from agent.run.checkpoint import list_checkpoints
from agent.cli import main
from agent.config import ConfigError, RunConfig
from tests.support import TINY_ONE_THREAD as TINY
from tests.support import one_line_error

def files_of(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes: what a refused command must leave unchanged."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _file(tmp: Path, name: str, content: bytes) -> str:
    (tmp / name).write_bytes(content)
    return str(tmp / name)


# Each case builds its arguments in a fresh tmp dir (no run directory exists yet); logdir is tmp/"runs".
NEW_RUN_CASES = {
    "lr inf": (lambda tmp: ["--lr", "inf"], "invalid lr=inf: expected a finite number > 0"),
    "grad-clip nan": (lambda tmp: ["--grad-clip", "nan"], "invalid grad_clip=nan: expected a finite number > 0"),
    "safety-budget nan": (lambda tmp: ["--safety-budget", "nan"], "invalid safety_budget=nan: expected a finite"),
    "safety-budget inf": (lambda tmp: ["--safety-budget", "inf"], "invalid safety_budget=inf: expected a finite"),
    "utd inf": (lambda tmp: ["--utd", "inf"], "invalid utd=inf"),
    "temperature nan": (lambda tmp: ["--temperature", "nan"], "invalid temperature=nan"),
    "NaN in a config file": (lambda tmp: ["--config", _file(tmp, "c.json", b'{"learn": {"rho": NaN}}')],
                             "invalid rho=nan: expected a finite number > 0"),
    "Infinity in a config file": (lambda tmp: ["--config", _file(tmp, "c.json",
                                                                 b'{"env": {"safety_scale": Infinity}}')],
                                  "invalid safety_scale=inf"),
    "seed -1": (lambda tmp: ["--seed", "-1"], "invalid seed=-1: expected an integer in [0, 2**32)"),
    "hidden-dim 1e8": (lambda tmp: ["--hidden-dim", "100000000"],
                       "invalid hidden_dim=100000000: expected an integer in [1, 16384]"),
    "num-q 1e6": (lambda tmp: ["--num-q", "1000000"], "invalid num_q=1000000: expected an integer in [1, 64]"),
    "logdir is a file": (lambda tmp: ["--logdir", _file(tmp, "afile", b"x")], "cannot create the run directory"),
    "logdir under a file": (lambda tmp: ["--logdir", _file(tmp, "afile", b"x") + "/sub"], "(Not a directory)"),
    "config not UTF-8": (lambda tmp: ["--config", _file(tmp, "c.json", b'{"steps": "\xff\xfe"}')],
                         "is not UTF-8 text (byte 11)"),
    "config nested 100k deep": (lambda tmp: ["--config", _file(tmp, "c.json", b"[" * 100_000 + b"]" * 100_000)],
                                "is nested too deeply"),
    "config of 2 MiB": (lambda tmp: ["--config", _file(tmp, "c.json", b'{"steps": 5' + b" " * 2**21 + b"}")],
                        "is larger than 1 MiB"),
    "run-name with ..": (lambda tmp: ["--run-name", "../escaped"],
                         "--run-name '../escaped': expected a plain directory name"),
    "run-name ..": (lambda tmp: ["--run-name", ".."], "expected a plain directory name"),
    "run-name with /": (lambda tmp: ["--run-name", "a/b"], "expected a plain directory name"),
    "run-name absolute": (lambda tmp: ["--run-name", str(tmp / "abs")], "expected a plain directory name"),
}


@pytest.mark.parametrize("case", NEW_RUN_CASES)
def test_a_refused_new_run_is_one_line_and_leaves_no_run_directory(case, tmp_path, capsys):
    make_argv, expected = NEW_RUN_CASES[case]
    argv = ["train", "--env", "Reacher-v5", "--steps", "50", "--logdir", str(tmp_path / "runs"), *TINY,
            *make_argv(tmp_path)]
    before = files_of(tmp_path)
    assert main(argv) == 2
    assert expected in one_line_error(capsys)
    assert not (tmp_path / "runs").exists() and files_of(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({Path(k).parts[0] for k in before})


@pytest.mark.parametrize("dangling", [False, True])
def test_a_run_name_that_is_a_symlink_is_refused(dangling, tmp_path, capsys):
    target = tmp_path / "elsewhere"
    if not dangling:
        target.mkdir()
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "link").symlink_to(target)
    assert main(["train", "--logdir", str(tmp_path / "runs"), "--run-name", "link", *TINY]) == 2
    assert "is a symlink; expected the name of a new directory" in one_line_error(capsys)
    assert target.exists() != dangling and (dangling or not any(target.iterdir()))


def test_a_read_only_logdir_is_one_line(tmp_path, monkeypatch, capsys):
    """Root ignores permission bits, so the refusal of mkdir is simulated; the check itself is a real mkdir."""
    readonly = tmp_path / "ro"
    readonly.mkdir()
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args, **kwargs):
        if readonly in self.parents:
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    assert main(["train", "--logdir", str(readonly / "runs"), *TINY]) == 2
    err = one_line_error(capsys)
    assert f"--logdir {readonly / 'runs'}: cannot create the run directory" in err
    assert "(Permission denied); expected a writable directory" in err
    assert list(readonly.iterdir()) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permission bits")
def test_a_really_read_only_logdir_is_one_line(tmp_path, capsys):
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o555)
    try:
        assert main(["train", "--logdir", str(readonly), *TINY]) == 2
        assert "Permission denied" in one_line_error(capsys)
    finally:
        readonly.chmod(0o755)


@pytest.mark.parametrize("where, error, expected", [
    # An allocation that fails while the networks are built (a size the bounds let through on a small machine).
    ("build_agent", RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                                 "memory: you tried to allocate 40000000000 bytes."),
     "out of memory; expected smaller"),
    # An env that fails to build after the run directory was made.
    ("make_env", ConfigError("invalid env: the simulator refused it"), "invalid env: the simulator refused it"),
])
def test_a_start_that_fails_after_mkdir_removes_what_it_made(where, error, expected, tmp_path, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(f"agent.run.trainer.{where}", fail)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "other-run").mkdir()  # a run of someone else in the same --logdir stays
    assert main(["train", "--env", "Reacher-v5", "--logdir", str(tmp_path / "runs" / "new" / "deeper"), *TINY]) == 2
    assert expected in one_line_error(capsys)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["other-run"]


def test_a_bug_after_mkdir_is_a_traceback_but_still_leaves_no_run_directory(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("agent.run.trainer.make_env", fail)
    with pytest.raises(ZeroDivisionError):
        main(["train", "--env", "Reacher-v5", "--logdir", str(tmp_path / "runs"), *TINY])
    assert not (tmp_path / "runs").exists()


def _float_fields(cfg: RunConfig) -> list[tuple[object, str]]:
    """(section, name) of every float field of ``cfg``, top level included."""
    parts = (cfg, cfg.env, cfg.model, cfg.learn, cfg.plan)
    return [(part, f.name) for part in parts for f in dataclasses.fields(part) if str(f.type) == "float"]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_every_float_config_field_refuses_nan_and_infinity(value):
    names = [name for _, name in _float_fields(RunConfig())]
    assert {"lr", "grad_clip", "safety_budget", "temperature", "llm_timeout_s", "safety_scale"} <= set(names)
    for i, name in enumerate(names):
        cfg = RunConfig()
        part, _ = _float_fields(cfg)[i]
        setattr(part, name, value)
        with pytest.raises(ConfigError, match=rf"^invalid {name}={value!r}: expected ") as exc:
            cfg.validate()
        assert "finite" in str(exc.value) or " in [" in str(exc.value) or " in (" in str(exc.value)  # bounded


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_every_float_planner_config_field_refuses_nan_and_infinity(value):
    from planners.config import CEMConfig, MPPIConfig
    from planners.constraint import ConstraintConfig

    for cls in (CEMConfig, MPPIConfig, ConstraintConfig):
        for f in dataclasses.fields(cls):
            if f.type in ("float", float):
                with pytest.raises(ValueError, match=f.name):
                    cls(**{f.name: value})


def test_config_json_never_holds_nan(tmp_path):
    cfg = RunConfig()
    cfg.learn.lr = math.nan  # past validate, e.g. set by code
    with pytest.raises(ConfigError, match=r"cannot save .* with lr=nan: expected finite numbers"):
        cfg.save(tmp_path / "config.json")
    assert not (tmp_path / "config.json").exists()


def test_eval_seed_must_be_non_negative(tmp_path, capsys):
    assert main(["eval", str(tmp_path), "--seed", "-1"]) == 2
    assert "--seed -1: expected an integer in [0, 2**32)" in one_line_error(capsys)


def _rewrite_episode(path: Path, **changes) -> None:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    path.unlink()
    with open(path, "wb") as f:
        np.savez_compressed(f, **{k: v for k, v in arrays.items() if v is not None})


def _npy_in_disguise(path: Path) -> None:
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))


def _truncated_obs(path: Path) -> None:
    with np.load(path) as data:
        _rewrite_episode(path, obs=data["obs"][:, :3])


def _float64_obs(path: Path) -> None:
    with np.load(path) as data:
        _rewrite_episode(path, obs=data["obs"].astype(np.float64))


def _shorter_than_named(path: Path) -> None:
    with np.load(path) as data:
        _rewrite_episode(path, obs=data["obs"][:-1], action=data["action"][:-1], reward=data["reward"][:-1],
                         terminated=data["terminated"][:-1], extra_cost=data["extra_cost"][:-1])


def _cost_of_two_columns(path: Path) -> None:
    with np.load(path) as data:
        _rewrite_episode(path, extra_cost=np.stack([data["extra_cost"]] * 2, axis=1))


def _last_renamed_to_a_gap(path: Path) -> None:
    path.rename(path.with_name(path.name.replace("000001", "000002")))


# Damage to the newest episode file of a run; the expected text, besides the file being named.
EPISODE_DAMAGE = {
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:300]), "cannot read it"),
    "not an npz": (lambda p: p.write_text("hello, not an episode"), "cannot read it"),
    "an npy array": (_npy_in_disguise, "not an npz archive of episode arrays"),
    "obs of the wrong shape": (_truncated_obs, "obs is float32 (3,) per row; this run's is float32 (10,)"),
    "obs of the wrong dtype": (_float64_obs, "obs is float64 (10,) per row; this run's is float32 (10,)"),
    "no reward array": (lambda p: _rewrite_episode(p, reward=None), "no 'reward' array in it"),
    "fewer steps than its name": (_shorter_than_named, "49 steps, but its name says 50"),
    "an extra of the wrong shape": (_cost_of_two_columns,
                                    "extra_cost is float32 (2,) per row; this run's is float32 ()"),
    "not contiguous": (_last_renamed_to_a_gap, "are not contiguous: expected index 1, found episode_000002_len50.npz"),
}


@pytest.mark.parametrize("damage", EPISODE_DAMAGE)
def test_resume_refuses_a_damaged_episode_file_and_changes_nothing(damage, config_file_run, tmp_path, capsys):
    """Refused (not skipped): dropping an episode would change the run's env-step count."""
    run = tmp_path / "run"
    shutil.copytree(config_file_run, run)
    newest = sorted((run / "episodes").iterdir())[-1]
    assert newest.name == "episode_000001_len50.npz"
    damage_file, expected = EPISODE_DAMAGE[damage]
    damage_file(newest)
    before = files_of(run)
    assert main(["train", "--resume", str(run), "--steps", "150"]) == 2
    err = one_line_error(capsys)
    assert expected in err and str(run / "episodes") in err and "to resume without" in err
    assert files_of(run) == before


@pytest.mark.parametrize("content, expected", [
    (b'{"steps": ', "config.json is not valid JSON"),
    (b'{"steps": 100' + b" " * 2**20 + b"}", "config.json is larger than 1 MiB"),
    (b'{"steps": "many"}', "config.json: invalid steps='many': expected an integer"),
    (b'{"learn": {"lr": NaN}}', "invalid lr=nan: expected a finite number > 0"),
    (b'[1, 2]', "config.json: a config must be a JSON object"),
    (b'{"env": []}', "config.json: config key 'env' must be an object"),
    (b"\xff\xfe{}", "config.json is not UTF-8 text"),
])
def test_resume_refuses_a_damaged_config_json_and_changes_nothing(content, expected, config_file_run, tmp_path,
                                                                  capsys):
    run = tmp_path / "run"
    shutil.copytree(config_file_run, run)
    (run / "config.json").write_bytes(content)
    before = files_of(run)
    assert main(["train", "--resume", str(run), "--steps", "150"]) == 2
    assert expected in one_line_error(capsys)
    assert files_of(run) == before


def _with_config(run: Path, **sections) -> None:
    """Change the config inside the run's newest checkpoint (a section given as None: drop that entry)."""
    path = list_checkpoints(run / "checkpoints")[-1]
    state = torch.load(path, weights_only=False)
    for section, values in sections.items():
        if values is None:
            del state[section]
        else:
            state["config"][section].update(values)
    torch.save(state, path)


@pytest.mark.parametrize("change, expected", [
    ({"env": {"name": "Hopper-v5"}}, "its weights do not fit its config (env Hopper-v5, --obs state): size mismatch"),
    ({"model": {"hidden_dim": 48}}, "its weights do not fit its config"),
    ({"learn": {"lr": math.nan}}, "invalid lr=nan: expected a finite number > 0"),
    ({"config": None}, "no 'config' entry"),
])
def test_eval_of_a_checkpoint_inconsistent_with_its_config_is_one_line(change, expected, config_file_run, tmp_path,
                                                                       capsys):
    run = tmp_path / "run"
    shutil.copytree(config_file_run, run)
    _with_config(run, **change)
    before = files_of(run)
    assert main(["eval", str(run), "--episodes", "1"]) == 2
    err = one_line_error(capsys)
    assert expected in err and "checkpoint " in err
    assert files_of(run) == before
