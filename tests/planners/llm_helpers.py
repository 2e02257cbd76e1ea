"""What the LLM proposer and backend tests share: a small task, plans, and a backend and proposer pointed
at a scripted chat server."""

from __future__ import annotations

import json

import numpy as np

from planners.llm import LLMProposer, OpenAIChatBackend, OpenAIConfig, ProposerConfig, TaskSpec
from tests.chat_server import Reply, ScriptedChatServer


TASK = TaskSpec(env_name="point-reach", goal="bring the point to the goal", obs_field_names=("z[0]", "z[1]"),
                action_names=("push_x", "push_y"), action_low=(-1.0, -1.0), action_high=(1.0, 1.0),
                action_repeat=2, horizon=5)
STATE = np.array([0.0, 0.0], dtype=np.float32)
PLAN_A = [[0.1 * t, -0.1 * t] for t in range(5)]  # distinct rows: shifts are visible
PLAN_B = [[0.5, 0.5]] * 5


def plans_json(*plans: object) -> str:
    return json.dumps({"plans": list(plans)})


def backend(url: str, **kw: object) -> OpenAIChatBackend:
    options = dict(model="test-model", timeout_s=0.5, max_retries=2, backoff_s=0.01, max_backoff_s=0.05)
    options.update(kw)
    return OpenAIChatBackend(OpenAIConfig(base_url=url, **options))  # type: ignore[arg-type]


def proposer(url: str, deadline_ms: float = 3000.0, every: int = 10, **kw: object) -> LLMProposer:
    cfg = ProposerConfig(num_candidates=3, every=every, deadline_ms=deadline_ms, plan_steps=5)
    return LLMProposer(backend(url, **kw), TASK, cfg)


def one_step(script: list[Reply], **kw: object) -> tuple[LLMProposer, np.ndarray | None, ScriptedChatServer]:
    """One control step against a server playing ``script``; the answer is awaited (deadline 3 s)."""
    with ScriptedChatServer(script) as server:
        p = proposer(server.base_url, **kw)
        plans = p.candidates(STATE)
    return p, plans, server
