"""Chat backends: an OpenAI-compatible HTTP server, or a local Hugging Face causal LM.

The HTTP client is the standard library's ``http.client``: the ``openai`` backend
then needs nothing installed, and it gives direct control of timeouts, retries and
status codes without a client library's own retry and proxy behaviour in between.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
from typing import Any, Protocol
from urllib.parse import urlsplit

from planners.llm.config import OpenAIConfig, TransformersConfig
from planners.llm.prompt import Message

INSTALL_HINT = "pip install 'wm-agent[llm]'"
_RETRYABLE = ("unreachable", "connection", "rate_limited", "server_error")


class BackendError(Exception):
    """A failed completion; ``kind`` names the failure for the counters."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


class MissingExtraError(ImportError):
    """A backend's optional packages are not installed (message is one line)."""


class ChatBackend(Protocol):
    """Anything that turns chat messages into the assistant's reply text."""

    def complete(self, messages: list[Message]) -> str:
        """The reply to ``messages``; raises :class:`BackendError` on failure."""
        ...


class OpenAIChatBackend:
    """POST ``{base_url}/chat/completions`` with bounded retries and exponential backoff."""

    def __init__(self, config: OpenAIConfig) -> None:
        self.config = config
        parts = urlsplit(config.base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._path = parts.path.rstrip("/") + "/chat/completions"
        self._json_mode = config.json_mode
        self._closed = threading.Event()  # interrupts backoff sleeps on close()

    def close(self) -> None:
        self._closed.set()

    def complete(self, messages: list[Message]) -> str:
        last: BackendError | None = None
        for attempt in range(self.config.max_retries + 1):
            if attempt and self._closed.wait(self._delay(attempt, last)):
                break
            try:
                return self._attempt(messages)
            except BackendError as exc:
                last = exc
                if exc.kind not in _RETRYABLE:
                    raise
        assert last is not None
        raise last

    def _attempt(self, messages: list[Message]) -> str:
        status, headers, body = self._post(self._payload(messages))
        if status in (400, 422) and self._json_mode and b"response_format" in body:
            self._json_mode = False  # this server has no JSON mode: ask in the prompt only
            status, headers, body = self._post(self._payload(messages))
        if status == 200:
            return _reply_text(body)
        text = body[:200].decode("utf-8", "replace")
        if status == 429:
            raise _RateLimited(headers.get("retry-after"), text)
        kind = "server_error" if status >= 500 else "http_error"
        raise BackendError(kind, f"HTTP {status} from {self.config.base_url}: {text}")

    def _payload(self, messages: list[Message]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.config.model,
            "messages": messages,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            "stream": False,
        }
        if self._json_mode:
            payload["response_format"] = {"type": "json_object"}
        return payload

    def _post(self, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.config.timeout_s)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        try:
            conn.request("POST", self._path, body=json.dumps(payload).encode(), headers=headers)
            response = conn.getresponse()
            body = self._read_bounded(response)
            return response.status, {k.lower(): v for k, v in response.getheaders()}, body
        except TimeoutError as exc:  # a slow server stays slow: not retried
            raise BackendError("timeout", f"no answer from {self.config.base_url} within "
                                          f"{self.config.timeout_s:g} s") from exc
        except ConnectionRefusedError as exc:
            raise BackendError("unreachable", f"{self.config.base_url} refused the connection") from exc
        except (OSError, http.client.HTTPException) as exc:  # reset, closed mid-answer, DNS
            raise BackendError("connection", f"{type(exc).__name__} talking to {self.config.base_url}") from exc
        finally:
            conn.close()

    def _read_bounded(self, response: http.client.HTTPResponse) -> bytes:
        """The body, or BackendError ``too_large`` past ``max_answer_bytes`` (never more is read)."""
        cap = self.config.max_answer_bytes
        length = response.getheader("content-length")
        if length is not None and length.isdigit() and int(length) > cap:
            raise BackendError("too_large", f"answer of {int(length)} bytes from {self.config.base_url} "
                                            f"exceeds max_answer_bytes={cap}; dropped unread")
        body = response.read(cap + 1)
        if len(body) > cap:
            raise BackendError("too_large", f"answer from {self.config.base_url} exceeds "
                                            f"max_answer_bytes={cap}; dropped after {cap} bytes")
        return body

    def _delay(self, attempt: int, error: BackendError | None) -> float:
        cfg = self.config
        delay = cfg.backoff_s * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)  # jitter: no lockstep retries
        if isinstance(error, _RateLimited) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return min(delay, cfg.max_backoff_s)


class _RateLimited(BackendError):
    def __init__(self, retry_after: str | None, text: str) -> None:
        super().__init__("rate_limited", f"HTTP 429: {text}")
        try:
            self.retry_after: float | None = float(retry_after) if retry_after is not None else None
        except ValueError:
            self.retry_after = None  # an HTTP date: fall back to our own backoff


def _reply_text(body: bytes) -> str:
    try:
        content = json.loads(body)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise BackendError("bad_response", "the server's body is not a chat completion") from exc
    if not isinstance(content, str):
        raise BackendError("bad_response", "the completion has no text content")
    return content


class TransformersChatBackend:
    """A local causal LM from a directory (Hugging Face format), generating in this process."""

    def __init__(self, config: TransformersConfig) -> None:
        transformers = require_transformers()
        if not os.path.isdir(config.model_path):
            raise ValueError(f"llm model path {config.model_path!r} is not a directory; accepted: a "
                             "directory with a Hugging Face causal LM (config.json, weights, tokenizer)")
        self.config = config
        # local_files_only: a path must never turn into a download from a model hub.
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(config.model_path, local_files_only=True)
        self.model = transformers.AutoModelForCausalLM.from_pretrained(config.model_path, local_files_only=True)
        self.model.to(config.device).eval()
        self._lock = threading.Lock()  # one generation at a time (proposer and judge share it)

    def complete(self, messages: list[Message]) -> str:
        import torch

        ids = self._encode(messages)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        sample = self.config.temperature > 0
        with self._lock, torch.no_grad():
            try:
                out = self.model.generate(
                    ids, attention_mask=torch.ones_like(ids), max_new_tokens=self.config.max_new_tokens,
                    do_sample=sample, temperature=self.config.temperature if sample else None,
                    pad_token_id=pad,
                )
            except (RuntimeError, ValueError, IndexError) as exc:
                raise BackendError("generation", f"{type(exc).__name__}: {exc}") from exc
        return self.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)

    def _encode(self, messages: list[Message]) -> Any:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:  # base models: a plain transcript ending where the assistant speaks
            text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
        ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        # Keep the prompt's end (the question) when it exceeds the model's context.
        limit = getattr(self.model.config, "max_position_embeddings", None) or getattr(
            self.model.config, "n_positions", None)
        if limit:
            ids = ids[:, -max(1, limit - self.config.max_new_tokens):]
        return ids.to(self.config.device)


def require_transformers() -> Any:
    """Import ``transformers`` or raise a one-line :class:`MissingExtraError` saying what to install."""
    try:
        import transformers
    except ImportError as exc:
        raise MissingExtraError(f"--llm-backend transformers needs the transformers package: {INSTALL_HINT}") from exc
    return transformers


def make_backend(name: str, config: OpenAIConfig | TransformersConfig) -> ChatBackend:
    """Build the ``openai`` or ``transformers`` backend from its config."""
    if name == "openai" and isinstance(config, OpenAIConfig):
        return OpenAIChatBackend(config)
    if name == "transformers" and isinstance(config, TransformersConfig):
        return TransformersChatBackend(config)
    raise ValueError(f"llm backend {name!r} with {type(config).__name__} is invalid; accepted: "
                     "'openai' with OpenAIConfig or 'transformers' with TransformersConfig")


def openai_config_from_env(base_url: str = "", model: str = "", api_key_env: str = "OPENAI_API_KEY",
                           **kwargs: Any) -> OpenAIConfig:
    """OpenAIConfig whose empty fields come from ``OPENAI_BASE_URL``, ``OPENAI_MODEL`` and ``api_key_env``."""
    return OpenAIConfig(
        base_url=base_url or os.environ.get("OPENAI_BASE_URL", "") or OpenAIConfig.base_url,
        model=model or os.environ.get("OPENAI_MODEL", ""),
        api_key=os.environ.get(api_key_env, "") if api_key_env else "",
        **kwargs,
    )

