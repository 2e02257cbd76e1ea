"""Planning time per action with the LLM proposer, and how often the deadline held.

The agent (``agent.agent.WorldModelAgent`` at reacher-easy sizes, random weights,
``PlanConfig()`` budget: MPPI H=3 N=256 K=32 it=4) acts for ``--steps`` control
steps against a scripted OpenAI-compatible server on 127.0.0.1 that answers every
request with valid plans after 0, 200 ms or 2 s. Per step we time ``agent.act``
(proposer + planner, what the trainer logs as ``perf/plan_ms_per_action``) and the
proposer's own share (sending a request, waiting for it, reading an answer). The
deadline *held* on a step when the proposer's share was at most
``deadline + --slack-ms``. The first row is the agent without a proposer.

Usage::

    python benchmarks/llm_proposer.py                       # writes results/llm_proposer.{md,json}
    python benchmarks/llm_proposer.py --steps 100 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the scripted server the tests use

from agent.world_model_agent import WorldModelAgent  # noqa: E402
from agent.config import RunConfig  # noqa: E402
from chat_server import Reply, ScriptedChatServer  # noqa: E402
from planners.llm import TaskSpec, default_goal  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# reacher-easy (dm_control, state observations) as task_spec_from_env describes it.
TASK = TaskSpec(env_name="reacher-easy", goal=default_goal("reacher-easy"),
                obs_field_names=("position[0]", "position[1]", "to_target[0]", "to_target[1]",
                                 "velocity[0]", "velocity[1]"),
                action_names=("shoulder", "wrist"), action_low=(-1.0, -1.0), action_high=(1.0, 1.0),
                action_repeat=2, horizon=RunConfig().plan.plan_horizon)
ANSWER = json.dumps({"plans": [[[0.5, -0.5]] * 10, [[-0.2, 0.3]] * 10, [[0.0, 0.9]] * 10, [[1.0, 1.0]] * 10]})


def run_setting(delay_s: float | None, deadline_ms: float, steps: int, slack_ms: float) -> dict[str, float | str]:
    """Act ``steps`` times; ``delay_s=None`` means no proposer at all."""
    cfg = RunConfig()
    if delay_s is not None:
        cfg.plan.proposer, cfg.plan.llm_model, cfg.plan.llm_deadline_ms = "llm", "scripted", deadline_ms
    with ScriptedChatServer([Reply(ANSWER, delay_s=delay_s or 0.0)]) as server:
        cfg.plan.llm_base_url = server.base_url
        torch.manual_seed(0)
        agent = WorldModelAgent((len(TASK.obs_field_names),), TASK.action_dim, cfg.validate(), torch.device("cpu"),
                                task=TASK)
        agent.world_model.eval()
        waits: list[float] = []
        if agent.proposer is not None:
            agent.proposer.candidates = _timed(agent.proposer.candidates, waits)  # type: ignore[method-assign]
        rng, obs_rng = np.random.default_rng(0), np.random.default_rng(1)
        agent.planner.plan(torch.zeros(1, 6))  # warm-up of the planner alone: no request in flight yet
        agent.reset()
        totals = []
        for _ in range(steps):
            obs = obs_rng.standard_normal(6).astype(np.float32)
            start = time.perf_counter()
            agent.act(obs, explore=False, rng=rng)
            totals.append(time.perf_counter() - start)
        agent.close()
    stats = agent.llm_stats()
    row: dict[str, float | str] = {
        "server_delay": "no proposer" if delay_s is None else f"{1000 * delay_s:g} ms",
        "deadline_ms": float("nan") if delay_s is None else deadline_ms,
        "ms_per_action_mean": 1000 * statistics.fmean(totals),
        "ms_per_action_p95": 1000 * float(np.percentile(totals, 95)),
        "ms_per_action_max": 1000 * max(totals),
    }
    if waits:
        row |= {
            "proposer_ms_max": 1000 * max(waits),
            "deadline_held": float(np.mean([1000 * w <= deadline_ms + slack_ms for w in waits])),
            "steps_with_llm_plans": stats.get("plans_with_candidates", 0.0) / steps,
            "requests": stats.get("requests", 0.0),
            "answers": stats.get("answers", 0.0),
            "late": stats.get("late", 0.0),
            "dropped_stale": stats.get("dropped_stale", 0.0),
            "in_elites_rate": stats.get("in_elites_rate", float("nan")),
        }
    return row


def _timed(fn: Callable, sink: list[float]) -> Callable:
    def wrapper(*args: object) -> object:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            sink.append(time.perf_counter() - start)

    return wrapper


COLUMNS = [("server_delay", "server answers after", "{}"), ("deadline_ms", "deadline ms", "{:g}"),
           ("ms_per_action_mean", "ms/action mean", "{:.1f}"), ("ms_per_action_p95", "p95", "{:.1f}"),
           ("ms_per_action_max", "max", "{:.1f}"), ("proposer_ms_max", "proposer ms max", "{:.1f}"),
           ("deadline_held", "deadline held", "{:.1%}"), ("steps_with_llm_plans", "steps with LLM plans", "{:.0%}"),
           ("requests", "requests", "{:g}"), ("answers", "answers", "{:g}"), ("late", "late", "{:g}"),
           ("dropped_stale", "dropped stale", "{:g}"), ("in_elites_rate", "LLM plan in elites", "{:.0%}")]


def table(rows: list[dict[str, float | str]]) -> list[str]:
    lines = ["| " + " | ".join(title for _, title, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [fmt.format(row[key]) if key in row and row[key] == row[key] else "-" for key, _, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_results(rows: list[dict[str, float | str]], command: str, meta: dict[str, object]) -> None:
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "llm_proposer.json").write_text(json.dumps({"command": command, **meta, "rows": rows}, indent=2) + "\n")
    text = [
        "# LLM proposer: planning time per action and the deadline", "",
        f"Command: `{command}`", "",
        f"{meta['setup']}", "",
        f"Load average at start/end: {meta['loadavg']}. torch threads: 1. Note: {meta['note']}", "",
        *table(rows), "",
    ]
    (RESULTS_DIR / "llm_proposer.md").write_text("\n".join(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="control steps per row (default: 300)")
    parser.add_argument("--delays", type=float, nargs="+", default=[0.0, 0.2, 2.0], help="server delays in s")
    parser.add_argument("--deadlines-ms", type=float, nargs="+", default=[0.0, 50.0])
    parser.add_argument("--slack-ms", type=float, default=5.0, help="allowance over the deadline for "
                        "building the prompt and starting the request thread (default: 5)")
    parser.add_argument("--note", default="", help="free-text remark stored with the results")
    parser.add_argument("--no-write", action="store_true", help="print only, keep results/ untouched")
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_start = "%.2f" % os.getloadavg()[0]
    rows = [run_setting(None, 0.0, args.steps, args.slack_ms)]
    for deadline in args.deadlines_ms:
        for delay in args.delays:
            rows.append(run_setting(delay, deadline, args.steps, args.slack_ms))
            print(table(rows[-1:])[-1], flush=True)
    print("\n".join(table(rows)))
    meta = {
        "setup": (f"WorldModelAgent at reacher-easy sizes (obs 6, action 2, random weights), PlanConfig() budget "
                  f"(MPPI H={TASK.horizon} N={RunConfig().plan.num_samples} it={RunConfig().plan.iterations}, bf16), "
                  f"{args.steps} control steps per row, --llm-every {RunConfig().plan.llm_every}, 4 valid plans per "
                  f"answer, deadline held = proposer share <= deadline + {args.slack_ms:g} ms."),
        "loadavg": f"{load_start} / {os.getloadavg()[0]:.2f}",
        "note": args.note or "none",
    }
    if not args.no_write:
        write_results(rows, "python " + shlex.join(sys.argv), meta)


if __name__ == "__main__":
    main()
