"""`wm-agent train --model robotics --safety-budget`: a short real run logs the safety signals."""

from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agent.cli import main
from agent.learn.replay import EpisodeReplay
from tests.support import TINY_ONE_THREAD

# Smaller still: a robotics model from 32x32 pixels (later flags override TINY's).
TINY = [*TINY_ONE_THREAD, "--num-samples", "16", "--iterations", "1", "--batch-size", "8", "--pretrain-updates", "3",
        "--image-size", "32"]


def test_robotics_run_with_a_safety_budget_logs_costs_and_the_head(tmp_path: Path) -> None:
    code = main(["train", "--env", "Reacher-v5", "--obs", "pixels", "--model", "robotics", "--safety-budget", "0.5",
                 "--steps", "100", "--seed-steps", "50", "--eval-every", "100", "--logdir", str(tmp_path),
                 "--run-name", "run", *TINY])
    assert code == 0
    run = tmp_path / "run"
    replay = EpisodeReplay.load(run / "episodes")
    assert replay.num_steps == 100
    batch = replay.sample(4, 2, np.random.default_rng(0))
    assert batch["cost"].shape == (3, 4) and set(np.unique(batch["cost"].numpy())) <= {0.0, 1.0}

    ea = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0})
    ea.Reload()
    scalars = set(ea.Tags()["scalars"])
    for tag in ("train/episode_cost", "train/violation_rate", "eval/episode_cost", "eval/violation_rate",
                "loss/safety", "loss/consistency", "safety/no_feasible_plans", "safety/multiplier"):
        assert tag in scalars, tag
    assert ea.Images("eval/rollout_real_vs_imagined")[0].encoded_image_string[:6] == b"GIF89a"
    header, row = (run / "eval_safety.csv").read_text().splitlines()
    assert header.startswith("env_steps,episode_cost_mean,violation_rate,head_precision,head_recall")
    assert row.startswith("100,")


@pytest.mark.parametrize("argv, expected", [
    (["--model", "robotics"], "invalid obs='state'"),
    (["--safety-mode", "soft"], "invalid choice: 'soft'"),
    (["--safety-limits", "speed=3"], "bad safety limit 'speed=3'"),
    (["--safety-scale", "0"], "safety_scale=0.0"),
    (["--safety-multiplier", "-1"], "invalid safety_multiplier=-1.0"),
])
def test_bad_safety_options_get_one_line_and_exit_2(argv: list[str], expected: str, capsys) -> None:
    assert main(["train", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err, err
