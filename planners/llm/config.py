"""Dataclass configs of the LLM proposer, the judge and the two backends, validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from planners.config import _check_float, _check_int, _fail


@dataclass(frozen=True)
class ProposerConfig:
    """When to ask the language model, and what to ask it for."""

    num_candidates: int = 4  # plans asked for per request (K)
    every: int = 10  # control steps between requests: the LLM is slow, the planner is not
    # How long the step that sends a request may wait for its answer. 0 = never
    # wait: an answer is used by the first plan after it arrives.
    deadline_ms: float = 0.0
    # Steps per proposed plan; 0 = every + planner horizon, so that an answer landing the step after
    # its request still fills the planner's whole horizon at every step until the next one lands
    # (it is shifted as they pass).
    plan_steps: int = 0

    def __post_init__(self) -> None:
        _check_int(self, "num_candidates", 1)
        _check_int(self, "every", 1)
        _check_float(self, "deadline_ms", 0.0, math.inf, high_open=True)
        _check_int(self, "plan_steps", 0)


@dataclass(frozen=True)
class JudgeConfig:
    """The optional judge: the LLM scores predicted final states 0-10 for the goal."""

    weight: float = 0.0  # share of the judge's score in the combined score; 0 = judge off
    deadline_ms: float = 2000.0  # how long a step waits for a verdict; later ones are dropped
    max_plans: int = 4  # plans shown to the judge (the planner's, then the best LLM ones)

    def __post_init__(self) -> None:
        _check_float(self, "weight", 0.0, 1.0)
        _check_float(self, "deadline_ms", 0.0, math.inf, high_open=True)
        _check_int(self, "max_plans", 2)


@dataclass(frozen=True)
class OpenAIConfig:
    """An OpenAI-compatible chat-completions server (Ollama, llama-server, vLLM, hosted APIs)."""

    base_url: str = "http://localhost:11434/v1"  # up to and including /v1
    model: str = ""
    api_key: str = field(default="", repr=False)  # sent as a Bearer token; never logged
    timeout_s: float = 30.0  # per connect / socket read
    max_retries: int = 2  # extra tries after 429, 5xx, refused or reset connections
    backoff_s: float = 0.5  # first retry delay; doubles each retry
    max_backoff_s: float = 8.0  # cap, also on a server's Retry-After
    json_mode: bool = True  # ask for response_format json_object; dropped if the server refuses it
    temperature: float = 0.7
    max_tokens: int = 1024
    # Bytes of an HTTP answer read at most; a longer one is dropped (failed_too_large) unparsed.
    # 1 MiB is ~250x a 1024-token answer, and bounds the memory and time a server can cost us.
    max_answer_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://")):
            _fail(self, "base_url", self.base_url, "an http:// or https:// URL, e.g. http://localhost:11434/v1")
        if not isinstance(self.model, str) or not self.model.strip():
            _fail(self, "model", self.model, "a model name served at base_url, e.g. 'llama3.2'")
        _check_float(self, "timeout_s", 0.0, math.inf, low_open=True, high_open=True)
        _check_int(self, "max_retries", 0)
        _check_float(self, "backoff_s", 0.0, math.inf, high_open=True)
        _check_float(self, "max_backoff_s", 0.0, math.inf, high_open=True)
        if not isinstance(self.json_mode, bool):
            _fail(self, "json_mode", self.json_mode, "True or False")
        _check_float(self, "temperature", 0.0, 2.0)
        _check_int(self, "max_tokens", 1)
        _check_int(self, "max_answer_bytes", 1)


@dataclass(frozen=True)
class TransformersConfig:
    """A local causal LM in Hugging Face format, run in this process."""

    model_path: str = ""  # a directory with config.json, weights and tokenizer files
    max_new_tokens: int = 512
    temperature: float = 0.0  # 0 = greedy decoding
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not isinstance(self.model_path, str) or not self.model_path.strip():
            _fail(self, "model_path", self.model_path, "a directory holding a Hugging Face causal LM")
        _check_int(self, "max_new_tokens", 1)
        _check_float(self, "temperature", 0.0, 2.0)
