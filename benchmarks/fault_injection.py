"""Kill -9 a training run at random moments, resume it each time, and check that nothing was lost.

Each round starts ``wm-agent train`` (the first round a new run, then ``--resume``), waits
until the run has written a new episode, then a random 0..``--max-delay`` seconds more,
and sends SIGKILL: no handler runs, so whatever the process was doing (acting, updating,
writing an episode file, writing a checkpoint, logging) is cut. After every kill the
finished episode files are recorded (name and SHA-256). At the end one more resume must
train to ``--steps`` and exit 0, and then:

- lost: an episode file seen after some kill that is missing or changed at the end;
- duplicated: an episode index present twice, or two files with the same contents;
- the replay indices are contiguous, the final checkpoint matches the replay, and the
  TensorBoard curve ``train/episode_return`` has each episode end exactly once.

The episode in progress at each kill is lost by design (it was never finished); it is
not counted as lost.

    python benchmarks/fault_injection.py --kills 20
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from agent.layout import CHECKPOINT_DIR, EPISODE_DIR
from agent.run.checkpoint import list_checkpoints, load_checkpoint  # noqa: E402
from agent.learn.replay import EPISODE_FILE, episode_files  # noqa: E402

TINY = ["--latent-dim", "16", "--hidden-dim", "32", "--num-samples", "32", "--num-elites", "4", "--iterations", "2",
        "--num-policy-samples", "4", "--batch-size", "16", "--pretrain-updates", "5", "--eval-episodes", "1",
        "--video-every", "0", "--threads", "1", "--no-progress"]


@dataclass
class Kill:
    round: int
    seconds_alive: float
    episodes_on_disk: int
    newest_checkpoint_step: int
    temp_files_left: int


def file_digests(run_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in episode_files(run_dir / EPISODE_DIR)}


def wait_for_new_episode(proc: subprocess.Popen, run_dir: Path, before: int, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if len(episode_files(run_dir / EPISODE_DIR)) > before:
            return True
        time.sleep(0.05)
    return False


def newest_checkpoint_step(run_dir: Path) -> int:
    checkpoints = list_checkpoints(run_dir / CHECKPOINT_DIR)
    return int(checkpoints[-1].name[5:14]) if checkpoints else 0


def train_command(run_dir: Path, args: argparse.Namespace, steps: int, first: bool) -> list[str]:
    where = (["--logdir", str(run_dir.parent), "--run-name", run_dir.name, "--env", args.env, "--seed", str(args.seed),
              "--seed-steps", str(args.seed_steps), "--eval-every", str(args.eval_every),
              "--checkpoint-every", str(args.checkpoint_every), *TINY] if first else ["--resume", str(run_dir)])
    return [sys.executable, "-m", "agent.cli", "train", *where, "--steps", str(steps)]


def tensorboard_episode_steps(run_dir: Path) -> list[int]:
    ea = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    ea.Reload()
    return [e.step for e in ea.Scalars("train/episode_return")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--env", default="Reacher-v5")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seed-steps", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--max-delay", type=float, default=4.0, help="seconds after the first new episode, at most")
    parser.add_argument("--extra-steps", type=int, default=150, help="steps the final resume trains beyond the kills")
    parser.add_argument("--rng-seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--workdir", type=Path, default=None, help="where the run goes (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fault_injection")
    args = parser.parse_args()

    rng = random.Random(args.rng_seed)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="wm-fault-"))
    run_dir = workdir / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    seen: dict[str, str] = {}  # every finished episode file seen after any kill
    kills: list[Kill] = []
    started = time.time()
    while len(kills) < args.kills:
        before = len(episode_files(run_dir / EPISODE_DIR))
        cmd = train_command(run_dir, args, 10**7, first=not run_dir.exists())
        t0 = time.time()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if not wait_for_new_episode(proc, run_dir, before, timeout=300):
            raise SystemExit(f"round {len(kills) + 1}: no new episode (exit {proc.poll()}): {proc.communicate()[1][-2000:]}")
        time.sleep(rng.uniform(0, args.max_delay))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        digests = file_digests(run_dir)
        seen.update(digests)
        kills.append(Kill(len(kills) + 1, round(time.time() - t0, 2), len(digests), newest_checkpoint_step(run_dir),
                          len(list((run_dir / EPISODE_DIR).glob("*.tmp"))) + len(list((run_dir / CHECKPOINT_DIR).glob("*.tmp")))))
        print(f"kill {kills[-1].round:3d}: alive {kills[-1].seconds_alive:5.1f} s, {len(digests)} episodes on disk, "
              f"newest checkpoint at {kills[-1].newest_checkpoint_step} steps", flush=True)

    # The last sitting must train on to its target and stop by itself.
    steps_on_disk = sum(int(EPISODE_FILE.match(name).group(2)) for name in seen)
    target = steps_on_disk + args.extra_steps
    final_cmd = train_command(run_dir, args, target, first=False)
    final = subprocess.run(final_cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)

    final_digests = file_digests(run_dir)
    indices = [int(EPISODE_FILE.match(name).group(1)) for name in final_digests]
    lost = sorted(name for name, digest in seen.items() if final_digests.get(name) != digest)
    duplicated_index = sum(c - 1 for c in Counter(indices).values() if c > 1)
    duplicated_content = sum(c - 1 for c in Counter(final_digests.values()).values() if c > 1)
    lengths = [int(EPISODE_FILE.match(name).group(2)) for name in sorted(final_digests)]
    ends = [sum(lengths[: i + 1]) for i in range(len(lengths))]
    checkpoint = load_checkpoint(list_checkpoints(run_dir / CHECKPOINT_DIR)[-1])
    tb_steps = tensorboard_episode_steps(run_dir)
    tb_counts = Counter(tb_steps)
    result = {
        "kills_survived": len(kills) if final.returncode == 0 else len(kills) - 1,
        "kills": len(kills),
        "episodes_seen_after_kills": len(seen),
        "episodes_lost": len(lost),
        "lost": lost,
        "episodes_duplicated": duplicated_index + duplicated_content,
        "indices_contiguous": sorted(indices) == list(range(len(indices))),
        "final_exit_code": final.returncode,
        "final_episodes": len(final_digests),
        "final_env_steps": sum(lengths),
        "target_env_steps": target,
        "checkpoint_env_steps": checkpoint["env_steps"],
        "checkpoint_episodes": checkpoint["episodes"],
        "tensorboard_episode_ends_missing": len(set(ends) - set(tb_steps)),
        "tensorboard_episode_ends_duplicated": sum(c - 1 for c in tb_counts.values() if c > 1),
        "tensorboard_steps_not_an_episode_end": len(set(tb_steps) - set(ends)),
        "temp_files_left_after_kills": sum(k.temp_files_left for k in kills),
        "wall_seconds": round(time.time() - started, 1),
        "command": "python benchmarks/fault_injection.py " + shlex.join(sys.argv[1:]),
        "train_command_first": shlex.join(train_command(Path("RUN"), args, 10**7, True)[3:]),
        "train_command_resume": shlex.join(train_command(Path("RUN"), args, 10**7, False)[3:]),
        "machine": f"{platform.platform()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "per_kill": [asdict(k) for k in kills],
    }
    ok = (result["episodes_lost"] == 0 and result["episodes_duplicated"] == 0 and result["indices_contiguous"]
          and final.returncode == 0 and result["final_env_steps"] == target == result["checkpoint_env_steps"]
          and result["tensorboard_episode_ends_missing"] == 0 and result["tensorboard_episode_ends_duplicated"] == 0
          and result["tensorboard_steps_not_an_episode_end"] == 0)
    result["passed"] = ok
    table = (f"| kills survived | episodes lost | episodes duplicated | episodes checked | final env steps / target "
             f"| TensorBoard episode ends missing / duplicated |\n|---|---|---|---|---|---|\n"
             f"| {result['kills_survived']} / {len(kills)} | {len(lost)} | {result['episodes_duplicated']} | "
             f"{len(seen)} | {result['final_env_steps']} / {target} | "
             f"{result['tensorboard_episode_ends_missing']} / {result['tensorboard_episode_ends_duplicated']} |")
    print(table)
    if final.returncode != 0:
        print(final.stderr[-3000:], file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| {k.round} | {k.seconds_alive} | {k.episodes_on_disk} | {k.newest_checkpoint_step} | "
                     f"{k.temp_files_left} |" for k in kills)
    args.out.with_suffix(".md").write_text(f"""# Fault injection: kill -9 at random moments, then resume

Command: `{result['command']}` ({result['wall_seconds']} s on {result['machine']})

Each round runs `python -m agent.cli {result['train_command_resume']}` (the first round:
`{result['train_command_first']}`), waits for the run's next finished episode, then a random
0-{args.max_delay} s more, and sends SIGKILL. The finished episode files (name and SHA-256) are recorded
after every kill. A last `--resume --steps {target}` must train to its target and exit 0.

{table}

- **lost**: an episode file seen after a kill that is missing or changed at the end. The episode
  *in progress* at each kill is lost by design (it never finished) and is not counted.
- **duplicated**: an episode index present twice, or two episode files with identical contents.
- episode indices contiguous: {result['indices_contiguous']}; final checkpoint: {result['checkpoint_env_steps']} env steps,
  {result['checkpoint_episodes']} episodes (replay: {result['final_env_steps']} steps, {result['final_episodes']} episodes);
  temp files found after kills (ignored on resume, overwritten later): {result['temp_files_left_after_kills']}.
- TensorBoard `train/episode_return`: every episode end exactly once (steps that are no episode end:
  {result['tensorboard_steps_not_an_episode_end']}).
- **passed: {ok}**

| kill | seconds alive | episodes on disk | newest checkpoint (env steps) | temp files left |
|---|---|---|---|---|
{rows}
""")
    if not ok:
        raise SystemExit(f"fault injection FAILED; run directory kept at {run_dir}")


if __name__ == "__main__":
    main()
