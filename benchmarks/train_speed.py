"""End-to-end training pace of the real ``wm-agent train``, per observation kind and torch device.

Each (obs, device) pair is one short ``wm-agent train`` run on the same env and seed: a few
random seed steps and pretraining updates, then ``--measure-steps`` env steps of the normal
loop (plan, env step, one model update per step). The pace is the trainer's own per-episode
``perf/`` scalars (env steps/s, ms per planned action, ms per update), read back from the run's
TensorBoard events for the episodes after the seed phase, median over them. The runs go one
after another, never two at once, so none shares the cores with another.

    python benchmarks/train_speed.py --devices cuda cpu --obs state pixels   # GPU machine
    python benchmarks/train_speed.py --obs state --measure-steps 500 --no-write
    python benchmarks/train_speed.py --from-runs RUN_DIR [RUN_DIR ...]   # table of existing runs

With several devices, 'first / this' is the first device's seconds per env step over this
row's, for the same obs (e.g. cpu / cuda). No periodic evaluation and no videos in these runs;
the trainer's closing evaluation is cut to one episode. ``--from-runs`` makes the table from
run directories trained elsewhere (any ``wm-agent train`` run: its config says env, obs, device
and seed steps), e.g. runs brought back from a GPU machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.devices import check_devices  # noqa: E402
from agent.layout import CONFIG_FILE

PERF_TAGS = ("env_steps_per_s", "plan_ms_per_action", "update_ms")


def train_command(env: str, obs: str, device: str, args: argparse.Namespace, run_dir: Path) -> list[str]:
    steps = args.seed_steps + args.measure_steps
    return [sys.executable, "-m", "agent.cli", "train", "--env", env, "--obs", obs, "--device", device,
            "--seed", str(args.seed), "--steps", str(steps), "--seed-steps", str(args.seed_steps),
            "--pretrain-updates", str(args.pretrain_updates), "--eval-every", str(steps + 1),
            "--eval-episodes", "1", "--video-every", "0", "--threads", str(args.threads), "--no-progress",
            "--logdir", str(run_dir.parent), "--run-name", run_dir.name, *args.train_args]


def read_perf(run_dir: Path, after_step: int) -> dict[str, list[float]]:
    """Per-episode perf scalars of the episodes that ended after ``after_step`` env steps."""
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    tags = set(events.Tags()["scalars"])
    return {tag: [e.value for e in events.Scalars(f"perf/{tag}") if e.step > after_step]
            for tag in PERF_TAGS if f"perf/{tag}" in tags}


def run_row(run_dir: Path) -> dict:
    """The table row of a finished run: its config, and the median perf/ scalars after its seed phase."""
    config = json.loads((run_dir / CONFIG_FILE).read_text())
    row: dict = {"env": config["env"]["name"], "obs": config["env"]["obs"], "device": config["device"], "exit": 0}
    # the seed-phase episodes (random actions, no updates) are not the loop being timed
    perf = read_perf(run_dir, after_step=config["seed_steps"])
    row["episodes"] = len(perf.get("env_steps_per_s", []))
    for tag, values in perf.items():
        row[tag] = round(statistics.median(values), 2) if values else None
    if row.get("env_steps_per_s"):
        row["s_per_env_step"] = round(1 / row["env_steps_per_s"], 4)
    return row


def measure(env: str, obs: str, device: str, args: argparse.Namespace, logdir: Path) -> dict:
    run_dir = logdir / f"{env}-{obs}-{device.replace(':', '')}"
    start = time.perf_counter()
    done = subprocess.run(train_command(env, obs, device, args, run_dir), cwd=ROOT, capture_output=True, text=True)
    wall = round(time.perf_counter() - start, 1)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return {"env": env, "obs": obs, "device": device, "exit": done.returncode, "wall_s": wall,
                "error": lines[-1] if lines else f"exit {done.returncode}"}
    return {**run_row(run_dir), "wall_s": wall}


def table(rows: list[dict]) -> str:
    devices = list(dict.fromkeys(r["device"] for r in rows))
    several = len(devices) > 1
    header = ("| env | obs | device | episodes timed | env steps/s | s per env step | plan ms/action "
              "| update ms | run wall s |")
    rule = "|---|---|---|---|---|---|---|---|---|"
    if several:
        header, rule = header + f" {devices[0]} / this |", rule + "---|"
    lines = [header, rule]
    for r in rows:
        if r["exit"] != 0:
            lines.append(f"| {r['env']} | {r['obs']} | {r['device']} | failed: {r['error']} |")
            continue
        line = (f"| {r['env']} | {r['obs']} | {r['device']} | {r['episodes']} | {r.get('env_steps_per_s')} | "
                f"{r.get('s_per_env_step')} | {r.get('plan_ms_per_action')} | {r.get('update_ms')} | "
                f"{r.get('wall_s', '-')} |")
        if several:
            first = next((f for f in rows if f["obs"] == r["obs"] and f["device"] == devices[0]), {})
            ok = first.get("s_per_env_step") and r.get("s_per_env_step")
            line += f" {first['s_per_env_step'] / r['s_per_env_step']:.1f} |" if ok else " - |"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="reacher-easy", help="env to train on (default: %(default)s)")
    parser.add_argument("--obs", nargs="+", default=["state", "pixels"], choices=["state", "pixels"])
    parser.add_argument("--devices", nargs="+", default=["cpu"], metavar="DEVICE",
                        help="torch devices, one run each per obs, in this order (default: cpu; e.g. cuda cpu)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seed-steps", type=int, default=500, help="random steps first, not timed (default: 500)")
    parser.add_argument("--pretrain-updates", type=int, default=100,
                        help="updates after the seed steps, not timed (default: 100)")
    parser.add_argument("--measure-steps", type=int, default=1000,
                        help="env steps of the timed loop; whole episodes (reacher: 500 each) (default: 1000)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per run; 0 = the trainer's pick")
    parser.add_argument("--logdir", type=Path, default=None, help="where the runs go (default: a temporary dir)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "train_speed",
                        help="results path without suffix; .md and .json are written (default: %(default)s)")
    parser.add_argument("--no-write", action="store_true", help="print only, keep results/ untouched")
    parser.add_argument("--from-runs", nargs="+", type=Path, metavar="RUN_DIR",
                        help="train nothing: make the table from these runs")
    parser.add_argument("train_args", nargs="*", help="extra 'wm-agent train' options, after '--'")
    args = parser.parse_args()
    if args.from_runs:
        missing = [str(d) for d in args.from_runs if not (d / CONFIG_FILE).is_file()]
        if missing:
            parser.error(f"--from-runs: not a run directory (no config.json): {', '.join(missing)}")
        report([run_row(d) for d in args.from_runs], args,
               "Rows read from the runs given, wherever they were trained (each row's device is its "
               "run's; the line above is where this table was made, and notes beside it say how the runs ran). ")
        return
    if args.seed_steps < 1 or args.measure_steps < 1:
        parser.error(f"--seed-steps and --measure-steps must be >= 1; got {args.seed_steps} and {args.measure_steps}")
    check_devices(parser, args.devices)
    with tempfile.TemporaryDirectory() as tmp:
        logdir = args.logdir or Path(tmp)
        rows = []
        for obs in args.obs:
            for device in args.devices:
                rows.append(measure(args.env, obs, device, args, logdir))
                print(json.dumps(rows[-1]), flush=True)
    report(rows, args, f"Each row is one real `wm-agent train` run ({args.seed_steps} random seed steps and "
                       f"{args.pretrain_updates} pretraining updates, not timed, then {args.measure_steps} env "
                       "steps of plan + env step + one update per step). ")


def report(rows: list[dict], args: argparse.Namespace, what: str) -> None:
    """Print the table; unless --no-write, write it (.md) and the rows (.json) with the command."""
    text = table(rows)
    print(text)
    if args.no_write:
        return
    command = "python " + shlex.join(["benchmarks/train_speed.py", *sys.argv[1:]])
    machine = {"python": platform.python_version(), "torch": torch.__version__,
               "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    if torch.cuda.is_available():
        machine["gpu"] = torch.cuda.get_device_name()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "machine": machine, "rows": rows},
                                                        indent=2) + "\n")
    args.out.with_suffix(".md").write_text(
        f"# Training pace per env step, by device\n\nCommand: `{command}`\n\n"
        f"Table made on: {', '.join(f'{k} {v}' for k, v in machine.items())}. {what}Values are medians over the "
        f"episodes after each run's seed phase of the trainer's own perf/ scalars.\n\n{text}\n")


if __name__ == "__main__":
    main()
