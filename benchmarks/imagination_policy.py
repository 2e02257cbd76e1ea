"""A policy trained only inside a run's learned model (`agent.WorldModelEnv`), evaluated on the real env.

Stable-Baselines3's SAC learns in imagination: resets from the run's real replay observations, steps
with the learned dynamics and reward, never touches the simulator. Its deterministic policy then
acts on the real env (the same env the run trained on, fixed reset seeds), beside what the run's own
agent does there from the same checkpoint: planning (MPPI/CEM in the model, as `wm-agent eval`), its
policy prior without planning, and uniform random actions. One table, written to
``benchmarks/results/imagination_policy.md`` and ``.json`` with the command.

    python benchmarks/imagination_policy.py --run runs/reacher-easy-state-mppi-s1-... --sac-steps 20000

Needs the ``bench`` extra (``pip install -e '.[bench]'``, which brings stable-baselines3).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import agent  # noqa: E402

EVAL_SEED = 2_000_000_000  # reset seeds of the real-env episodes, shared by every row


def real_returns(policy: agent.Policy, act, episodes: int) -> list[float]:
    """Returns of ``act(obs) -> action`` on the run's real env over fixed reset seeds."""
    env = policy.make_env(seed=EVAL_SEED)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED + i)
        policy.reset()
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def train_in_imagination(run: Path, steps: int, horizon: int, seed: int):
    """SAC on `WorldModelEnv` (decoded observations, resets from every stored observation)."""
    from stable_baselines3 import SAC

    model_env = agent.WorldModelEnv.from_run(run, starts="any", horizon=horizon)
    sac = SAC("MlpPolicy", model_env, seed=seed, verbose=0, device="cpu")
    start = time.perf_counter()
    sac.learn(total_timesteps=steps, progress_bar=False)
    seconds = time.perf_counter() - start
    imagined = imagined_return(sac, model_env, episodes=10)
    model_env.close()
    return sac, seconds, imagined


def imagined_return(sac, model_env, episodes: int) -> float:
    """The SAC policy's mean return inside the model (what it was trained to raise)."""
    totals = []
    for i in range(episodes):
        obs, _ = model_env.reset(seed=i)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = model_env.step(sac.predict(obs, deterministic=True)[0])
            total += reward
            done = terminated or truncated
        totals.append(total)
    return float(np.mean(totals))


def summary(returns: list[float]) -> dict:
    return {"mean": float(np.mean(returns)), "std": float(np.std(returns)), "returns": returns}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="run directory (its newest checkpoint and replay)")
    parser.add_argument("--sac-steps", type=int, default=20_000, help="SAC steps inside the model (default: 20000)")
    parser.add_argument("--horizon", type=int, default=100, help="imagined episode length (default: 100)")
    parser.add_argument("--episodes", type=int, default=10, help="real-env episodes per row (default: 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "imagination_policy")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/imagination_policy.py", *(argv if argv is not None else sys.argv[1:])])

    import torch

    torch.set_num_threads(1)
    policy = agent.load(args.run)
    sac, sac_seconds, imagined = train_in_imagination(args.run, args.sac_steps, args.horizon, args.seed)
    rng = np.random.default_rng(args.seed)
    rows = {
        "SAC trained in the model": summary(real_returns(policy, lambda o: sac.predict(o, deterministic=True)[0],
                                                         args.episodes)),
        "the run's planner": summary(real_returns(policy, policy.act, args.episodes)),
        "the run's policy prior (no planning)": summary(real_returns(policy, lambda o: policy.act(o, plan=False),
                                                                     args.episodes)),
        "uniform random actions": summary(real_returns(
            policy, lambda o: rng.uniform(-1, 1, policy.action_space.shape).astype(np.float32), args.episodes)),
    }
    result = {"command": command, "run": str(args.run), "env": policy.config.env.name,
              "checkpoint_env_steps": policy.env_steps, "sac_steps": args.sac_steps, "horizon": args.horizon,
              "sac_train_seconds": sac_seconds, "sac_imagined_return": imagined, "episodes": args.episodes,
              "rows": rows}
    policy.close()
    lines = [f"# A policy trained only in the learned model, on the real env ({result['env']})", "",
             f"Command: `{command}`", "",
             f"Model: the run's checkpoint at {policy.env_steps} env steps. SAC (Stable-Baselines3, defaults) "
             f"trained {args.sac_steps} steps in `WorldModelEnv` (imagined episodes of {args.horizon} steps, reset "
             f"from the run's stored observations) in {sac_seconds:.0f} s; its mean return inside the model over 10 "
             f"imagined episodes: {imagined:.1f}. Real-env rows: {args.episodes} episodes on the same reset seeds.",
             "", "| policy on the real env | return mean | std |", "|---|---|---|"]
    lines += [f"| {name} | {row['mean']:.1f} | {row['std']:.1f} |" for name, row in rows.items()]
    table = "\n".join(lines) + "\n"
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(table)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
