"""End to end through the ``wm-agent`` command: a short real run, resume, eval and bad input."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agent.cli import build_parser, main
from agent.layout import EXIT_INTERRUPTED
from agent.learn.replay import EpisodeReplay
from tests.support import TINY, only_run_dir, tensorboard_tags

@pytest.fixture(scope="module")
def short_run(tmp_path_factory) -> Path:
    """Reacher-v5 (50-step episodes): 3 train episodes, seed phase, updates, an eval with video."""
    logdir = tmp_path_factory.mktemp("runs")
    code = main(["train", "--env", "Reacher-v5", "--steps", "150", "--seed-steps", "60", "--eval-every", "100",
                 "--logdir", str(logdir), "--seed", "3", *TINY])
    assert code == 0
    return only_run_dir(logdir)


def test_short_run_writes_config_checkpoint_episodes_and_tensorboard(short_run):
    config = json.loads((short_run / "config.json").read_text())
    assert config["env"]["name"] == "Reacher-v5" and config["steps"] == 150 and config["seed"] == 3
    assert [p.name for p in sorted((short_run / "checkpoints").iterdir())] == ["ckpt_000000150.pt"]
    replay = EpisodeReplay.load(short_run / "episodes")
    assert (replay.num_episodes, replay.num_steps) == (3, 150)

    ea = tensorboard_tags(short_run)
    scalars = set(ea.Tags()["scalars"])
    for tag in ("train/episode_return", "eval/return_mean", "loss/consistency", "loss/reward", "loss/value",
                "loss/reconstruction", "loss/policy", "perf/env_steps_per_s", "perf/plan_ms_per_action"):
        assert tag in scalars, tag
    assert [e.step for e in ea.Scalars("eval/return_mean")] == [100, 150]
    video = ea.Images("eval/rollout_real_vs_imagined")[0]
    assert video.encoded_image_string[:6] == b"GIF89a"  # add_video writes an animated GIF
    assert video.width == 3 * 64 and video.height == 64  # real frame | trace panel twice as wide


def test_resume_continues_counters_and_replay(short_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(short_run, run)
    assert main(["train", "--resume", str(run), "--steps", "250", "--no-progress"]) == 0
    replay = EpisodeReplay.load(run / "episodes")
    assert (replay.num_episodes, replay.num_steps) == (5, 250)
    # The first three episodes are the original ones, untouched.
    original = EpisodeReplay.load(short_run / "episodes")
    np.testing.assert_array_equal(replay.observations()[:153], original.observations())
    eval_steps = [int(line.split(",")[0]) for line in (run / "eval.csv").read_text().splitlines()[1:]]
    assert eval_steps == [100, 150, 250]
    assert json.loads((run / "config.json").read_text())["steps"] == 250


def test_resume_refuses_a_changed_config(short_run, capsys):
    assert main(["train", "--resume", str(short_run), "--lr", "0.1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot change lr" in err


def test_eval_command_reports_returns(short_run, capsys):
    assert main(["eval", str(short_run), "--episodes", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["returns"]) == 2 and report["env_steps"] == 150
    assert (short_run / "eval_150.json").is_file()
    assert main(["eval", str(short_run), "--episodes", "2"]) == 0  # the same seed: the same episodes and plans
    assert json.loads(capsys.readouterr().out)["returns"] == report["returns"]


def test_eval_plans_with_the_planner_options_after_the_double_dash(short_run, capsys):
    assert main(["eval", str(short_run), "--episodes", "1", "--", "--num-samples", "48", "--planner", "cem"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["plan_changes"] == {"num_samples": 48, "planner": "cem"}
    # its own report file: the run's plain eval_150.json still stands for the run as trained
    assert json.loads((short_run / "eval_150_num_samples=48_planner=cem.json").read_text()) == report
    assert main(["eval", str(short_run), "--episodes", "1", "--", "--lr", "0.1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "only planner options are accepted" in err and "not --lr 0.1" in err
    assert main(["eval", str(short_run), "--episodes", "1", "--", "--num-samples", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "num_samples=0" in err
    assert main(["eval", str(short_run), "--episodes", "1", "--", "--planner", "ilqr"]) == 2
    assert "invalid choice: 'ilqr'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    (["train", "--env", "reachr"], "unknown env 'reachr'"),
    (["train", "--steps", "-5"], "invalid steps=-5"),
    (["train", "--steps", "abc"], "invalid int value: 'abc'"),
    (["train", "--planner", "ilqr"], "invalid choice: 'ilqr'"),
    (["train", "--obs", "rgb"], "invalid choice: 'rgb'"),
    (["train", "--num-samples", "16", "--num-elites", "32"], "invalid num_elites=32"),
    (["train", "--resume", "/nonexistent/run"], "not a run directory"),
    (["eval", "/nonexistent/run"], "no such file or directory"),
    (["eval", "/nonexistent/run", "--device", "gpu"], "--device gpu: expected 'auto', 'cpu', 'cuda' or 'cuda:N'"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_input_gets_one_line_and_exit_2(argv, expected, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("wm-agent: error:"), err
    assert expected in err


def test_bad_input_from_the_shell_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "train", "--env", "cheeta"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "cheetah" in proc.stderr


def test_help_documents_every_option():
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    text = train.format_help()
    for option in ("--env", "--steps", "--seed", "--obs", "--planner", "--logdir", "--resume", "--utd",
                   "--value", "--policy-prior", "--eval-every", "--checkpoint-every"):
        assert option in text, option
    # Every option explains itself: more than a default (argparse would print an empty line).
    for action in train._actions:
        if action.option_strings and action.dest != "help":
            explanation = re.sub(r"\s*\(default: .*\)$", "", action.help or "", flags=re.S)
            assert len(explanation.split()) >= 3, (action.option_strings, action.help)


def test_envs_command_lists_suites_and_aliases(capsys):
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    for name in ("reacher-easy", "manipulator-bring_ball", "Pusher-v5", "HalfCheetah-v5", "reacher"):
        assert name in out


def test_pixel_run_logs_decoded_frames_beside_real_ones(tmp_path):
    assert main(["train", "--env", "Reacher-v5", "--obs", "pixels", "--steps", "100", "--seed-steps", "50",
                 "--eval-every", "100", "--logdir", str(tmp_path), *TINY]) == 0
    run_dir = only_run_dir(tmp_path)
    replay = EpisodeReplay.load(run_dir / "episodes")
    assert replay.observations().shape[1:] == (64, 64, 3)
    ea = tensorboard_tags(run_dir)
    video = ea.Images("eval/rollout_real_vs_imagined")[0]
    assert video.width == 2 * 64 and video.height == 64  # real frame | decoded imagined frame
    assert "eval/state_traces_real_vs_imagined" not in ea.Tags()["images"]


def test_cuda_without_cuda_is_refused_before_a_run_directory_exists(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["train", "--device", "cuda", "--logdir", str(tmp_path)]) == 2
    assert "invalid device='cuda'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def _as_trained_on_cuda(run: Path) -> None:
    """Rewrite a run's config and checkpoints as a 'wm-agent train --device cuda' run writes them."""
    import torch

    for path in (run / "checkpoints").glob("ckpt_*.pt"):
        state = torch.load(path, weights_only=False)
        state["config"]["device"] = "cuda"
        torch.save(state, path)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "device": "cuda"}))


def test_a_run_trained_on_cuda_is_evaluated_and_resumed_on_the_cpu(short_run, tmp_path, capsys):
    import shutil

    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    run = tmp_path / "run"
    shutil.copytree(short_run, run)
    _as_trained_on_cuda(run)
    # eval runs where it is asked to (auto: here the CPU), not where the run was trained
    assert main(["eval", str(run), "--episodes", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["env_steps"] == 150
    assert main(["eval", str(run), "--episodes", "1", "--device", "cuda"]) == 2
    assert "invalid device='cuda'" in capsys.readouterr().err
    # resuming says how to move the run onto the CPU, and that way works
    assert main(["train", "--resume", str(run), "--steps", "200", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "add --override device --device cpu" in err
    assert main(["train", "--resume", str(run), "--steps", "200", "--no-progress",
                 "--override", "device", "--device", "cpu"]) == 0
    assert json.loads((run / "config.json").read_text())["device"] == "cpu"
    assert EpisodeReplay.load(run / "episodes").num_steps == 200


def test_sigterm_writes_a_checkpoint_and_the_run_resumes(tmp_path):
    import os
    import signal
    import time

    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "agent.cli", "train", "--env", "Reacher-v5", "--steps", "100000", "--seed-steps", "60",
           "--eval-every", "100000", "--logdir", str(tmp_path), "--run-name", "run", *TINY]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "MUJOCO_GL": "egl"})
    deadline = time.time() + 180
    while len(list((run_dir / "episodes").glob("*.npz"))) < 3 and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED, out  # not 0: a scheduler must not take it for finished
    assert "interrupted at" in out and "--resume" in out
    checkpoints = sorted((run_dir / "checkpoints").glob("ckpt_*.pt"))
    assert checkpoints, out
    episodes = EpisodeReplay.load(run_dir / "episodes")
    assert episodes.num_steps >= 150
    # Resuming picks up every finished episode and trains on from there.
    before = episodes.num_episodes
    assert main(["train", "--resume", str(run_dir), "--steps", str(episodes.num_steps + 50), "--no-progress"]) == 0
    assert EpisodeReplay.load(run_dir / "episodes").num_episodes == before + 1
