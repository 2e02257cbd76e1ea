"""Time per action of our CEM/MPPI vs torchrl's CEMPlanner on the same latent model.

Both sides call the very same model's ``initial_latent`` / ``next_latent_and_reward``
with the same sample budget; calls are interleaved (order rotated every
repetition) and the median time per action is reported. Settings (``--settings``):

- ``agent``: the operating point the agent actually uses: its own
  ``agent.world_model.LatentWorldModel`` at reacher-easy's sizes (obs 6, action 2,
  ``ModelConfig()`` defaults: latent 128, hidden 256, SimNorm, two-hot reward head;
  random weights, eval mode) with the budget of ``agent.config.PlanConfig()``
  (H=3 N=256 K=32 it=4). No policy prior and no terminal value on our side, so
  both planners compute the same thing.
- ``synthetic-h5`` / ``synthetic-h16``: a synthetic ``MLPLatentModel`` (dynamics
  MLP 2x512 + reward MLP 1x512, latent 64, action 6), N=512 K=64 it=6 at H=5 / H=16.

Usage::

    python benchmarks/planning_speed.py                 # full run, writes results/
    python benchmarks/planning_speed.py --threads 2 --reps 3 --no-write   # quick look
    python benchmarks/planning_speed.py --settings agent --threads 1 --no-write

torchrl is optional: without it only our timings are printed.

The settings, models and both sides' planners are built in ``benchmarks/planning_workloads.py``;
the table rows, the summary and results/planning_speed.{md,json} are written by
``benchmarks/planning_report.py``. This script measures and runs.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.config import ModelConfig  # noqa: E402
from benchmarks.planning_report import TABLE_HEADER, format_rows, summary, versions, write_results  # noqa: E402
from benchmarks.planning_workloads import (  # noqa: E402
    AGENT_ACTION_DIM,
    AGENT_OBS_DIM,
    SETTING_NAMES,
    AgentLatentModel,
    FreeModel,
    MLPLatentModel,
    Setting,
    build_all,
    build_model,
    build_ours,
    build_torchrl_planner,
    cpu_autocast,
    make_settings,
)


# ------------------------------------------------------------------ measuring


def time_interleaved(
    fns: dict[str, Callable[[torch.Tensor], torch.Tensor]], reps: int, model: MLPLatentModel | AgentLatentModel
) -> dict[str, dict[str, float]]:
    """Median seconds per action and model rows per action of each planner."""
    names = list(fns)
    times: dict[str, list[float]] = {n: [] for n in names}
    rows: dict[str, int] = {}
    for name in names:  # warm-up: allocator, oneDNN kernels, torchrl spec caches
        fns[name](torch.randn(1, model.obs_dim))
    for rep in range(reps):
        order = names[rep % len(names):] + names[: rep % len(names)]
        for name in order:
            obs = torch.randn(1, model.obs_dim)
            model.rows_evaluated = 0
            t0 = time.perf_counter()
            fns[name](obs)
            times[name].append(time.perf_counter() - t0)
            rows[name] = model.rows_evaluated
    return {
        n: {"median_s": statistics.median(times[n]), "min_s": min(times[n]), "rows": rows[n], "reps": reps}
        for n in names
    }


def bf16_accuracy(model: MLPLatentModel | AgentLatentModel, s: Setting) -> dict[str, float]:
    """How much bf16 autocast perturbs returns and the elite set of one population."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        z0 = model.initial_latent(torch.randn(1, model.obs_dim, generator=gen))
    actions = (2.0 * torch.randn(s.horizon, s.num_samples, model.action_dim, generator=gen)).clamp(-1, 1)

    def returns(bf16: bool) -> torch.Tensor:
        with torch.no_grad(), cpu_autocast(bf16):
            z = z0.expand(s.num_samples, -1)
            g = torch.zeros(s.num_samples)
            for t in range(s.horizon):
                z, r = model.next_latent_and_reward(z, actions[t])
                g += 0.99**t * r.float()
        return g

    g32, g16 = returns(False), returns(True)
    top32 = set(g32.topk(s.num_elites).indices.tolist())
    top16 = set(g16.topk(s.num_elites).indices.tolist())
    return {
        "max_abs_return_error": float((g32 - g16).abs().max()),
        "return_std_across_samples": float(g32.std()),
        "elite_overlap": len(top32 & top16) / s.num_elites,
    }


def planner_overhead(s: Setting, threads: int) -> dict[str, float | str | None]:
    """Median ms per action of ours vs torchrl CEM on the near-free model (fp32), same dims as the setting."""
    if s.model == "agent":
        model = FreeModel(AGENT_OBS_DIM, ModelConfig().latent_dim, AGENT_ACTION_DIM).eval()
    else:
        model = FreeModel().eval()
    fns = {"ours_cem_fp32": build_ours(model, s, "cem", False)}
    trl = build_torchrl_planner(model, s, False)
    if trl is not None:
        fns["torchrl_cem_fp32"] = trl
    timing = time_interleaved(fns, 15, model)
    return {
        "threads": threads,
        "setting": s.name,
        "horizon": s.horizon,
        "ours_cem_ms": timing["ours_cem_fp32"]["median_s"] * 1e3,
        "torchrl_cem_ms": timing["torchrl_cem_fp32"]["median_s"] * 1e3 if trl else None,
    }


def run(threads_list: list[int], settings: list[Setting], compiled: bool = False) -> dict[str, object]:
    """Measure every (threads, setting) pair; returns a JSON-able dict."""
    models = {s.name: build_model(s) for s in settings}
    results, overhead = [], []
    for threads in threads_list:
        torch.set_num_threads(threads)
        for s in settings:
            model = models[s.name]
            overhead.append(planner_overhead(s, threads))
            load_before = _loadavg()
            timing = time_interleaved(build_all(model, s, compiled and s.model == "agent"), s.reps, model)
            results.append(
                {
                    "threads": threads,
                    "setting": asdict(s),
                    "timing": timing,
                    "loadavg_1min_before_after": f"{load_before} / {_loadavg()}",
                }
            )
            for line in format_rows(threads, s, timing):
                print(line, flush=True)
    accuracy = {s.name: {"label": s.label, **bf16_accuracy(models[s.name], s)} for s in settings}
    return {"results": results, "overhead": overhead, "bf16_accuracy": accuracy}


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=SETTING_NAMES,
        default=list(SETTING_NAMES),
        help="which model/budget settings to time (default: all); 'agent' = the agent's LatentWorldModel "
        "at reacher-easy sizes with PlanConfig() defaults",
    )
    parser.add_argument(
        "--reps",
        type=int,
        default=11,
        help="repetitions at synthetic H=5 (synthetic H=16 uses max(3, reps//2), agent max(15, 3*reps))",
    )
    parser.add_argument("--compile", action="store_true",
                        help="also time every planner with the model step under torch.compile (agent setting only; "
                             "compiling takes minutes on 2 cores)")
    parser.add_argument("--note", default="", help="free-text remark stored at the top of the results")
    parser.add_argument("--no-write", action="store_true", help="print only, keep results/ untouched")
    args = parser.parse_args()
    settings = make_settings(list(dict.fromkeys(args.settings)), args.reps)
    print(TABLE_HEADER, flush=True)
    load_start = _loadavg()
    data = run(args.threads, settings, args.compile)
    data["loadavg"] = f"{load_start} / {_loadavg()}"
    if args.note:
        data["note"] = args.note
    print(json.dumps({"overhead": data["overhead"], "bf16_accuracy": data["bf16_accuracy"]}, indent=2))
    for line in summary(data["results"]):
        print(line)
    if versions()["torchrl"] == "missing":
        print("torchrl is not importable: only our planners were timed.")
    if not args.no_write:
        write_results(data, "python " + shlex.join(sys.argv))


if __name__ == "__main__":
    main()
