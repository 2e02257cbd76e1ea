"""Where one training env step goes: env and rendering, planning, replay sampling, the update's parts.

Each setting is one real training run in this process (the trainer and learner of `agent/`,
not a copy of their loop): random seed steps and pretraining updates untimed, then
``--measure-steps`` env steps of the normal loop (plan, env step, ``utd`` updates) with the
phase timers of `agent/learn/profiling.py` switched on. The run is then stopped the way a scheduler
stops one (SIGTERM: the trainer checkpoints and returns), so the timed window need not end at an
episode boundary. Times are wall-clock ms per env step; ``other`` is the part of the window no
phase covers (progress bar, Python between phases).

    python benchmarks/step_profile.py                         # state and pixels, reacher-easy
    python benchmarks/step_profile.py --obs state --label after-bf16 -- --no-update-bf16
    python benchmarks/step_profile.py --no-write --measure-steps 50

The table goes to ``benchmarks/results/step_profile_<label>.md`` (and ``.json``) with the command.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from agent.cli import _given, apply_overrides, build_parser  # noqa: E402
from agent.config import RunConfig  # noqa: E402
from agent.learn.profiling import PhaseTimer  # noqa: E402
from agent.run.trainer import Trainer  # noqa: E402

# Rows of the table, in loop order; update.* are parts of "update" (indented in the table).
TOP_PHASES = ("env", "render", "plan", "sample", "update", "episode_end")
UPDATE_PHASES = ("update.target_latents", "update.forward", "update.backward", "update.optimizer",
                 "update.policy", "update.ema")


def run_config(obs: str, args: argparse.Namespace) -> RunConfig:
    """The config `wm-agent train` would build from these options."""
    argv = ["train", "--env", args.env, "--obs", obs, "--seed", str(args.seed),
            "--seed-steps", str(args.seed_steps), "--pretrain-updates", str(args.pretrain_updates),
            "--steps", str(10 ** 9), "--eval-every", str(10 ** 9), "--checkpoint-every", str(10 ** 9),
            "--video-every", "0", "--threads", str(args.threads), "--device", args.device, *args.train_args]
    given = _given(build_parser().parse_args(argv))
    return apply_overrides(RunConfig(), given).validate()


def profile(cfg: RunConfig, measure_steps: int, logdir: Path) -> dict:
    """Train with ``cfg`` until ``measure_steps`` env steps after pretraining were timed."""
    trainer = Trainer(cfg, logdir / f"{cfg.env.obs}-{time.time_ns()}", progress=False)
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else None
    timer = PhaseTimer(sync)
    trainer.timer = trainer.agent.learner.timer = timer
    window: dict[str, float] = {}

    pretrain = trainer._pretrain

    def pretrain_then_time() -> None:
        pretrain()
        if trainer.pretrained:
            timer.reset()
            timer.active = True
            window["start"], window["steps"] = time.perf_counter(), trainer.env_steps

    trainer._pretrain = pretrain_then_time  # type: ignore[method-assign]
    _time_rendering(trainer, timer)
    step = trainer.env.step

    def step_and_stop(action):  # noqa: ANN001, ANN202 - the env's own signature
        out = step(action)
        if timer.active and timer.calls["env"] + 1 >= measure_steps:  # this call is the last timed one
            timer.active = False
            window["end"] = time.perf_counter()
            window["timed"] = timer.calls["env"] + 1
            os.kill(os.getpid(), signal.SIGTERM)  # the trainer checkpoints and returns
        return out

    trainer.env.step = step_and_stop  # type: ignore[method-assign]
    # the "env" phase wraps env.step, so the last timed step is counted when its phase closes
    trainer.train()
    steps = window.get("timed", 0)
    if not steps:
        raise SystemExit(f"step_profile: the run ended before {measure_steps} steps were timed; raise --steps")
    total = window["end"] - window["start"]
    ms = {name: 1000 * timer.seconds.get(name, 0.0) / steps for name in (*TOP_PHASES, *UPDATE_PHASES)}
    ms["env"] -= ms["render"]  # render runs inside env.step
    covered = sum(ms[name] for name in TOP_PHASES)
    ms["other"] = 1000 * total / steps - covered
    return {"obs": cfg.env.obs, "env": cfg.env.name, "steps_timed": steps, "ms_per_step": 1000 * total / steps,
            "env_steps_per_s": steps / total, "updates_per_step": timer.calls.get("update.forward", 0) / steps,
            "phases_ms": ms, "update_bf16": trainer.agent.learner.bf16,
            "plan_bf16": trainer.agent.planner.config.dtype_autocast}


def _time_rendering(trainer: Trainer, timer: PhaseTimer) -> None:
    """Put the base env's render() under its own phase (pixel runs render inside env.step)."""
    base = trainer.env.unwrapped
    render = base.render

    def timed_render():  # noqa: ANN202
        with timer("render"):
            return render()

    base.render = timed_render  # type: ignore[method-assign]


def table(rows: list[dict]) -> str:
    header = "| phase | " + " | ".join(f"{r['obs']} ms/step | {r['obs']} share" for r in rows) + " |"
    lines = [header, "|---|" + "---|---|" * len(rows)]
    for name in (*TOP_PHASES[:4], "update", *UPDATE_PHASES, "episode_end", "other"):
        label = f"&nbsp;&nbsp;{name}" if name.startswith("update.") else name
        cells = []
        for r in rows:
            value = r["phases_ms"][name]
            cells.append(f"{value:.1f} | {100 * value / r['ms_per_step']:.0f}%")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| **one env step** | " + " | ".join(f"**{r['ms_per_step']:.1f}** | 100%" for r in rows) + " |")
    lines.append("| env steps/s | " + " | ".join(f"{r['env_steps_per_s']:.2f} | " for r in rows) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="reacher-easy", help="env to train on (default: %(default)s)")
    parser.add_argument("--obs", nargs="+", default=["state", "pixels"], choices=["state", "pixels"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seed-steps", type=int, default=500, help="random steps first, untimed (default: 500)")
    parser.add_argument("--pretrain-updates", type=int, default=20, help="untimed updates (default: 20)")
    parser.add_argument("--measure-steps", type=int, default=200, help="timed env steps (default: 200)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 = the trainer's pick")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--label", default="current", help="results name: step_profile_<label> (default: current)")
    parser.add_argument("--no-write", action="store_true", help="print only, keep results/ untouched")
    parser.add_argument("train_args", nargs="*", help="extra 'wm-agent train' options, after '--'")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="step_profile-") as tmp:
        rows = [profile(run_config(obs, args), args.measure_steps, Path(tmp)) for obs in args.obs]
    command = "python benchmarks/" + Path(__file__).name + " " + shlex.join(sys.argv[1:])
    text = (f"# One training env step, by phase ({args.label})\n\nCommand: `{command}`\n\n"
            f"{platform.processor() or platform.machine()}, python {platform.python_version()}, torch "
            f"{torch.__version__}, cpu_capability {torch.backends.cpu.get_cpu_capability()}, threads "
            f"{torch.get_num_threads()}, {args.env}, {args.measure_steps} timed env steps after "
            f"{args.seed_steps} seed steps; update bf16 {rows[0]['update_bf16']}, plan bf16 {rows[0]['plan_bf16']}."
            f"\n\n{table(rows)}\n")
    print(text)
    if not args.no_write:
        out = ROOT / "benchmarks" / "results" / f"step_profile_{args.label}"
        out.with_suffix(".md").write_text(text)
        out.with_suffix(".json").write_text(json.dumps({"command": command, "rows": rows}, indent=2) + "\n")
        print(f"wrote {out}.md and .json")


if __name__ == "__main__":
    main()
