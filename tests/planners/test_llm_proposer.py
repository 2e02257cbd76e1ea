"""The LLM proposer against a real chat-completions server on 127.0.0.1, a tiny local model, and a planner."""

from __future__ import annotations

import json
import math
import re
import time
import tracemalloc

import numpy as np
import pytest
import torch

from planners import make_planner
from planners.llm import (
    BackendError,
    JudgeConfig,
    LLMJudge,
    LLMProposer,
    OpenAIConfig,
    ProposerConfig,
    TaskSpec,
    combine_scores,
    parse_plans,
)
from tests.chat_server import Reply, Request, ScriptedChatServer, completion
from tests.planners.point_mass import INTERIOR_GOAL, INTERIOR_PLAN, PointMass, config, true_return
from tests.planners.llm_helpers import PLAN_A, PLAN_B, STATE, TASK, backend, one_step, plans_json, proposer


# ------------------------------------------------------------ answers, good and bad


def test_good_answer_becomes_candidates_in_order() -> None:
    p, plans, server = one_step([Reply(plans_json(PLAN_A, PLAN_B))])
    assert plans is not None and plans.dtype == np.float32 and plans.shape == (2, 5, 2)
    np.testing.assert_allclose(plans, np.array([PLAN_A, PLAN_B]), atol=1e-6)
    assert p.counts["requests"] == 1 and p.counts["answers"] == 1
    assert p.counts["proposed"] == 2 and p.counts["parsed"] == 2
    assert p.counts["late"] == 0 and p.fresh


BAD_ANSWERS = {
    # name: (assistant text, counters expected, plans kept)
    "prose_and_fence_around_json": (
        "Sure! Here are my plans:\n```json\n" + plans_json(PLAN_A) + "\n```\nGood luck [1].",
        {"parsed": 1}, 1),
    "malformed_json": ('{"plans": [[[0.1, 0.2], [0.3', {"bad_malformed_json": 1, "parsed": 0}, 0),
    "prose_only": ("I would move the arm to the left, then up.", {"bad_malformed_json": 1}, 0),
    "json_without_plans": ('{"answer": 42}', {"bad_no_plans": 1}, 0),
    "empty_list": ('{"plans": []}', {"bad_empty": 1, "proposed": 0}, 0),
    "wrong_lengths": (plans_json(PLAN_A[:3], PLAN_A + PLAN_A), {"padded": 1, "cut": 1, "parsed": 2}, 2),
    "wrong_action_dim": (plans_json([[0.1, 0.2, 0.3]] * 5, PLAN_B), {"rejected_wrong_action_dim": 1, "parsed": 1}, 1),
    "nan": ('{"plans": [[[NaN, 0.1]], [[0.2, 0.2]]]}', {"rejected_non_finite": 1, "parsed": 1}, 1),
    "infinity_and_overflow": ('{"plans": [[[1e999, 0]], [[Infinity, 0]], [[' + "9" * 400 + ', 0]]]}',
                              {"rejected_non_finite": 3, "parsed": 0}, 0),
    "huge_numbers": (plans_json([[1e300, 0.0]] * 5, PLAN_B), {"rejected_huge": 1, "parsed": 1}, 1),
    "out_of_bounds_is_clipped": (plans_json([[1.5, -3.0]] * 5), {"clipped": 10, "parsed": 1}, 1),
    "non_numeric_entries": ('{"plans": [[["left", 0.1]], [[true, 0.1]], [[null, 0.1]], [[{"a": 1}, 0]], [[0.3, 0.3]]]}',
                            {"rejected_non_numeric": 4, "parsed": 1}, 1),
    "empty_plan_and_scalar_plan": (plans_json([], 0.5, PLAN_B), {"rejected_empty_plan": 1, "rejected_wrong_shape": 1,
                                                                 "parsed": 1}, 1),
    "more_plans_than_asked": (plans_json(PLAN_A, PLAN_B, PLAN_A, PLAN_B), {"extra": 1, "parsed": 3}, 3),
    "bare_list_of_plans": (json.dumps([PLAN_A, PLAN_B]), {"parsed": 2}, 2),
}


@pytest.mark.parametrize("name", sorted(BAD_ANSWERS))
def test_answer_problems_are_counted_and_good_plans_kept(name: str) -> None:
    text, expected, kept = BAD_ANSWERS[name]
    p, plans, _ = one_step([Reply(text)])
    for key, value in expected.items():
        assert p.counts[key] == value, (key, p.stats)
    if kept:
        assert plans is not None and plans.shape == (kept, 5, 2)
        assert np.isfinite(plans).all() and (np.abs(plans) <= 1.0).all()
    else:
        assert plans is None


def test_short_plans_repeat_their_last_action() -> None:
    _, plans, _ = one_step([Reply(plans_json(PLAN_A[:3]))])
    assert plans is not None
    np.testing.assert_allclose(plans[0], np.array(PLAN_A[:3] + [PLAN_A[2]] * 2), atol=1e-6)


def test_one_dimensional_actions_may_be_scalars() -> None:
    task = TaskSpec("line", "go right", ("x",), ("push",), (-1.0,), (1.0,), 1, 3)
    parsed = parse_plans('{"plans": [[0.1, 0.2, 0.3], [[0.4], [0.5], [0.6]]]}', task, 3, 4)
    assert parsed.plans.shape == (2, 3, 1) and not parsed.rejected
    np.testing.assert_allclose(parsed.plans[:, :, 0], [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], atol=1e-6)


def test_parsing_checks_a_bounded_number_of_entries_whatever_the_answer_length() -> None:
    many = 20_000
    parsed = parse_plans(plans_json(*[PLAN_A] * many), TASK, 5, 3)
    assert parsed.plans.shape == (3, 5, 2) and parsed.proposed == many and parsed.extra == many - 3
    parsed = parse_plans(plans_json(*[[["left", 0.0]]] * many), TASK, 5, 3)
    assert parsed.rejected["non_numeric"] == 12 and parsed.extra == many - 12  # 4 checked per plan asked
    parsed = parse_plans(plans_json(PLAN_A * many), TASK, 5, 3)  # one plan of 100k steps: 5 rows checked
    assert parsed.plans.shape == (1, 5, 2) and parsed.cut == 1


def huge_completion(megabytes: int = 50) -> bytes:
    """A chat completion of ``megabytes`` MB: one valid plan repeated ~1M times."""
    plan = json.dumps(PLAN_A)
    content = '{"plans": [' + ", ".join([plan] * (megabytes * 2**20 // (len(plan) + 2))) + "]}"
    return completion(content, "test-model")


@pytest.mark.parametrize("send_length", [True, False], ids=["content_length", "until_close"])
def test_a_50_mb_answer_is_dropped_at_the_cap_without_stalling_the_step(send_length: bool) -> None:
    body = huge_completion()
    assert len(body) > 50 * 10**6
    with ScriptedChatServer([Reply(body=body, send_length=send_length)]) as server:
        # The step may wait 20 s for the answer: the unbounded client read all 50 MB and then
        # parse_plans ran for minutes on this thread (500 s, 2.9 GB peak).
        p = proposer(server.base_url, deadline_ms=20_000.0, timeout_s=5.0)
        tracemalloc.start()
        start = time.perf_counter()
        plans = p.candidates(STATE)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert plans is None and p.counts["failed_too_large"] == 1 and p.counts["answers"] == 0, p.stats
    assert elapsed < 5.0, elapsed
    assert peak < 16 * 2**20, peak  # about the 1 MiB cap read at most, never the 50 MB
    cap = OpenAIConfig(model="m").max_answer_bytes
    assert p.last_error.startswith("too_large") and f"max_answer_bytes={cap}" in p.last_error
    assert ("dropped unread" if send_length else f"dropped after {cap} bytes") in p.last_error
    assert len(server.requests) == 1  # not retried: a server that answered this once will again


def test_an_answer_just_under_the_cap_is_read_and_parsed() -> None:
    p, plans, _ = one_step([Reply(plans_json(PLAN_A), send_length=False)], max_answer_bytes=4096)
    assert plans is not None and p.counts["parsed"] == 1
    with ScriptedChatServer([Reply(plans_json(PLAN_A))]) as server:
        with pytest.raises(BackendError, match="too_large"):
            backend(server.base_url, max_answer_bytes=64).complete([{"role": "user", "content": "hi"}])


# ---------------------------------------------------------------- asynchrony


def test_planning_never_waits_beyond_the_deadline_and_late_answers_serve_later_plans() -> None:
    with ScriptedChatServer([Reply(plans_json(PLAN_A), delay_s=0.3)]) as server:
        p = proposer(server.base_url, deadline_ms=50.0)
        start = time.perf_counter()
        assert p.candidates(STATE) is None  # step 0 asks, waits 50 ms, plans without
        assert time.perf_counter() - start < 0.2
        time.sleep(0.4)
        start = time.perf_counter()
        plans = p.candidates(STATE)  # step 1: the late answer, shifted by one step
        assert time.perf_counter() - start < 0.15
    assert plans is not None and p.counts["late"] == 1
    np.testing.assert_allclose(plans[0], np.array(PLAN_A[1:] + [PLAN_A[-1]]), atol=1e-6)


def test_zero_deadline_never_blocks() -> None:
    with ScriptedChatServer([Reply(plans_json(PLAN_A), delay_s=0.5)]) as server:
        p = proposer(server.base_url, deadline_ms=0.0)
        start = time.perf_counter()
        for _ in range(20):
            p.candidates(STATE)
        assert time.perf_counter() - start < 0.25  # waiting even once would take 0.5 s
        assert p.counts["requests"] == 1  # one in flight at a time


def test_answers_shift_with_time_and_expire() -> None:
    with ScriptedChatServer([Reply(plans_json(PLAN_A))]) as server:
        p = proposer(server.base_url, every=100)
        windows = [p.candidates(STATE) for _ in range(7)]
    assert all(w is not None for w in windows[:5]) and windows[5] is None and windows[6] is None
    for offset in range(5):
        expected = PLAN_A[offset:] + [PLAN_A[-1]] * offset
        np.testing.assert_allclose(windows[offset][0], np.array(expected), atol=1e-6)
    assert p.counts["plans_with_candidates"] == 5 and p.counts["requests"] == 1


def test_stale_answer_is_dropped() -> None:
    with ScriptedChatServer([Reply(plans_json(PLAN_A), delay_s=0.2)]) as server:
        p = proposer(server.base_url, deadline_ms=0.0, every=100)
        for _ in range(6):  # more steps than the plan covers, before the answer lands
            p.candidates(STATE)
        time.sleep(0.4)
        assert p.candidates(STATE) is None
    assert p.counts["dropped_stale"] == 1 and p.counts["late"] == 1


def test_answer_for_a_finished_episode_is_dropped() -> None:
    with ScriptedChatServer([Reply(plans_json(PLAN_A), delay_s=0.2)]) as server:
        p = proposer(server.base_url, deadline_ms=0.0)
        p.candidates(STATE)
        p.reset()
        time.sleep(0.4)
        p.candidates(STATE)  # collects the old answer, then asks anew for the new episode
    assert p.counts["dropped_episode_over"] == 1 and p.counts["requests"] == 2


def test_requests_go_out_every_n_steps() -> None:
    with ScriptedChatServer([Reply(plans_json(PLAN_A))]) as server:
        p = proposer(server.base_url, every=3)
        for _ in range(7):  # steps 0, 3, 6 ask
            p.candidates(STATE)
    assert p.counts["requests"] == 3 and len(server.requests) == 3


def test_elite_and_chosen_rates() -> None:
    p = LLMProposer(backend("http://127.0.0.1:1/v1"), TASK)
    p.counts["plans_with_candidates"] = 4
    for chosen in (1.0, 0.0, 1.0, 0.0):
        p.record_plan({"num_candidates": 2.0, "candidate_in_elites": 1.0, "candidate_chosen": chosen,
                       "candidate_is_best": chosen, "candidate_weight": 0.1 + 0.5 * chosen})
    p.record_plan({"num_candidates": 0.0, "candidate_in_elites": 0.0, "candidate_weight": 0.0})
    assert p.stats["in_elites_rate"] == 1.0 and p.stats["chosen_rate"] == 0.5
    assert math.isclose(p.stats["elite_weight_mean"], 0.35)  # (0.6 + 0.1 + 0.6 + 0.1) / 4


def test_default_plans_cover_every_step_until_the_next_answer_with_a_zero_deadline() -> None:
    """An answer lands while the step that asked for it plans, so it first serves the next step; with
    plans of every + horizon steps it fills the whole horizon on each step until the next answer lands."""
    every, horizon = 4, TASK.horizon
    plan = [[0.01 * t, 0.0] for t in range(every + horizon)]
    with ScriptedChatServer([Reply(plans_json(plan))]) as server:
        p = LLMProposer(backend(server.base_url), TASK, ProposerConfig(num_candidates=1, every=every))
        assert p.plan_steps == every + horizon
        windows = []
        for _ in range(3 * every):
            windows.append(p.candidates(STATE))
            time.sleep(0.05)  # the planner's share of a step: the answer lands meanwhile
    assert windows[0] is None  # the first step of an episode has nothing yet
    assert all(w is not None for w in windows[1:])  # no gap at the steps that send the next request
    assert p.counts["padded"] == 0 and p.counts["dropped_stale"] == 0
    for step in range(1, 3 * every):  # offsets 1..every of each answer: real plan steps, never padding
        offset = (step - 1) % every + 1
        np.testing.assert_allclose(windows[step][0], np.array(plan[offset:offset + horizon]), atol=1e-6)


# ------------------------------------------------------------------- planner


def greedy_solver(request: Request) -> Reply:
    """A server that knows the dynamics z' = z + 0.1 a: reads the state from the prompt, answers the optimum."""
    text = request.body["messages"][-1]["content"]
    z = np.array([float(v) for v in re.findall(r"z\[\d\] = (\S+)", text)])
    plan = []
    for _ in range(5):
        a = np.clip((np.array(INTERIOR_GOAL) - z) / 0.1, -1.0, 1.0)
        z = z + 0.1 * a
        plan.append([round(float(x), 6) for x in a])
    return Reply(plans_json([[-1.0, 1.0]] * 5, plan))  # a poor plan beside the optimum


@pytest.mark.parametrize("kind", ["cem", "mppi"])
def test_proposal_from_a_server_that_knows_the_optimum_is_found_with_fewer_samples(kind: str) -> None:
    model = PointMass(INTERIOR_GOAL)
    optimum = true_return(model, INTERIOR_PLAN)
    with ScriptedChatServer(greedy_solver) as server:
        p = proposer(server.base_url)
        plans = p.candidates(STATE)
    assert plans is not None
    torch.manual_seed(0)
    tiny = make_planner(kind, model, 2, config(kind, num_samples=8, num_elites=1, iterations=1))
    action = tiny.plan(torch.zeros(1, 2), candidates=torch.from_numpy(plans))
    p.record_plan(tiny.last_stats)
    assert torch.allclose(action, INTERIOR_PLAN[0], atol=1e-5)
    assert math.isclose(tiny.last_stats["best_return"], optimum, rel_tol=1e-5)
    assert tiny.last_stats["candidate_chosen"] == 1.0 and p.stats["chosen_rate"] == 1.0

    torch.manual_seed(0)  # without it, 750x the samples still fall short
    big = make_planner(kind, model, 2, config(kind, num_samples=1024, iterations=6))
    big.plan(torch.zeros(1, 2))
    assert big.last_stats["best_return"] < optimum - 1e-3


# --------------------------------------------------------------------- judge


def test_combined_score_blends_rescaled_return_and_judge_score() -> None:
    np.testing.assert_allclose(combine_scores(np.array([1.0, 3.0]), np.array([10.0, 0.0]), 0.5), [0.5, 0.5])
    np.testing.assert_allclose(combine_scores(np.array([2.0, 2.0]), np.array([5.0, 10.0]), 1.0), [0.5, 1.0])
    assert np.argmax(combine_scores(np.array([0.0, 1.0]), np.array([10.0, 0.0]), 0.0)) == 1


@pytest.mark.parametrize("reply,weight,pick,counter", [
    (Reply('{"scores": [1, 9, 2]}'), 0.9, 1, "overruled"),  # the judge overrules the return
    (Reply('{"scores": [1, 9, 2]}'), 0.1, 2, "verdicts"),  # the return outweighs it
    (Reply('{"scores": [1, 9]}'), 0.9, None, "bad_wrong_length"),
    (Reply('{"scores": [1, "high", 2]}'), 0.9, None, "bad_non_numeric"),
    (Reply("nine, one, two"), 0.9, None, "bad_malformed_json"),
    (Reply(status=500), 0.9, None, "failed_server_error"),
    (Reply('{"scores": [1, 9, 2]}', delay_s=0.6), 0.9, None, "late"),
])
def test_judge_picks_by_combined_score_or_falls_back(reply: Reply, weight: float, pick: int | None,
                                                     counter: str) -> None:
    with ScriptedChatServer([reply]) as server:
        judge = LLMJudge(backend(server.base_url, max_retries=0), TASK, JudgeConfig(weight=weight, deadline_ms=100))
        start = time.perf_counter()
        got = judge.choose(np.array([0.0, 0.5, 1.0]), np.zeros((3, 2)))
        assert time.perf_counter() - start < 0.4  # the deadline is 0.1 s; a slow verdict takes 0.6 s
    assert got == pick and judge.counts[counter] == 1, judge.stats
    if pick is not None:
        prompt = server.requests[0].body["messages"][1]["content"]
        assert "Outcome 2:" in prompt and "0 (not at all) to 10" in prompt


def test_elite_rates_are_split_by_the_age_of_the_answer() -> None:
    """A plan is open-loop from the state it was asked for: the rate per age says whether candidates
    stop reaching the elites once the agent has moved on from that state."""
    with ScriptedChatServer([Reply(plans_json(PLAN_A))]) as server:
        p = proposer(server.base_url, every=100)
        for step in range(5):
            assert p.candidates(STATE) is not None
            assert p.age == step  # answered in time (deadline > 0): first served where it was asked
            p.record_plan({"num_candidates": 1.0, "candidate_in_elites": float(step < 2)})
    stats = p.stats
    assert stats["in_elites_rate_age0"] == 1.0 and stats["in_elites_rate_age1"] == 1.0
    assert stats["in_elites_rate_age2"] == 0.0 and stats["in_elites_rate_age4"] == 0.0
    assert "in_elites_rate_age5" not in stats  # no candidate that old
    assert stats["plans_age3"] == 1.0
