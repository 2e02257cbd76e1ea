"""Time of one model update (world model + terminal value + policy prior), from state and from pixels.

Each setting builds the agent the trainer builds (``WorldModelAgent`` from ``RunConfig()``
defaults at reacher's sizes: state 6, action 2, batch 256, horizon 3) and times
``agent.update`` on one fixed random batch. Settings are interleaved (order rotated every
repetition) so that machine load falls on all of them alike; the median is reported, and
ratios are taken against the state setting measured in the same run.

- ``state``: proprioceptive observations (what the state benchmarks train with).
- ``pixels-recon-all``: 64x64 frames, the decoder reconstructing every frame of the batch.
- ``pixels``: 64x64 frames with the pixel default, the decoder reconstructing the frames of
  ``PIXEL_RECON_BATCH`` sub-sequences (``--recon-batch``).

    python benchmarks/update_speed.py                # writes benchmarks/results/update_speed.{md,json}
    python benchmarks/update_speed.py --reps 3 --no-write
    python benchmarks/update_speed.py --devices cpu cuda --out /tmp/update_speed_cuda  # both, interleaved

With several ``--devices`` every setting runs on each of them (``pixels@cuda``), all interleaved in
one run, so the CPU/GPU ratio is measured side by side on one machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from agent.world_model_agent import WorldModelAgent  # noqa: E402
from agent.config import PIXEL_RECON_BATCH, RunConfig  # noqa: E402
from benchmarks.devices import check_devices  # noqa: E402
from planners.precision import bf16_is_native  # noqa: E402

STATE_DIM, ACTION_DIM, IMAGE = 6, 2, 64
SETTINGS = {"state": ("state", None), "pixels-recon-all": ("pixels", 0), "pixels": ("pixels", None)}


def build(obs: str, recon_batch: int | None, device: torch.device = torch.device("cpu")
          ) -> tuple[WorldModelAgent, dict[str, torch.Tensor], int]:
    """The agent for one setting, a fixed batch to update on, and the sub-sequences it reconstructs."""
    cfg = RunConfig()
    cfg.env.obs, cfg.learn.recon_batch = obs, recon_batch
    cfg.validate()
    torch.manual_seed(0)
    shape = (IMAGE, IMAGE, 3) if obs == "pixels" else (STATE_DIM,)
    agent = WorldModelAgent(shape, ACTION_DIM, cfg, device)
    steps, size = cfg.learn.horizon, cfg.learn.batch_size
    g = torch.Generator().manual_seed(0)
    frames = obs == "pixels"
    batch = {
        "obs": (torch.randint(0, 256, (steps + 1, size, *shape), generator=g, dtype=torch.uint8) if frames
                else torch.randn(steps + 1, size, *shape, generator=g)),
        "action": torch.rand(steps, size, ACTION_DIM, generator=g) * 2 - 1,
        "reward": torch.rand(steps, size, generator=g),
        "terminated": torch.zeros(steps, size, dtype=torch.bool),
    }
    return agent, {k: v.to(device) for k, v in batch.items()}, cfg.reconstruction_batch


def timed_update(agent: WorldModelAgent, batch: dict[str, torch.Tensor]) -> float:
    """Seconds for one update; waits for the GPU so queued kernels are not left out."""
    cuda = batch["action"].is_cuda
    start = time.perf_counter()
    agent.update(batch)
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def setting_name(setting: str, device: str, devices: list[str]) -> str:
    return setting if devices == ["cpu"] else f"{setting}@{device}"


def measure(settings: list[str], devices: list[str], reps: int, warmup: int) -> dict[str, dict[str, float]]:
    built = {setting_name(s, d, devices): build(*SETTINGS[s], torch.device(d)) for d in devices for s in settings}
    names = list(built)
    for agent, batch, _ in built.values():
        for _ in range(warmup):
            timed_update(agent, batch)
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(reps):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for name in order:
            times[name].append(timed_update(*built[name][:2]))
    return {name: {"median_ms": round(1000 * statistics.median(t), 1), "min_ms": round(1000 * min(t), 1),
                   "recon_batch": built[name][2]} for name, t in times.items()}


def table(timing: dict[str, dict[str, float]]) -> str:
    """One row per setting. 'x state': against the state setting on the same device; with several
    devices also '<first> / this': the same setting on the first device over this one (cpu / cuda)."""
    devices = list(dict.fromkeys(name.partition("@")[2] for name in timing))
    several = len(devices) > 1
    header = "| setting | sub-sequences reconstructed | median ms/update | min ms/update | x state |"
    rule = "|---|---|---|---|---|"
    if several:
        header, rule = header + f" {devices[0]} / this |", rule + "---|"
    lines = [header, rule]

    def ratio(numerator: str, denominator: str) -> str:
        a, b = timing.get(numerator), timing.get(denominator)
        return f"{a['median_ms'] / b['median_ms']:.1f}" if a and b else "-"

    for name, t in timing.items():
        setting, at, device = name.partition("@")
        row = (f"| {name} | {t['recon_batch']} | {t['median_ms']} | {t['min_ms']} | "
               f"{ratio(name, 'state' + at + device)} |")
        if several:
            row += f" {ratio(f'{setting}@{devices[0]}', name)} |"
        lines.append(row)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--reps", type=int, default=7, help="timed updates per setting (default: 7)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed updates per setting first (default: 2)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch intra-op threads (default: what torch picks here)")
    parser.add_argument("--devices", nargs="+", default=["cpu"], metavar="DEVICE",
                        help="torch devices to time each setting on, interleaved (default: cpu; e.g. cpu cuda)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "update_speed",
                        help="results path without suffix; .md and .json are written (default: %(default)s)")
    parser.add_argument("--no-write", action="store_true", help="print only, keep results/ untouched")
    args = parser.parse_args()
    if args.reps < 1 or args.threads < 1:
        parser.error(f"--reps and --threads must be >= 1; got --reps {args.reps} --threads {args.threads}")
    check_devices(parser, args.devices)
    torch.set_num_threads(args.threads)
    timing = measure(args.settings, args.devices, args.reps, args.warmup)
    text = table(timing)
    print(text)
    if args.no_write:
        return
    command = "python " + shlex.join(["benchmarks/update_speed.py", *sys.argv[1:]])
    machine = {"python": platform.python_version(), "torch": torch.__version__, "threads": args.threads,
               "cpu_capability": torch.backends.cpu.get_cpu_capability(), "reps": args.reps}
    if any(d.startswith("cuda") for d in args.devices):
        machine["gpu"] = torch.cuda.get_device_name()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "machine": machine,
                                                           "pixel_recon_batch": PIXEL_RECON_BATCH,
                                                           "results": timing}, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(
        f"# Time per model update, state vs pixels\n\nCommand: `{command}`\n\n"
        f"{', '.join(f'{k} {v}' for k, v in machine.items())}. One update = world model, terminal value and "
        f"policy prior on a batch of {RunConfig().learn.batch_size} sub-sequences of horizon "
        f"{RunConfig().learn.horizon} (the trainer's default precision: bf16 autocast where bf16 is native, else "
        f"fp32; here {'bf16' if bf16_is_native('cpu') else 'fp32'} on the CPU); settings interleaved, median "
        f"of the timed updates.\n\n{text}\n")


if __name__ == "__main__":
    main()
