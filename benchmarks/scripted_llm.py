"""A stand-in for a language model: scripted planners of known quality behind an OpenAI-compatible chat server.

The server (loopback only) answers ``POST /v1/chat/completions`` the way Ollama or
llama-server would, so the agent runs unchanged (``--proposer llm --llm-base-url
http://127.0.0.1:PORT/v1 --llm-model scripted-<kind>``). Its "model" reads the prompt
the agent really sends (``planners/llm/prompt.py``: the task name, the state by field
name, the action names and bounds, the action repeat, how many plans of how many steps)
and answers with the JSON ``{"plans": ...}`` that ``planners/llm/parse.py`` accepts, or,
for a judge prompt, ``{"scores": ...}``. The model name picks the quality:

- ``scripted-informed``: a controller that knows the task. reacher: a joint-space PD
  controller toward the joint angles that put the fingertip on the target (inverse
  kinematics of the two links, lengths read from dm_control's ``reacher.xml``), with
  computed torque through the arm's inertia (from the same XML) and joint speeds capped
  below the family's 4 rad/s safety limit, rolled over the plan's steps with a simple model
  of the arm (the inertia at each pose, joint damping, no Coriolis terms). The K plans
  differ in gain and, every 4th, in the elbow branch. Judge: 10 at the target, falling
  with the predicted distance.
- ``scripted-noisy``: the same controller aimed at a target misjudged by ``NOISY_TARGET_SD``
  per plan, plus ``NOISY_ACTION_SD`` of Gaussian noise on every action. Judge: the
  informed score plus noise.
- ``scripted-random``: actions uniform within the bounds. Judge: uniform scores.
- ``scripted-adversarial``: half the plans move the fingertip straight away from the target
  (joint velocities along the Jacobian transpose, commanded at 10 rad/s), half spin both
  joints at full torque (the joint damping caps them near 5 rad/s, past the 4 rad/s safety
  limit). Judge: prefers the outcomes farthest from the target.

cartpole (dm_control ``cartpole-*``): the informed plan is an energy-pumping swing-up
that hands over to a PD balance near upright, rolled over the plan's steps with the
frictionless cart-pole equations (masses and lengths from ``cartpole.xml``); noisy,
random and adversarial (pushes the cart into the wall and keeps the pole down) as above.

Answers are deterministic: each one's noise is seeded by the prompt's text and the model
name. A prompt the script cannot read (another task, a changed prompt format) is answered
with HTTP 400 and a one-line reason, which the agent counts as ``llm/failed_http_error``.

Standalone (e.g. to point a manual ``wm-agent train`` at it)::

    python benchmarks/scripted_llm.py --port 8080 --max-seconds 3600
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too
from benchmarks.scripted_prompts import PromptError, parse_judge_prompt, parse_proposal_prompt  # noqa: E402
from benchmarks.scripted_tasks import load_task_models, task_functions  # noqa: E402

KINDS = ("informed", "noisy", "random", "adversarial")
MODEL_PREFIX = "scripted-"
MAX_REQUEST_BYTES = 1 << 20
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SCORES_START = '{"scores"'


# ------------------------------------------------------------------ the model

def kind_of(model: str) -> str:
    kind = model[len(MODEL_PREFIX):] if model.startswith(MODEL_PREFIX) else ""
    if kind not in KINDS:
        raise PromptError(f"unknown model {model!r}; served: {', '.join(MODEL_PREFIX + k for k in KINDS)}")
    return kind


def answer(model: str, messages: list[dict[str, str]]) -> str:
    """The assistant's reply text to a proposer or judge conversation, as ``model`` would give it."""
    kind = kind_of(model)
    system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
    user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    rng = np.random.default_rng(zlib.crc32(f"{model}\n{user}".encode()))
    if system.startswith("You judge"):
        judge = parse_judge_prompt(user)
        return json.dumps({"scores": task_functions(judge.env_name)[1](kind, judge, rng)})
    req = parse_proposal_prompt(user)
    plans = task_functions(req.env_name)[0](kind, req, rng)
    clipped = [np.clip(p, req.low, req.high).round(3).tolist() for p in plans]
    return json.dumps({"plans": clipped})


# ------------------------------------------------------------------ the server

def completion_body(content: str, model: str) -> bytes:
    return json.dumps({
        "id": f"chatcmpl-scripted-{time.monotonic_ns()}", "object": "chat.completion", "created": int(time.time()),
        "model": model, "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }).encode()


class ScriptedLLMServer:
    """``with ScriptedLLMServer() as server: ... server.base_url ...``; serves until closed or ``max_seconds``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, max_seconds: float | None = None) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"host {host!r} is not a loopback address; accepted: {', '.join(LOOPBACK)}")
        self.counts: Counter[str] = Counter()  # '<model> proposals|judgements|errors'
        self.max_seconds = max_seconds
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._timer: threading.Timer | None = None
        self.last_error = ""

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "ScriptedLLMServer":
        # Read the task models now: the first answer of a run must not be late by the XML's loading time
        # (an answer later than its plan's steps is dropped as stale).
        load_task_models()
        self._thread.start()
        if self.max_seconds is not None:
            self._timer = threading.Timer(self.max_seconds, self._httpd.shutdown)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._httpd.shutdown()
        self._httpd.server_close()

    def wait(self) -> None:
        """Block until the server stops (``max_seconds`` passed)."""
        self._thread.join()

    def _count(self, key: str, error: str = "") -> None:
        with self._lock:
            self.counts[key] += 1
            if error:
                self.last_error = error

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _error(self, status: int, message: str) -> None:
                self._send(status, json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode())

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.rstrip("/").endswith("/models"):
                    data = [{"id": MODEL_PREFIX + k, "object": "model", "owned_by": "scripted"} for k in KINDS]
                    self._send(200, json.dumps({"object": "list", "data": data}).encode())
                else:
                    self._error(404, f"no such path {self.path}")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_REQUEST_BYTES:
                    self.close_connection = True
                    return self._error(413, f"request of {length} bytes; accepted: up to {MAX_REQUEST_BYTES}")
                raw = self.rfile.read(length)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._error(404, f"no such path {self.path}; served: /v1/chat/completions")
                model = "?"
                try:
                    body = json.loads(raw)
                    model = str(body.get("model", ""))
                    messages = body.get("messages")
                    if not isinstance(messages, list):
                        raise PromptError("the request has no 'messages' list")
                    content = answer(model, messages)
                except (ValueError, TypeError, AttributeError) as exc:  # PromptError is a ValueError
                    server._count(f"{model} errors", f"{type(exc).__name__}: {exc}")
                    return self._error(400, f"{type(exc).__name__}: {exc}")
                server._count(f"{model} {'judgements' if content.startswith(SCORES_START) else 'proposals'}")
                self._send(200, completion_body(content, model))

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", choices=LOOPBACK)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="stop serving after this long (default: 1 h)")
    args = parser.parse_args()
    with ScriptedLLMServer(args.host, args.port, args.max_seconds) as server:
        print(f"serving {', '.join(MODEL_PREFIX + k for k in KINDS)} at {server.base_url} for {args.max_seconds:g} s",
              flush=True)
        try:
            server.wait()
        except KeyboardInterrupt:
            pass
    print(json.dumps(dict(server.counts)))


if __name__ == "__main__":
    main()
