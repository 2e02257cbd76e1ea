"""The LLM proposer wired into the agent and the ``wm-agent`` command."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agent.world_model_agent import WorldModelAgent
from agent.cli import main
from agent.config import ConfigError, RunConfig
from agent.model.world_model import LatentWorldModel
from tests.chat_server import Reply, Request, ScriptedChatServer
from planners.llm import TaskSpec

LLM_FIRST_ACTION = [0.7, -0.3]
TASK = TaskSpec(env_name="point-reach", goal="reach", obs_field_names=tuple(f"s[{i}]" for i in range(4)),
                action_names=("a0", "a1"), action_low=(-1.0, -1.0), action_high=(1.0, 1.0), action_repeat=1,
                horizon=RunConfig().plan.plan_horizon)  # the agent's own horizon, as build_agent's task has


def respond(request: Request, num_plans: int = 2) -> Reply:
    """Plans for proposal prompts; for judge prompts, 0 for the planner's outcome and 10 for the LLM's."""
    if "judge" in request.body["messages"][0]["content"]:
        count = len(re.findall(r"Outcome \d+:", request.body["messages"][1]["content"]))
        return Reply(json.dumps({"scores": [0.0] + [10.0] * (count - 1)}))
    return Reply(json.dumps({"plans": [[LLM_FIRST_ACTION] * 3, [[0.0, 0.0]] * 3][:num_plans]}))


def small_config(**plan: object) -> RunConfig:
    cfg = RunConfig()
    cfg.model.latent_dim, cfg.model.hidden_dim = 16, 32
    cfg.plan.num_samples, cfg.plan.num_elites, cfg.plan.iterations = 16, 4, 2
    cfg.plan.bf16 = False
    for key, value in plan.items():
        setattr(cfg.plan, key, value)
    return cfg.validate()


def test_without_a_proposer_the_agent_is_unchanged() -> None:
    agent = WorldModelAgent((4,), 2, small_config(), torch.device("cpu"), task=TASK)
    assert agent.proposer is None and agent.judge is None and agent.llm_stats() == {}
    action = agent.act(np.zeros(4, np.float32), explore=False, rng=np.random.default_rng(0))
    assert agent.planner.last_stats["num_candidates"] == 0.0 and action.shape == (2,)


def test_agent_plans_with_llm_candidates_and_the_judge_can_overrule() -> None:
    with ScriptedChatServer(lambda request: respond(request, num_plans=1)) as server:
        cfg = small_config(proposer="llm", llm_base_url=server.base_url, llm_model="m", llm_deadline_ms=3000.0,
                           llm_every=2, llm_judge_weight=1.0)
        agent = WorldModelAgent((4,), 2, cfg, torch.device("cpu"), task=TASK)
        rng = np.random.default_rng(0)
        agent.reset()
        first = agent.act(np.zeros(4, np.float32), explore=False, rng=rng)
        assert agent.planner.last_stats["num_candidates"] == 1.0
        np.testing.assert_allclose(first, LLM_FIRST_ACTION, atol=1e-6)  # judge weight 1: its score decides
        for _ in range(3):
            agent.act(np.zeros(4, np.float32), explore=True, rng=rng)
        agent.close()
    stats = agent.llm_stats()
    assert stats["requests"] == 2 and stats["parsed"] == 2 and stats["plans_with_candidates"] == 4
    assert stats["judge_requests"] == 2 and stats["judge_verdicts"] == 2  # judged once per new answer
    assert 0.0 <= stats["in_elites_rate"] <= 1.0


def test_agent_keeps_acting_when_the_server_is_down() -> None:
    cfg = small_config(proposer="llm", llm_base_url="http://127.0.0.1:9/v1", llm_model="m", llm_retries=0,
                       llm_deadline_ms=2000.0)
    agent = WorldModelAgent((4,), 2, cfg, torch.device("cpu"), task=TASK)
    for _ in range(2):
        action = agent.act(np.zeros(4, np.float32), explore=False, rng=np.random.default_rng(0))
        assert np.isfinite(action).all()
    assert agent.llm_stats()["failed_unreachable"] == 1


@pytest.mark.parametrize("plan,message", [
    ({"proposer": "llm"}, "invalid llm_model=''"),
    ({"proposer": "llm", "llm_model": "m", "llm_every": 0}, "invalid llm_every=0"),
    ({"proposer": "llm", "llm_model": "m", "llm_base_url": "localhost:8080"}, "invalid llm_base_url='localhost:8080'"),
    ({"proposer": "llm", "llm_model": "m", "llm_judge_weight": 2.0}, "invalid llm_judge_weight=2.0"),
    ({"proposer": "llm", "llm_model": "m", "llm_follow": -0.5}, "invalid llm_follow=-0.5"),
])
def test_bad_llm_options_are_one_line_config_errors(plan: dict, message: str, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    cfg = RunConfig()
    for key, value in plan.items():
        setattr(cfg.plan, key, value)
    with pytest.raises(ConfigError, match=re.escape(message)):
        cfg.validate()


def test_llm_proposer_needs_state_observations() -> None:
    cfg = RunConfig()
    cfg.env.obs, cfg.plan.proposer, cfg.plan.llm_model = "pixels", "llm", "m"
    with pytest.raises(ConfigError, match="invalid obs='pixels'"):
        cfg.validate()


def test_missing_transformers_is_a_one_line_install_hint(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` fail
    code = main(["train", "--proposer", "llm", "--llm-backend", "transformers", "--llm-model", str(tmp_path),
                 "--logdir", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.endswith("--proposer llm --llm-backend transformers needs the transformers package: "
                        "pip install 'wm-agent[llm]'")
    assert not (tmp_path / "runs").exists()


def test_transformers_backend_needs_a_model_directory(capsys, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    code = main(["train", "--proposer", "llm", "--llm-backend", "transformers", "--llm-model", str(tmp_path / "no"),
                 "--logdir", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "not a directory" in err


def test_short_training_run_logs_llm_counters(tmp_path: Path) -> None:
    with ScriptedChatServer(respond) as server:
        code = main(["train", "--env", "Reacher-v5", "--steps", "60", "--seed-steps", "40", "--eval-every", "1000",
                     "--video-every", "0", "--logdir", str(tmp_path), "--latent-dim", "16", "--hidden-dim", "32",
                     "--num-samples", "16", "--num-elites", "4", "--iterations", "1", "--num-policy-samples", "2",
                     "--batch-size", "8", "--pretrain-updates", "2", "--eval-episodes", "1", "--no-progress", "--threads", "1",
                     "--proposer", "llm", "--llm-base-url", server.base_url, "--llm-model", "m",
                     "--llm-every", "5", "--llm-deadline-ms", "2000", "--goal", "touch the target"])
        assert code == 0
    (run_dir,) = tmp_path.iterdir()
    assert json.loads((run_dir / "config.json").read_text())["plan"]["goal"] == "touch the target"
    ea = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    ea.Reload()
    scalars = set(ea.Tags()["scalars"])
    for tag in ("llm/requests", "llm/proposed", "llm/parsed", "llm/in_elites_rate", "llm/chosen_rate"):
        assert tag in scalars, tag
    assert ea.Scalars("llm/parsed")[-1].value >= 2
    prompt = server.requests[0].body["messages"][1]["content"]
    assert "Goal: touch the target" in prompt and "Reacher-v5" in prompt


def test_llm_as_mean_centres_the_planner_on_a_fresh_answer(monkeypatch) -> None:
    seen: list[object] = []
    with ScriptedChatServer(lambda request: respond(request, num_plans=1)) as server:
        cfg = small_config(proposer="llm", llm_base_url=server.base_url, llm_model="m", llm_deadline_ms=3000.0,
                           llm_every=5, llm_as_mean=True)
        agent = WorldModelAgent((4,), 2, cfg, torch.device("cpu"), task=TASK)
        original = agent.planner.plan

        def spy(obs, candidates=None, *, explore=False, initial_mean=None):
            seen.append(None if initial_mean is None else initial_mean.clone())
            return original(obs, candidates, explore=explore, initial_mean=initial_mean)

        monkeypatch.setattr(agent.planner, "plan", spy)
        agent.reset()
        rng = np.random.default_rng(0)
        for _ in range(2):
            agent.act(np.zeros(4, np.float32), explore=False, rng=rng)
        agent.close()
    # The fresh answer seeds the first plan only; the next step warm-starts as usual.
    assert seen[0] is not None and torch.allclose(seen[0][0], torch.tensor(LLM_FIRST_ACTION))
    assert seen[1] is None


def test_training_acts_on_the_followed_llm_plan_and_evaluation_not_before_it_is_proven() -> None:
    with ScriptedChatServer(lambda request: respond(request, num_plans=1)) as server:
        cfg = small_config(proposer="llm", llm_base_url=server.base_url, llm_model="m", llm_deadline_ms=3000.0,
                           llm_every=2, llm_follow=1.0)
        agent = WorldModelAgent((4,), 2, cfg, torch.device("cpu"), task=TASK)
        rng = np.random.default_rng(0)
        agent.reset()
        trained = [agent.act(np.zeros(4, np.float32), explore=True, rng=rng, follow_llm=True) for _ in range(2)]
        for _ in trained:
            agent.record_reward(0.5)
        agent.reset()
        evaluated = agent.act(np.zeros(4, np.float32), explore=False, rng=rng)
        agent.close()
    for action in trained:  # the answer's plan, step by step (every step of it is LLM_FIRST_ACTION)
        np.testing.assert_allclose(action, LLM_FIRST_ACTION, atol=1e-6)
    assert not np.allclose(evaluated, LLM_FIRST_ACTION, atol=1e-3)  # the planner's own mean plan
    stats = agent.llm_stats()
    assert stats["follow_segments"] == 1 and stats["follow_steps"] == 2 and stats["follow_reward_mean"] == 0.5
    state = agent.state_dict()["llm_follower"]
    fresh = WorldModelAgent((4,), 2, cfg, torch.device("cpu"), task=TASK)
    fresh.load_state_dict(agent.state_dict())
    assert fresh.follower is not None and fresh.follower.state_dict() == state


def test_llm_follow_zero_leaves_training_to_the_planner() -> None:
    with ScriptedChatServer(lambda request: respond(request, num_plans=1)) as server:
        cfg = small_config(proposer="llm", llm_base_url=server.base_url, llm_model="m", llm_deadline_ms=3000.0,
                           llm_follow=0.0)
        agent = WorldModelAgent((4,), 2, cfg, torch.device("cpu"), task=TASK)
        agent.reset()
        action = agent.act(np.zeros(4, np.float32), explore=True, rng=np.random.default_rng(0), follow_llm=True)
        agent.close()
    assert agent.follower is None and "follow_share" not in agent.llm_stats()
    assert not np.allclose(action, LLM_FIRST_ACTION, atol=1e-3)


@pytest.mark.parametrize("follow_eval", [True, False])
def test_evaluation_acts_on_a_proven_proposer_unless_told_not_to(follow_eval: bool) -> None:
    with ScriptedChatServer(lambda request: respond(request, num_plans=1)) as server:
        cfg = small_config(proposer="llm", llm_base_url=server.base_url, llm_model="m", llm_deadline_ms=3000.0,
                           llm_follow_eval=follow_eval)
        agent = WorldModelAgent((4,), 2, cfg, torch.device("cpu"), task=TASK)
        assert agent.follower is not None
        # As a checkpoint of a run whose followed steps earned 1.0 per step and its own 0.1, 500 of each, in
        # 50 stretches each (steps, mean, variance, stretches): far beyond the noise.
        agent.follower.load_state_dict({"followed": (500, 1.0, 0.01, 50), "own": (500, 0.1, 0.09, 50),
                                        "segments": 50, "answers": 150})
        agent.reset()
        action = agent.act(np.zeros(4, np.float32), explore=False, rng=np.random.default_rng(0))
        agent.close()
    assert np.allclose(action, LLM_FIRST_ACTION, atol=1e-6) == follow_eval
    assert agent.llm_stats()["follow_answers"] == 150  # evaluation counts nothing of its own


def test_evaluation_does_not_ask_a_disproven_proposer_but_training_still_does() -> None:
    with ScriptedChatServer(lambda request: respond(request, num_plans=1)) as server:
        cfg = small_config(proposer="llm", llm_base_url=server.base_url, llm_model="m", llm_deadline_ms=3000.0)
        agent = WorldModelAgent((4,), 2, cfg, torch.device("cpu"), task=TASK)
        assert agent.follower is not None
        agent.follower.load_state_dict({"followed": (500, 0.0, 0.0, 50), "own": (500, 0.3, 0.21, 50),
                                        "segments": 50, "answers": 150})
        agent.reset()
        agent.act(np.zeros(4, np.float32), explore=False, rng=np.random.default_rng(0))
        assert agent.planner.last_stats["num_candidates"] == 0.0 and agent.llm_stats().get("requests", 0) == 0
        agent.reset()
        agent.act(np.zeros(4, np.float32), explore=True, rng=np.random.default_rng(0), follow_llm=True)
        agent.close()
    assert agent.planner.last_stats["num_candidates"] == 1.0 and agent.llm_stats()["requests"] == 1


def test_a_followed_answer_is_ranked_over_all_the_steps_it_will_be_followed_for(monkeypatch) -> None:
    # The planning horizon is 3 (set below), the reward is the first action component and the latent stands
    # still, so "early" leads over the planner's 3 steps (3 against 0.3) and loses over the answer's 13
    # (3 - 10 against 0.3 + 10): the plan acted on until the next answer must be the one that wins over all.
    early = [[1.0, -0.5]] * 3 + [[-1.0, -0.5]] * 10
    late = [[0.1, 0.5]] * 3 + [[1.0, 0.5]] * 10
    monkeypatch.setattr(LatentWorldModel, "next_latent_and_reward", lambda self, z, a: (z, a[:, :1]))
    with ScriptedChatServer(lambda request: Reply(json.dumps({"plans": [early, late]}))) as server:
        cfg = small_config(proposer="llm", llm_base_url=server.base_url, llm_model="m", llm_deadline_ms=3000.0,
                           llm_every=10, llm_follow=1.0, plan_horizon=3)
        agent = WorldModelAgent((4,), 2, cfg, torch.device("cpu"), task=dataclasses.replace(TASK, horizon=3))
        agent.reset()
        rng = np.random.default_rng(0)
        actions = [agent.act(np.zeros(4, np.float32), explore=True, rng=rng, follow_llm=True)]
        assert agent.planner.last_candidate_returns is not None
        window_returns = agent.planner.last_candidate_returns.numpy()
        actions += [agent.act(np.zeros(4, np.float32), explore=True, rng=rng, follow_llm=True) for _ in range(3)]
        assert agent.proposer is not None and agent.proposer.rest is not None
        rest_shape = agent.proposer.rest.shape
        agent.close()
    assert window_returns[0] > window_returns[1]  # the planner's window alone rates "early" the better
    assert rest_shape == (2, 13 - 3, 2)  # what is left of the answer at its fourth step
    np.testing.assert_allclose(actions, [late[0]] * 3 + [late[3]], atol=1e-6)
