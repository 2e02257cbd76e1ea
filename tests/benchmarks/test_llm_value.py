"""The scripted "language models" of benchmarks/llm_value.py: known quality, real prompts, real parser.

The proposers are judged in the real env, from the prompts the agent's own proposer builds, and
the server is talked to through the agent's own HTTP backend, so a change of the prompt format
that the scripts can no longer read fails here rather than silently in a long benchmark.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from agent.config import RunConfig
from benchmarks import llm_value
from benchmarks.scripted_llm import KINDS, MODEL_PREFIX, ScriptedLLMServer, answer
from envs import make_env
from planners.llm import (JudgeConfig, LLMJudge, LLMProposer, OpenAIChatBackend, OpenAIConfig,
                          ProposerConfig, TaskSpec, proposal_messages, task_spec_from_env)

REACHER_SPEED_LIMIT = 4.0  # rad/s: envs/safety.py FAMILY_LIMITS["reacher"]


class ScriptedBackend:
    """The scripted model called in-process (no HTTP): the proposer's own prompts, answered at once."""

    def __init__(self, kind: str) -> None:
        self.model = MODEL_PREFIX + kind

    def complete(self, messages: list[dict[str, str]]) -> str:
        return answer(self.model, messages)


@pytest.fixture(scope="module")
def reacher():
    env = make_env("reacher-easy", obs="state")
    yield env, task_spec_from_env(env, RunConfig().plan.plan_horizon)
    env.close()


def episode_acting_on_proposals(env, task: TaskSpec, kind: str, seed: int) -> tuple[float, float]:
    """Return and violations of one episode acting on the first action of the first plan, re-asked each step."""
    proposer = LLMProposer(ScriptedBackend(kind), task, ProposerConfig(every=1, deadline_ms=10_000.0))
    obs, _ = env.reset(seed=seed)
    proposer.reset()
    total, violations, done = 0.0, 0.0, False
    while not done:
        plans = proposer.candidates(obs)
        assert plans is not None and plans.shape == (4, task.horizon, 2)
        obs, reward, terminated, truncated, info = env.step(plans[0, 0])
        total, violations, done = total + reward, violations + info["cost"], terminated or truncated
    assert proposer.counts["parsed"] == 4 * proposer.counts["requests"]  # every plan valid, none dropped
    return total, violations


def test_informed_proposer_reaches_the_target_and_random_does_not(reacher) -> None:
    # Measured over reset seeds 0-7 (benchmarks/scripted_llm.py at this commit): informed 956-989, 0 violations;
    # noisy 672-842; random 0-159; adversarial 0. Seed 0: informed 986, random 66.
    env, task = reacher
    informed, informed_violations = episode_acting_on_proposals(env, task, "informed", seed=0)
    random_return, _ = episode_acting_on_proposals(env, task, "random", seed=0)
    assert informed > 900 and random_return < 200, (informed, random_return)
    assert informed_violations == 0  # the informed controller keeps the joints under the speed limit


@pytest.mark.parametrize("env_name", ["reacher-easy", "cartpole-swingup"])
def test_server_answers_the_agents_prompts_with_plans_and_scores_the_parser_accepts(env_name: str) -> None:
    env = make_env(env_name, obs="state")
    task = task_spec_from_env(env, RunConfig().plan.plan_horizon)
    obs, _ = env.reset(seed=1)
    env.close()
    with ScriptedLLMServer(max_seconds=60) as server:
        for kind in KINDS:
            backend = OpenAIChatBackend(OpenAIConfig(base_url=server.base_url, model=MODEL_PREFIX + kind,
                                                     max_retries=0, timeout_s=10.0))
            proposer = LLMProposer(backend, task, ProposerConfig(deadline_ms=10_000.0))
            plans = proposer.candidates(obs)
            assert plans is not None and plans.shape == (4, task.horizon, task.action_dim), kind
            assert proposer.counts["answers"] == 1 and proposer.counts["parsed"] == 4, (kind, proposer.stats)
            assert proposer.counts["padded"] == proposer.counts["cut"] == proposer.counts["clipped"] == 0
            judge = LLMJudge(backend, task, JudgeConfig(weight=0.5, deadline_ms=10_000.0))
            pick = judge.choose(np.array([1.0, 0.5, 0.2]), np.stack([obs, obs * 0.5, obs * 2.0]))
            assert pick in (0, 1, 2) and judge.counts["verdicts"] == 1, (kind, judge.stats)
        assert server.counts[f"{MODEL_PREFIX}informed proposals"] == 1


@pytest.mark.parametrize("horizon", [1, 3])
def test_scripts_read_the_prompt_of_any_planning_horizon(reacher, horizon: int) -> None:
    env, task = reacher
    obs, _ = env.reset(seed=0)
    asked = dataclasses.replace(task, horizon=horizon)  # "looks 1 action ahead" as well as "3 actions"
    for kind in KINDS:
        plans = json.loads(answer(MODEL_PREFIX + kind, proposal_messages(asked, obs, num_plans=4, plan_steps=5)))
        assert np.asarray(plans["plans"]).shape == (4, 5, 2), kind


def test_server_refuses_what_it_cannot_read_in_one_line_the_agent_counts() -> None:
    task = TaskSpec(env_name="point-reach", goal="reach", obs_field_names=("x",), action_names=("push",),
                    action_low=(-1.0,), action_high=(1.0,), action_repeat=1, horizon=3)
    with ScriptedLLMServer(max_seconds=60) as server:
        for model, reason in [(MODEL_PREFIX + "informed", "no scripted planner for task 'point-reach'"),
                              ("llama3.2", "unknown model 'llama3.2'")]:
            backend = OpenAIChatBackend(OpenAIConfig(base_url=server.base_url, model=model, max_retries=0))
            proposer = LLMProposer(backend, task, ProposerConfig(deadline_ms=10_000.0))
            assert proposer.candidates(np.zeros(1, np.float32)) is None
            assert proposer.counts["failed_http_error"] == 1 and reason in proposer.last_error
    with pytest.raises(ValueError, match="not a loopback address"):
        ScriptedLLMServer(host="0.0.0.0")


def open_loop(env, seed: int, plan: np.ndarray) -> tuple[float, float, float]:
    """From reset seed ``seed``: fingertip-target distance at the start and after ``plan``, and its max joint speed."""
    obs, _ = env.reset(seed=seed)
    start, speed = float(np.linalg.norm(obs[2:4])), 0.0
    for action in plan:
        obs, *_ = env.step(action)
        speed = max(speed, float(np.abs(obs[4:6]).max()))
    return start, float(np.linalg.norm(obs[2:4])), speed


def test_adversarial_plans_drive_away_from_the_target_or_past_the_speed_limit(reacher) -> None:
    env, task = reacher
    steps = RunConfig().plan.llm_every + task.horizon
    assert LLMProposer(ScriptedBackend("informed"), task).plan_steps == steps  # what the agent asks for
    for seed in range(4):
        obs, _ = env.reset(seed=seed)
        messages = proposal_messages(task, obs, 4, steps)
        informed = json.loads(answer(MODEL_PREFIX + "informed", messages))["plans"]
        adversarial = json.loads(answer(MODEL_PREFIX + "adversarial", messages))["plans"]
        start, informed_end, informed_speed = open_loop(env, seed, np.array(informed[0], np.float32))
        assert informed_end < start and informed_speed < REACHER_SPEED_LIMIT
        for i, plan in enumerate(adversarial):
            _, end, speed = open_loop(env, seed, np.array(plan, np.float32))
            if i % 2 == 0:  # away: ends farther from the target than it started, and than the informed plan
                assert end > start and end > informed_end + 0.05, (seed, i, start, end)
            else:  # spin: past the joint-speed limit (the joint damping caps a full-torque spin near 5 rad/s)
                assert speed > 1.2 * REACHER_SPEED_LIMIT, (seed, i, speed)


# ----------------------------------------------------------------- the benchmark's bookkeeping

def fake_run(run_dir: Path, returns: dict[int, float], violations: dict[int, float]) -> None:
    run_dir.mkdir(parents=True)
    (run_dir / "eval.csv").write_text("env_steps,return_mean,return_std,episodes,wall_seconds\n" + "".join(
        f"{s},{r},1.0,5,{s / 10}\n" for s, r in returns.items()))
    (run_dir / "eval_safety.csv").write_text("env_steps,episode_cost_mean,violation_rate,head_precision,head_recall\n"
                                             + "".join(f"{s},{v},0.0,nan,nan\n" for s, v in violations.items()))


def test_table_compares_each_variant_with_its_baseline_by_the_seeds_spread(tmp_path: Path) -> None:
    stages = [2000, 5000]
    made = {"none": ([100, 110, 120], [5, 5, 5]), "informed": ([400, 420, 440], [0, 0, 0]),
            "random": ([105, 115, 100], [5, 6, 5]), "none-budget": ([90, 100, 110], [1, 1, 1]),
            "adversarial-budget": ([95, 100, 105], [1, 1, 30])}
    for name, (returns, violations) in made.items():
        for seed, (r, v) in enumerate(zip(returns, violations), start=1):
            fake_run(tmp_path / name / f"seed{seed}", {2000: r / 2, 5000: r}, {2000: v, 5000: v})
    runs = {name: {s: llm_value.read_run(tmp_path / name / f"seed{s}", stages) for s in (1, 2, 3)} for name in made}
    rows = {r["variant"]: r for r in llm_value.summarise(runs, stages, 5000)}
    assert rows["none"]["vs_baseline"] == ""
    assert rows["informed"]["vs_baseline"].startswith("raises (+310.0")
    assert rows["random"]["vs_baseline"].startswith("within spread")
    assert rows["adversarial-budget"]["vs_baseline"].startswith("within spread")  # against none-budget
    assert rows["adversarial-budget"]["violations_vs_baseline"].startswith("within spread")  # one seed: sd 13.7
    assert rows["informed"]["violations_vs_baseline"].startswith("lowers")
    assert rows["informed"]["return_5000"] == {"mean": 420.0, "sd": 16.3, "n": 3}
    table = llm_value.markdown(list(rows.values()), stages, 5000)
    assert "| informed | 210.0 ± 8.2 | 420.0 ± 16.3 | raises" in table
    assert llm_value.status(list(rows.values()), stages, [1, 2, 3]) == "complete"

    runs_dir, out = tmp_path / "runs", tmp_path / "out"
    (runs_dir / "reacher-easy").mkdir(parents=True)
    for name in made:
        (tmp_path / name).rename(runs_dir / "reacher-easy" / name)
    llm_value.main(["--variants", *made, "--stages", "2000", "5000", "--runs", str(runs_dir), "--out", str(out),
                    "--report-only"])
    report = json.loads((out / "llm_value.json").read_text())
    assert report["tasks"]["reacher-easy"]["status"] == "complete" and "--report-only" not in report["command"]
    assert "| informed | 210.0 ± 8.2 | 420.0 ± 16.3 | raises" in (out / "llm_value.md").read_text()


def test_llm_rates_are_read_only_for_stages_evaluated(tmp_path: Path) -> None:
    """A stage still running has logged part of its sitting: its rates would read as the stage's."""
    from torch.utils.tensorboard import SummaryWriter

    run = tmp_path / "seed1"
    fake_run(run, {2000: 50.0}, {2000: 1.0})
    with SummaryWriter(str(run)) as writer:
        for step, share in ((1500, 0.3), (2000, 0.25), (3000, 0.03)):
            writer.add_scalar("llm/follow_share", share, step)
    assert llm_value.read_run(run, [2000, 5000])["llm"] == {2000: {"follow_share": 0.25}}


def test_runs_resume_against_this_sittings_server_and_refuse_other_settings(tmp_path: Path) -> None:
    ns = type("Args", (), {"seed_steps": 500, "eval_episodes": 5, "judge_weight": 0.5, "budget": 0.3,
                           "follow": 0.3, "train_args": ["--hidden-dim", "32"]})()
    variant = llm_value.VARIANTS["informed-judge"]
    options = llm_value.run_options(variant, ns, "http://127.0.0.1:1234/v1")
    for pair in (["--llm-model", "scripted-informed"], ["--llm-judge-weight", "0.5"], ["--seed-steps", "500"],
                 ["--llm-base-url", "http://127.0.0.1:1234/v1"], ["--hidden-dim", "32"], ["--llm-follow", "0.3"]):
        assert " ".join(pair) in " ".join(options)
    assert "--proposer" not in llm_value.run_options(llm_value.VARIANTS["none"], ns, "http://x/v1")

    run = tmp_path / "seed1"
    run.mkdir()
    cfg = RunConfig()
    cfg.env.name, cfg.seed, cfg.seed_steps = "reacher-easy", 1, 500
    cfg.plan.proposer, cfg.plan.llm_model, cfg.plan.llm_judge_weight = "llm", "scripted-informed", 0.5
    cfg.plan.llm_base_url = "http://127.0.0.1:1234/v1"
    cfg.save(run / "config.json")
    config = llm_value.check_config(run, llm_value.expected_config(variant, ns, "reacher-easy", 1))
    assert llm_value.resume_options(config, "http://127.0.0.1:1234/v1") == []
    assert llm_value.resume_options(config, "http://127.0.0.1:999/v1") == [
        "--llm-base-url", "http://127.0.0.1:999/v1", "--override", "llm_base_url"]
    with pytest.raises(SystemExit, match="plan.llm_model='scripted-informed' \\(wanted 'scripted-random'\\)"):
        llm_value.check_config(run, llm_value.expected_config(llm_value.VARIANTS["random-judge"], ns,
                                                              "reacher-easy", 1))
    ns.follow = 0.0  # runs that acted on proposals while training are another experiment than those that did not
    with pytest.raises(SystemExit, match="plan.llm_follow=0.3 \\(wanted 0.0\\)"):
        llm_value.check_config(run, llm_value.expected_config(variant, ns, "reacher-easy", 1))
    assert llm_value.check_config(tmp_path / "new", {}) is None


def test_a_resumed_run_gets_its_resume_options(tmp_path: Path, monkeypatch) -> None:
    from benchmarks import train_runs

    calls = []
    monkeypatch.setattr(train_runs, "run_cli", lambda cmd, run_dir: calls.append(cmd))
    run = train_runs.TrainRun(tmp_path / "seed1", "reacher-easy", 1, ["--proposer", "llm"],
                              ["--llm-base-url", "http://127.0.0.1:2/v1", "--override", "llm_base_url"])
    train_runs.train_or_resume(run, 2000, 1)  # new: the options, not the resume ones
    (run.run_dir / "config.json").parent.mkdir(parents=True, exist_ok=True)
    (run.run_dir / "config.json").write_text("{}")
    train_runs.train_or_resume(run, 5000, 1)
    assert "--proposer" in calls[0] and "--override" not in calls[0]
    assert calls[1][:2] == ["train", "--resume"] and calls[1][-4:] == run.resume_options


def fake_final(run_dir: Path, step: int, episodes: int, returns: dict[str, float], proven: bool,
               violations: float = 0.0) -> None:
    for mode, value in returns.items():
        llm_value.final_eval_path(run_dir, step, mode, episodes).write_text(json.dumps(
            {"return_mean": value, "returns": [value] * episodes, "llm_follow_proven": float(proven),
             "violations": [violations] * (episodes - 1) + [violations + episodes]}))


def test_final_table_compares_both_ways_of_acting_with_the_baselines_planner(tmp_path: Path) -> None:
    made = {"none": [{"alone": 100.0}, {"alone": 150.0}, {"alone": 200.0}],
            "informed": [{"alone": 160.0, "follow": 950.0}, {"alone": 170.0, "follow": 960.0},
                         {"alone": 180.0, "follow": 970.0}],
            "adversarial": [{"alone": 140.0, "follow": 140.0}, {"alone": 150.0, "follow": 150.0},
                            {"alone": 160.0, "follow": 160.0}]}
    for name, seeds in made.items():
        for seed, returns in enumerate(seeds, start=1):
            fake_run(tmp_path / name / f"seed{seed}", {5000: 0.0}, {5000: 0.0})
            fake_final(tmp_path / name / f"seed{seed}", 5000, 10, returns, proven=name == "informed")
    runs = {name: {s: llm_value.read_run(tmp_path / name / f"seed{s}", [5000], 5000, 10) for s in (1, 2, 3)}
            for name in made}
    rows = {r["variant"]: r for r in llm_value.summarise(runs, [5000], 5000)}
    assert rows["informed"]["final_follow_vs_baseline"].startswith("raises (+810.0")
    assert rows["informed"]["final_alone_vs_baseline"].startswith("within spread")  # none's sd: 40.8
    assert rows["adversarial"]["final_follow_vs_baseline"].startswith("within spread")
    assert rows["informed"]["final_proven"] == 3 and rows["adversarial"]["final_proven"] == 0
    table = llm_value.final_markdown(list(rows.values()), 5000, 10)
    assert "| none | 150.0 ± 40.8 | (baseline) | - | - | 1.0 ± 0.0 | (baseline) | - |" in table
    assert "| informed | 170.0 ± 8.2 | within spread" in table and "| 3 / 0 of 3 |" in table
    # No final evaluations asked for: nothing is read, the columns are empty rather than wrong.
    assert llm_value.read_run(tmp_path / "none" / "seed1", [5000])["final"] == {}


def test_final_table_compares_violations_as_the_agent_acts_with_its_budget_baseline(tmp_path: Path) -> None:
    # none-budget: 5 violations per episode; the adversarial proposer followed under the budget adds 20 on every
    # seed (its planner alone adds none): the table must say so, against none-budget, not against none.
    made = {"none": (0.0, {"alone": 100.0}), "none-budget": (5.0, {"alone": 100.0}),
            "adversarial-budget": (5.0, {"alone": 100.0, "follow": 100.0})}
    for name, (violations, returns) in made.items():
        for seed in (1, 2, 3):
            run = tmp_path / name / f"seed{seed}"
            fake_run(run, {5000: 0.0}, {5000: 0.0})
            fake_final(run, 5000, 10, returns, proven=False, violations=violations + seed)
            if name == "adversarial-budget":  # the follow mode's file again, with more violations
                fake_final(run, 5000, 10, {"follow": 100.0}, proven=False, violations=violations + seed + 20)
    runs = {name: {s: llm_value.read_run(tmp_path / name / f"seed{s}", [5000], 5000, 10) for s in (1, 2, 3)}
            for name in made}
    rows = {r["variant"]: r for r in llm_value.summarise(runs, [5000], 5000)}
    assert rows["none-budget"]["final_alone_violations"] == {"mean": 8.0, "sd": 0.8, "n": 3}
    assert rows["adversarial-budget"]["final_violations_vs_baseline"].startswith("raises (+20.0")
    table = llm_value.final_markdown(list(rows.values()), 5000, 10)
    assert "| 28.0 ± 0.8 | raises (+20.0, spread 0.8) |" in table
