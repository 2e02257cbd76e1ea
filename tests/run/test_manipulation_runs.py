"""The manipulation tasks train end to end from pixels with both world models (tiny networks, real physics)."""

import csv
import math
from pathlib import Path

import pytest

from agent.cli import main
from agent.learn.replay import EpisodeReplay

TINY = ["--latent-dim", "16", "--hidden-dim", "32", "--num-samples", "16", "--num-elites", "4",
        "--iterations", "1", "--num-policy-samples", "4", "--batch-size", "8", "--pretrain-updates", "3",
        "--eval-episodes", "1", "--image-size", "32", "--video-every", "0", "--threads", "1", "--no-progress"]


# Action repeat 8 keeps a dm_control episode (1,000 physics steps) to 125 decisions: one
# training episode and one evaluation episode per run.
@pytest.mark.parametrize("env, repeat", [("Pusher-v5", 1), ("manipulator-bring_ball", 8), ("reacher-hard", 8)])
@pytest.mark.parametrize("model", [["--model", "robotics"], ["--model", "latent"]], ids=["robotics", "latent"])
def test_manipulation_task_trains_and_evaluates_from_pixels(env: str, repeat: int, model: list[str],
                                                            tmp_path: Path) -> None:
    code = main(["train", "--env", env, "--obs", "pixels", *model, "--safety-head", "--action-repeat", str(repeat),
                 "--steps", "60", "--seed-steps", "30", "--eval-every", "60", "--logdir", str(tmp_path),
                 "--run-name", "run", *TINY])
    assert code == 0
    run = tmp_path / "run"
    episode_steps = EpisodeReplay.load(run / "episodes").num_steps  # the run ends with its first episode
    assert episode_steps == {"Pusher-v5": 100}.get(env, 125)
    with open(run / "eval.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["env_steps"]) for r in rows] == [episode_steps]
    assert math.isfinite(float(rows[0]["return_mean"]))
    with open(run / "eval_safety.csv") as f:
        assert 0 <= float(next(csv.DictReader(f))["violation_rate"]) <= 1
    assert (run / "checkpoints" / f"ckpt_{episode_steps:09d}.pt").is_file()
