"""The OpenAI-compatible chat backend against a real server on 127.0.0.1: failures, retries, the protocol,
secrets kept out of prompts, and errors that name their kind."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from planners.llm import (BackendError, LLMProposer, OpenAIChatBackend, OpenAIConfig, ProposerConfig, TaskSpec,
                          judge_messages, openai_config_from_env, proposal_messages)
from tests.chat_server import Reply, ScriptedChatServer, closed_port
from tests.planners.llm_helpers import PLAN_A, STATE, TASK, backend, one_step, plans_json, proposer


# ------------------------------------------------------------- server failures


SERVER_FAILURES = {
    # name: (script, counter expected, requests the server saw)
    "http_500": ([Reply(status=500, body=b'{"error": "boom"}')], "failed_server_error", 3),
    "http_429": ([Reply(status=429, body=b"slow down", headers={"Retry-After": "0"})], "failed_rate_limited", 3),
    "connection_closed": ([Reply(close=True)], "failed_connection", 3),
    "slow": ([Reply(plans_json(PLAN_A), delay_s=1.5)], "failed_timeout", 1),  # timeout 0.5 s: not retried
    "not_a_completion": ([Reply(body=b'{"hello": "world"}')], "failed_bad_response", 1),
    "http_404": ([Reply(status=404, body=b"no such model")], "failed_http_error", 1),
}


@pytest.mark.parametrize("name", sorted(SERVER_FAILURES))
def test_server_failures_are_counted_and_retried_when_transient(name: str) -> None:
    script, counter, seen = SERVER_FAILURES[name]
    p, plans, server = one_step(script)
    assert plans is None
    assert p.counts[counter] == 1, p.stats
    assert len(server.requests) == seen  # 1 try + max_retries=2 for transient failures
    assert p.last_error.startswith(counter.removeprefix("failed_"))


@pytest.mark.parametrize("transient", [Reply(status=503), Reply(status=429, headers={"Retry-After": "0"}),
                                       Reply(close=True)])
def test_transient_failure_then_success_gives_candidates(transient: Reply) -> None:
    p, plans, server = one_step([transient, Reply(plans_json(PLAN_A))])
    assert plans is not None and plans.shape == (1, 5, 2)
    assert len(server.requests) == 2 and not any(k.startswith("failed") for k in p.counts)


def test_server_down_is_counted_and_planning_goes_on() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    p = proposer(url)
    start = time.perf_counter()
    assert p.candidates(STATE) is None
    assert time.perf_counter() - start < 1.0  # three refused connects and two short backoffs
    assert p.counts["failed_unreachable"] == 1 and p.counts["requests"] == 1


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    script = [Reply(status=429, headers={"Retry-After": "0.3"}), Reply(plans_json(PLAN_A))]
    start = time.perf_counter()
    _, plans, _ = one_step(script, max_backoff_s=1.0)
    assert plans is not None and time.perf_counter() - start >= 0.25
    with ScriptedChatServer([Reply(status=429, headers={"Retry-After": "100"}), Reply(plans_json(PLAN_A))]) as server:
        start = time.perf_counter()
        backend(server.base_url, max_backoff_s=0.1).complete([{"role": "user", "content": "hi"}])
        assert time.perf_counter() - start < 1.0  # capped at max_backoff_s, not 100 s


def test_server_without_json_mode_is_asked_again_without_it() -> None:
    script = [Reply(status=400, body=b'{"error": "unknown field response_format"}'), Reply(plans_json(PLAN_A))]
    p, plans, server = one_step(script)
    assert plans is not None
    assert "response_format" in server.requests[0].body and "response_format" not in server.requests[1].body
    p.candidates(STATE)  # the backend remembers: no further response_format


# ----------------------------------------------------------- protocol and secrets


def test_request_speaks_chat_completions_with_bearer_key_and_no_secret_in_prompt(monkeypatch) -> None:
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-9876543210")
    task = TaskSpec(**{**TASK.__dict__, "goal": "reach the goal; my token is tok-9876543210"})
    with ScriptedChatServer([Reply(plans_json(PLAN_A))]) as server:
        cfg = openai_config_from_env(server.base_url, "llama3.2", timeout_s=1.0)
        p = LLMProposer(OpenAIChatBackend(cfg), task, ProposerConfig(deadline_ms=3000))
        assert p.candidates(STATE) is not None
    assert "sk-test" not in repr(cfg)  # the key never shows in logs of the config
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {secret}"
    assert request.body["model"] == "llama3.2" and request.body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in request.body["messages"]] == ["system", "user"]
    assert secret.encode() not in request.raw and b"tok-9876543210" not in request.raw
    assert "[redacted]" in request.body["messages"][1]["content"]


def test_base_url_and_model_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://example.invalid:8080/v1")
    monkeypatch.setenv("OPENAI_MODEL", "qwen2.5")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = openai_config_from_env()
    assert (cfg.base_url, cfg.model, cfg.api_key) == ("http://example.invalid:8080/v1", "qwen2.5", "")
    assert openai_config_from_env("http://h:1/v1", "m").base_url == "http://h:1/v1"  # options win


def test_bad_backend_config_is_one_line() -> None:
    with pytest.raises(ValueError, match=r"^OpenAIConfig.base_url='localhost:11434' is invalid; accepted: .*http"):
        OpenAIConfig(base_url="localhost:11434", model="m")
    with pytest.raises(ValueError, match="model=''"):
        OpenAIConfig(model="")
    with pytest.raises(ValueError, match="every=0"):
        ProposerConfig(every=0)


def test_prompt_names_state_actions_bounds_timing_goal_and_sizes() -> None:
    (system, user) = proposal_messages(TASK, np.array([0.25, -1.5]), num_plans=3, plan_steps=7)
    text = user["content"]
    for needle in ("point-reach", "bring the point to the goal", "z[0] = 0.25", "z[1] = -1.5",
                   "push_x in [-1, 1]", "push_y in [-1, 1]", "held for 2 physics step", "looks 5 actions ahead",
                   "Propose 3 different", "exactly 7 steps", "list of 2 numbers"):
        assert needle in text, needle
    assert "JSON" in system["content"]


def test_prompts_count_a_one_step_horizon_in_the_singular() -> None:
    task = dataclasses.replace(TASK, horizon=1)
    (_, user) = proposal_messages(task, np.array([0.25, -1.5]), num_plans=3, plan_steps=11)
    assert "looks 1 action ahead" in user["content"]
    (_, judge) = judge_messages(task, np.zeros((2, 2)))
    assert "after 1 action of 2 different plans" in judge["content"]


def test_backend_errors_name_their_kind() -> None:
    with ScriptedChatServer([Reply(status=404, body=b"nope")]) as server:
        with pytest.raises(BackendError) as info:
            backend(server.base_url).complete([{"role": "user", "content": "hi"}])
    assert info.value.kind == "http_error" and "HTTP 404" in str(info.value)
