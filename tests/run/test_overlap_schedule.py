"""--schedule overlap: the next action is planned while the last step's updates run in a learner thread."""

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from agent.world_model_agent import WorldModelAgent
from agent.cli import main
from agent.config import RunConfig
from agent.learn.replay import EpisodeReplay
from agent.learn.profiling import OFF
from agent.run.trainer import Trainer
from agent.run.update_schedule import UpdateSchedule, UpdateTally
from tests.support import TINY

OBS_DIM, ACTION_DIM = 6, 2


def tiny_config(schedule: str) -> RunConfig:
    cfg = RunConfig()
    cfg.model.latent_dim, cfg.model.hidden_dim, cfg.learn.batch_size = 16, 32, 8
    cfg.plan.num_samples, cfg.plan.num_elites, cfg.plan.iterations, cfg.plan.num_policy_samples = 32, 4, 2, 4
    cfg.learn.schedule = schedule
    return cfg.validate()


def random_batch(horizon: int = 3, size: int = 8) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"obs": torch.randn(horizon + 1, size, OBS_DIM, generator=g),
            "action": torch.rand(horizon, size, ACTION_DIM, generator=g) * 2 - 1,
            "reward": torch.rand(horizon, size, generator=g), "terminated": torch.zeros(horizon, size, dtype=torch.bool)}


def weights(module: torch.nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in (*module.parameters(), *module.buffers())]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def plan_with_seed(agent: WorldModelAgent, obs: np.ndarray) -> np.ndarray:
    torch.manual_seed(3)
    agent.reset()
    return agent.act(obs, explore=False, rng=np.random.default_rng(0))


def test_the_planner_acts_with_the_weights_from_before_an_update_until_they_are_handed_over():
    torch.manual_seed(0)
    agent = WorldModelAgent((OBS_DIM,), ACTION_DIM, tiny_config("overlap"), torch.device("cpu"))
    obs = np.linspace(-1, 1, OBS_DIM).astype(np.float32)
    acting_before = weights(agent.world_model) + weights(agent.critic) + weights(agent.policy)
    assert same(acting_before, weights(agent.learner.wm) + weights(agent.learner.critic) + weights(agent.learner.policy))
    action_before = plan_with_seed(agent, obs)

    agent.update(random_batch())  # what the learner thread does
    learned = weights(agent.learner.wm) + weights(agent.learner.critic) + weights(agent.learner.policy)
    assert not same(learned, acting_before)  # the learner moved its own copies...
    assert same(weights(agent.world_model) + weights(agent.critic) + weights(agent.policy), acting_before)
    np.testing.assert_array_equal(plan_with_seed(agent, obs), action_before)  # ...the planner still sees the old ones

    agent.sync_from_learner()
    assert same(weights(agent.world_model) + weights(agent.critic) + weights(agent.policy), learned)
    assert not np.array_equal(plan_with_seed(agent, obs), action_before)


def test_the_serial_schedule_updates_the_networks_the_planner_uses():
    agent = WorldModelAgent((OBS_DIM,), ACTION_DIM, tiny_config("serial"), torch.device("cpu"))
    assert agent.learner.wm is agent.world_model and agent.learner.critic is agent.critic
    assert agent.learner.policy is agent.policy


def test_loading_a_checkpoint_gives_the_learner_copies_its_weights():
    source = WorldModelAgent((OBS_DIM,), ACTION_DIM, tiny_config("serial"), torch.device("cpu"))
    source.update(random_batch())
    target = WorldModelAgent((OBS_DIM,), ACTION_DIM, tiny_config("overlap"), torch.device("cpu"))
    target.load_state_dict(source.state_dict())
    assert same(weights(target.learner.wm), weights(source.world_model))
    assert same(weights(target.learner.critic), weights(source.critic))
    assert same(weights(target.world_model), weights(source.world_model))


def train(logdir: Path, *extra: str) -> int:
    return main(["train", "--env", "Reacher-v5", "--seed-steps", "100", "--eval-every", "100000", "--video-every", "0",
                 "--logdir", str(logdir), "--run-name", "run", *TINY, *extra])


def test_an_overlapped_run_trains_checkpoints_and_resumes(tmp_path):
    assert train(tmp_path, "--steps", "250", "--schedule", "overlap") == 0
    run = tmp_path / "run"
    assert EpisodeReplay.load(run / "episodes").num_steps == 250
    assert list((run / "checkpoints").glob("*.pt"))
    assert main(["train", "--resume", str(run), "--steps", "300", "--no-progress"]) == 0
    assert EpisodeReplay.load(run / "episodes").num_steps == 300
    assert "resumed" in (run / "train.log").read_text()


def test_an_error_in_the_learner_thread_stops_the_run(tmp_path, monkeypatch):
    cfg = tiny_config("overlap")
    cfg.env.name, cfg.steps, cfg.seed_steps, cfg.pretrain_updates, cfg.video_every = "Reacher-v5", 200, 100, 1, 0
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    calls = {"n": 0}
    real_update = trainer.agent.update

    def update_then_fail(batch):
        calls["n"] += 1
        if calls["n"] > 5:  # pretraining's one update and a few in the thread go through
            raise RuntimeError("learner thread failed")
        return real_update(batch)

    monkeypatch.setattr(trainer.agent, "update", update_then_fail)
    with pytest.raises(RuntimeError, match="learner thread failed"):
        trainer.train()


def test_overlap_with_a_safety_head_is_refused_in_one_line(tmp_path, capsys):
    assert train(tmp_path, "--steps", "100", "--schedule", "overlap", "--safety-head") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "schedule='overlap'" in err[0] and "'serial'" in err[0]
    assert not (tmp_path / "run").exists()


def test_overlapped_updates_run_in_the_learner_thread_while_the_caller_goes_on():
    started, release, handed, threads = threading.Event(), threading.Event(), [], set()

    def update(batch):
        threads.add(threading.get_ident())
        started.set()
        assert release.wait(10)
        return {"loss": batch["x"]}

    schedule = UpdateSchedule(True, update, lambda: {"x": 1.5}, lambda: handed.append(True), OFF)
    tally = UpdateTally()
    schedule.run(2, tally)
    assert started.wait(10)  # an update is running...
    assert tally.count == 0 and not handed  # ...and run() has returned
    release.set()
    schedule.finish()
    assert tally.count == 2 and tally.losses_sum == {"loss": 3.0} and handed == [True]
    assert threads and threading.get_ident() not in threads
    schedule.close()


def test_serial_updates_are_done_when_run_returns_and_hand_nothing_over():
    def no_handover():
        raise AssertionError("the serial schedule shares its networks with the planner")

    schedule = UpdateSchedule(False, lambda batch: {"loss": 1.0}, lambda: {}, no_handover, OFF)
    tally = UpdateTally()
    schedule.run(3, tally)
    assert tally.count == 3 and tally.losses_sum == {"loss": 3.0}
    schedule.finish()
