"""Same seed, same config, same machine, one thread: the same env steps and the same losses."""

from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agent.cli import main
from agent.learn.replay import EpisodeReplay, episode_files, load_episode
from tests.support import TINY


def run(logdir: Path, seed: int, steps: int = 1000) -> Path:
    # 1,000 env steps of Reacher-v5 (20 episodes): 200 random, then the planner acts while the
    # model updates (utd 0.25 keeps it quick; every update still draws from the replay's RNG).
    assert main(["train", "--env", "Reacher-v5", "--steps", str(steps), "--seed-steps", "200", "--seed", str(seed),
                 "--threads", "1", "--utd", "0.25", "--eval-every", "100000", "--video-every", "0",
                 "--logdir", str(logdir), "--run-name", "run", *TINY]) == 0
    return logdir / "run"


def losses(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    ea = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    ea.Reload()
    return {tag: [(e.step, e.value) for e in ea.Scalars(tag)] for tag in ea.Tags()["scalars"] if tag.startswith("loss/")}


def test_same_seed_gives_the_same_first_1000_steps_and_losses(tmp_path):
    a, b, c = run(tmp_path / "a", 7), run(tmp_path / "b", 7), run(tmp_path / "c", 8, steps=200)
    ra, rb = (EpisodeReplay.load(r / "episodes") for r in (a, b))
    assert ra.num_steps == rb.num_steps == 1000
    files_a, files_b = episode_files(a / "episodes"), episode_files(b / "episodes")
    assert [f.name for f in files_a] == [f.name for f in files_b]
    for fa, fb in zip(files_a, files_b):
        ea, eb = load_episode(fa), load_episode(fb)
        for key in ("obs", "action", "reward", "terminated"):
            np.testing.assert_array_equal(getattr(ea, key), getattr(eb, key), err_msg=f"{fa.name} {key}")
    la, lb = losses(a), losses(b)
    assert la and "loss/total" in la and len(la["loss/total"]) >= 15
    assert la == lb
    # ...and the test can tell runs apart: another seed differs.
    first_a, first_c = load_episode(files_a[0]), load_episode(episode_files(c / "episodes")[0])
    assert not np.array_equal(first_a.action, first_c.action)
