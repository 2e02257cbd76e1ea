"""Why a trained reacher agent misses the target: the learned value and reward over every arm pose.

Issue 27's failing seeds miss the target in half of their evaluation episodes, and no planner setting
(prior, margin, pessimism, horizon, trust region) rescues them (``plan_variants.py``). This asks the learned
parts instead. For each evaluation episode (no exploration; ``--seed S`` gives the reset seeds of
the trainer's evaluations of a run trained with ``--seed S``) it records where the finger ends; then, with that
episode's target in place, it sets the arm to every pose of a grid over the two joints (at rest) and reads, for
each pose, the true reward (finger inside the target: 1 per physics step, 2 per decision at action repeat 2) beside
the model's predicted reward and value V(z) = Q(z, pi(z)) (mean and spread over all Q heads). A failed episode then
reads as one of:

- ``believed-solved``: the model's reward summed along the episode's real states and actions clears the failure
  threshold: the reward model credits where the arm was (typically a finger parked millimetres outside the
  target's radius), so nothing in planning could see the failure;
- ``value-elsewhere``: the best-valued pose of the grid puts the finger more than twice the reward radius from
  the target: the value (and reward model) learned the wrong place for this target;
- ``local-optimum``: the best-valued pose is at the target, but no pose within 0.3 rad of where the arm stopped is
  valued higher than it: the learned value has a second, lower hill there, which a short look-ahead cannot leave;
- ``value-right``: the best-valued pose is at the target and the value rises from where the arm stopped: the
  knowledge is there and planning does not follow it;
- ``value-flat``: the peak is at the target but the pose where the arm stopped is valued as high.

    python benchmarks/reacher_failures.py RUN_OR_CHECKPOINT --seed 2 --episodes 20 --tag reacher-easy-s2-50k

Writes ``benchmarks/results/reacher_failures_<tag>.{md,json}`` with the command, and the maps of each failed
episode as ``reacher_failures_<tag>/episode_NN.png``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS_DIR = ROOT / "benchmarks" / "results"

from benchmarks.training_episodes import episode_ends  # noqa: E402

PROBE_STEPS = 11  # actions per joint in the end-state probe's grid of constant plans
LOCAL_REACH = 0.3  # radians per joint around the end pose: about what the arm turns in a few decisions
RIM = 0.01  # metres just outside the reward radius: where a blurred reward boundary credits a miss
WRIST_LIMIT = np.deg2rad(160.0)  # reacher.xml: the wrist joint's range is +-160 degrees, the shoulder turns freely


@dataclass
class EpisodeAnatomy:
    episode: int
    ret: float
    final_distance: float       # finger to target centre at the episode's end (metres)
    min_distance: float
    radius: float               # the reward radius: target size + finger size
    target_from_base: float     # reacher draws 0.05-0.20 m; near the base the wrist must fold near its limit
    final_speed: float          # |joint velocities| at the end: small = the arm stopped there
    stop_wrist: float           # the wrist's angle at the end (its soft limit is +-2.79 rad)
    predicted_return: float     # the model's reward summed along the episode's real states and actions
    reward_stop: float          # predicted reward at the end pose (at rest, the prior's mean action): true is 0 or 2
    rollout_reward_bias: float  # imagined minus real reward over the planner's horizon, from each real state with the
                                # real next actions (mean over the episode): > 0 = the model's rollouts over-promise
    rollout_finger_error: float  # |imagined - real| finger-to-target distance at the horizon's end (metres, mean)
    probe_gain: float           # at the end state: the best constant-action plan's imagined objective (rewards over
                                # the horizon + discounted V) minus the policy prior's plan's; > 0 = the model sees
                                # a better way the planner did not take
    probe_wrist: float          # the wrist action of that best constant plan (+1/-1: turning the wrist hard)
    v_stop: float               # learned V at the final pose, at rest
    v_target_best: float        # best learned V over the grid's poses with the finger inside the target
    v_target_wrist_pos: float   # best learned V over the target poses with the wrist bent positive, and
    v_target_wrist_neg: float   # negative: a target has two arm solutions; a value that knows one only is one-sided
    v_outside_best: float       # best learned V over the poses clearly away from it (finger beyond twice the radius)
    peak_distance: float        # how far from the target the finger is at the best-valued pose of the whole grid
    local_rise: float           # best V within 0.3 rad of the end pose minus V there: <= 0 = a local maximum
    head_std_target: float      # spread of the Q heads at the best target pose (how sure the value is there)
    reward_inside: float        # mean predicted reward over poses inside the target (true: 2, at action repeat 2)
    reward_outside: float       # mean predicted reward over poses outside it (true: 0)
    reward_rim: float           # mean predicted reward over poses within 1 cm outside the radius (true: 0)
    verdict: str


def pose_grid(size: int) -> np.ndarray:
    """(size*size, 2) joint angles: shoulder over a full turn, wrist over its range."""
    shoulder = np.linspace(-np.pi, np.pi, size, endpoint=False)
    wrist = np.linspace(-WRIST_LIMIT, WRIST_LIMIT, size)
    return np.stack(np.meshgrid(shoulder, wrist, indexing="ij"), -1).reshape(-1, 2)


def poses_at_rest(dmc: Any, poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(observations, finger-to-target distances) with the arm set to each pose at rest; the target stays."""
    physics, task = dmc._env.physics, dmc._env.task
    observations, distances = [], []
    for pose in poses:
        with physics.reset_context():
            physics.named.data.qpos[["shoulder", "wrist"]] = pose
            physics.named.data.qvel[:] = 0.0
        observations.append(dmc._flatten(task.get_observation(physics)))
        distances.append(physics.finger_to_target_dist())
    return np.stack(observations), np.asarray(distances)


@torch.no_grad()
def learned_value_and_reward(agent: Any, observations: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(V mean over all Q heads, their std, predicted reward) of the prior's mean action at each observation."""
    obs = torch.as_tensor(observations, device=agent.device)
    z = agent.world_model.initial_latent(obs)
    action = agent.policy.mean_action(z)
    za = torch.cat([z, action], -1)
    qs = agent.critic.two_hot.decode(torch.stack([head(za) for head in agent.critic.heads]))
    _, reward = agent.world_model.next_latent_and_reward(z, action)
    return qs.mean(0).cpu().numpy(), qs.std(0, correction=0).cpu().numpy(), reward.reshape(-1).cpu().numpy()


def target_from_base(physics: Any, observation: np.ndarray) -> float:
    """The target's distance from the arm's base, read from one state observation (joint angles, finger-to-target
    vector, velocities): the finger is placed by the physics at those angles, the target is that vector away."""
    with physics.reset_context():
        physics.named.data.qpos[["shoulder", "wrist"]] = observation[:2]
    return float(np.linalg.norm(physics.named.data.geom_xpos["finger", :2] + observation[2:4]))


def training_episodes_by_target(run_dir: Path, physics: Any, after: int = 0) -> list[tuple[int, float, float]]:
    """(env steps at its end, target distance from base, return) of each training episode of ``run_dir`` that
    ended after ``after`` env steps (they act with exploration: failures of the agent as it trains, ten times
    more than evaluations)."""
    found = []
    for end, path in episode_ends(run_dir):
        if end > after:
            with np.load(path) as data:
                found.append((end, target_from_base(physics, data["obs"][0]), float(data["reward"].sum())))
    return found


def by_distance_table(pairs: list[tuple[float, float]], fail_below: float, bins: int = 3) -> list[str]:
    """Markdown rows: failed / all episodes per band of target distance over reacher's 0.05-0.20 m."""
    edges = np.linspace(0.05, 0.20, bins + 1)
    rows = ["| target from base (m) | episodes | failed | failed share |", "|---|---|---|---|"]
    for lo, hi in zip(edges[:-1], edges[1:]):
        band = [ret for dist, ret in pairs if lo <= dist < hi or (hi == edges[-1] and dist >= hi)]
        bad = sum(ret < fail_below for ret in band)
        rows.append(f"| {lo:.2f}-{hi:.2f} | {len(band)} | {bad} | {bad / len(band):.0%} |" if band
                    else f"| {lo:.2f}-{hi:.2f} | 0 | - | - |")
    return rows


@torch.no_grad()
def predicted_return(agent: Any, observations: np.ndarray, actions: np.ndarray) -> float:
    """The model's reward summed over a real episode: each real state encoded, with the action really taken."""
    z = agent.world_model.initial_latent(torch.as_tensor(observations, device=agent.device))
    _, reward = agent.world_model.next_latent_and_reward(z, torch.as_tensor(actions, device=agent.device))
    return float(reward.sum())


@torch.no_grad()
def rollout_errors(agent: Any, observations: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
                   horizon: int) -> tuple[float, float]:
    """(mean imagined - real reward over ``horizon`` decisions, mean |imagined - real| finger-to-target distance at
    the end), over every window of the real episode: the model rolled open-loop from each real state with the
    actions really taken next, as the planner rolls its candidates. The distance is decoded from the latent."""
    starts = len(actions) - horizon + 1
    device = agent.device
    z = agent.world_model.initial_latent(torch.as_tensor(observations[:starts], device=device))
    imagined = torch.zeros(starts, device=device)
    for k in range(horizon):
        z, reward = agent.world_model.next_latent_and_reward(z, torch.as_tensor(actions[k:k + starts], device=device))
        imagined += reward.reshape(-1).float()
    real = np.lib.stride_tricks.sliding_window_view(rewards, horizon).sum(1)
    decoded = agent.world_model.decode_observation(z).float().cpu().numpy()
    finger = np.linalg.norm(decoded[:, 2:4], axis=1)
    true_finger = np.linalg.norm(observations[horizon:horizon + starts, 2:4], axis=1)
    return float(np.mean(imagined.cpu().numpy() - real)), float(np.mean(np.abs(finger - true_finger)))


def local_rise(value: np.ndarray, poses: np.ndarray, pose: np.ndarray, v_pose: float,
               reach: float = LOCAL_REACH) -> float:
    """How much higher the best of ``poses`` (valued ``value``) within ``reach`` radians of ``pose`` (each joint; the
    shoulder wraps) is valued than ``pose`` itself: 0 or less means the pose is a local maximum of the learned value."""
    d_shoulder = np.abs((poses[:, 0] - pose[0] + np.pi) % (2 * np.pi) - np.pi)
    near = (d_shoulder <= reach) & (np.abs(poses[:, 1] - pose[1]) <= reach)
    return float(value[near].max() - v_pose) if near.any() else float("nan")


@torch.no_grad()
def probe_end_state(agent: Any, obs: np.ndarray, horizon: int, discount: float, steps: int = PROBE_STEPS
                    ) -> tuple[float, float]:
    """(best constant-action plan's imagined objective minus the prior's plan's, its wrist action) from ``obs``:
    the planner's own objective over a grid of plans that hold one action for the whole horizon. Run on a forked
    RNG (the terminal value samples the prior), so the episodes that follow are those of an unprobed run."""
    from planners.rollout import imagined_returns

    device = agent.device
    grid = torch.linspace(-1.0, 1.0, steps, device=device)
    constant = torch.cartesian_prod(grid, grid)  # (steps^2, 2): shoulder, wrist
    z0 = agent.world_model.initial_latent(torch.as_tensor(obs, device=device).unsqueeze(0))
    low, high = -torch.ones(2, device=device), torch.ones(2, device=device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        plans = constant.unsqueeze(0).expand(horizon, -1, -1).contiguous()
        scores = torch.zeros(len(constant), device=device)
        imagined_returns(agent.world_model.next_latent_and_reward, z0, plans, scores, horizon=horizon,
                         discount=discount, low=low, high=high, value=agent.terminal_value)
        prior_plan = torch.zeros(horizon, 1, 2, device=device)
        prior_score = torch.zeros(1, device=device)
        imagined_returns(agent.world_model.next_latent_and_reward, z0, prior_plan, prior_score, horizon=horizon,
                         discount=discount, low=low, high=high, value=agent.terminal_value,
                         policy=agent.policy.mean_action)
    best = int(torch.argmax(scores))
    return float(scores[best] - prior_score[0]), float(constant[best, 1])


def best_by_wrist_side(value: np.ndarray, poses: np.ndarray, inside: np.ndarray) -> tuple[float, float]:
    """(best ``value`` over the ``inside`` poses with the wrist >= 0, best with the wrist < 0; NaN where a side has
    none): the target's two arm solutions (elbow either way), which a run that habitually bends its wrist one way
    may value very differently."""
    sides = []
    for side in (poses[:, 1] >= 0, poses[:, 1] < 0):
        chosen = inside & side
        sides.append(float(value[chosen].max()) if chosen.any() else float("nan"))
    return sides[0], sides[1]


def verdict(believed: float, fail_below: float, v_stop: float, v_target: float, peak_distance: float,
            radius: float, rise: float) -> str:
    """believed-solved: the model's reward along the real path says the episode succeeded (it did not); else
    value-elsewhere: the best-valued pose is not at the target; value-flat: it is, but the pose where the arm
    stopped is valued as high; local-optimum: the target is the peak, but where the arm stopped no pose nearby is
    valued higher (a plan that looks a few steps ahead sees nothing to gain); value-right: the target is the peak
    and the value rises from the stop towards somewhere (planning did not follow it)."""
    if believed >= fail_below:
        return "believed-solved"
    if peak_distance > 2 * radius:
        return "value-elsewhere"
    if v_target <= v_stop:
        return "value-flat"
    return "local-optimum" if rise <= 0 else "value-right"


def anatomy(agent: Any, dmc: Any, episode: int, ret: float, distances: list[float], speed: float,
            believed: float, errors: tuple[float, float], probe: tuple[float, float], fail_below: float,
            grid: np.ndarray) -> tuple[EpisodeAnatomy, dict[str, np.ndarray]]:
    """The learned maps of this episode's target (the env is at the episode's last state): the figures, and the
    maps themselves over ``grid`` (value, predicted reward, finger-to-target distance)."""
    physics = dmc._env.physics
    radius = float(physics.named.model.geom_size["target", 0] + physics.named.model.geom_size["finger", 0])
    stop_pose = physics.named.data.qpos[["shoulder", "wrist"]].copy()
    observations, dist = poses_at_rest(dmc, np.concatenate([stop_pose[None], grid]))
    value, spread, reward = learned_value_and_reward(agent, observations)
    inside = dist[1:] <= radius
    v_grid, s_grid, r_grid = value[1:], spread[1:], reward[1:]
    best_in = int(np.argmax(np.where(inside, v_grid, -np.inf))) if inside.any() else -1
    v_target = float(v_grid[best_in]) if inside.any() else float("nan")
    away = dist[1:] > 2 * radius
    rim = (dist[1:] > radius) & (dist[1:] <= radius + RIM)
    v_outside = float(v_grid[away].max()) if away.any() else float("nan")
    peak_distance = float(dist[1:][int(np.argmax(v_grid))])
    rise = local_rise(v_grid, grid, stop_pose, float(value[0]))
    row = EpisodeAnatomy(
        episode, ret, distances[-1], min(distances), radius,
        float(np.linalg.norm(physics.named.data.geom_xpos["target", :2])), speed, float(stop_pose[1]), believed,
        float(reward[0]), *errors, *probe, float(value[0]), v_target, *best_by_wrist_side(v_grid, grid, inside),
        v_outside,
        peak_distance, rise,
        float(s_grid[best_in]) if inside.any() else float("nan"),
        float(r_grid[inside].mean()) if inside.any() else float("nan"), float(r_grid[~inside].mean()),
        float(r_grid[rim].mean()) if rim.any() else float("nan"),
        verdict(believed, fail_below, float(value[0]), v_target, peak_distance, radius, rise) if inside.any()
        else "target-unreachable")
    return row, {"value": v_grid, "reward": r_grid, "distance": dist[1:]}


def plot_maps(path: Path, row: EpisodeAnatomy, maps: dict[str, np.ndarray], size: int, poses: np.ndarray) -> None:
    """Learned V and predicted reward over the (shoulder, wrist) grid, the target's poses outlined, the episode's
    path of poses over them (white dots, from the large white one) and where it ended (red)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    extent = (-np.pi, np.pi, -WRIST_LIMIT, WRIST_LIMIT)
    shoulder = (poses[:, 0] + np.pi) % (2 * np.pi) - np.pi  # the shoulder turns freely: wrap onto the grid's turn
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    for ax, key, name in zip(axes, ("value", "reward"), ("learned V", "predicted reward")):
        image = ax.imshow(maps[key].reshape(size, size).T, origin="lower", extent=extent, aspect="auto", cmap="viridis")
        ax.contour(maps["distance"].reshape(size, size).T, levels=[row.radius], colors="red", extent=extent)
        ax.plot(shoulder, poses[:, 1], ".", color="white", markersize=1.5)
        ax.plot(shoulder[0], poses[0, 1], "o", color="white", markersize=6)
        ax.plot(shoulder[-1], poses[-1, 1], "o", color="red", markersize=6)
        # the wrist's limit is soft: pushed against it, the arm goes a little past the grid, and must still show
        ax.set_ylim(min(-WRIST_LIMIT, poses[:, 1].min()) - 0.05, max(WRIST_LIMIT, poses[:, 1].max()) + 0.05)
        ax.set(xlabel="shoulder (rad)", ylabel="wrist (rad)", title=name)
        fig.colorbar(image, ax=ax)
    fig.suptitle(f"episode {row.episode}: return {row.ret:.0f}, target {row.target_from_base:.3f} m from the base, "
                 f"verdict {row.verdict} (target poses outlined in red)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def run_episodes(path: Path, episodes: int, seed: int, fail_below: float, grid_size: int, threads: int,
                 training_after: int | None,
                 maps_dir: Path | None = None) -> tuple[int, list[EpisodeAnatomy], list[tuple[float, float]]]:
    """Evaluation episodes of the checkpoint (the trainer's reset seeds) and the anatomy of each; with
    ``training_after``, also (target distance, return) of the run's training episodes after that step."""
    from agent.run.evaluate import EVAL_SEED_OFFSET
    from agent.run.restore import restore_run
    from agent.run.runtime import seed_everything, set_threads

    restored = restore_run(path, torch.device("cpu"), with_llm=False)
    set_threads(threads)
    seed_everything(seed)  # as `agent.run.evaluate.evaluate_restored`: the same planner samples, the same episodes
    agent, env = restored.agent, restored.env
    dmc = env.unwrapped
    if getattr(dmc, "_env", None) is None or dmc._env.task.__class__.__name__ != "Reacher":
        raise SystemExit(f"{path}: trained on {restored.config.env.name}; this diagnosis reads dm_control "
                         "reacher's physics (reacher-easy or reacher-hard)")
    grid = pose_grid(grid_size)
    rng = np.random.default_rng(seed)
    found, training = [], []
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=EVAL_SEED_OFFSET + seed * 1000 + i)
            if not np.allclose(dmc._flatten(dmc._env.task.get_observation(dmc._env.physics)), obs):
                raise SystemExit(f"{path}: its observations are not reacher's state vector (a pixel run?); "
                                 "this diagnosis maps poses of state runs")
            agent.reset()
            ret, done, distances, observations, actions, rewards = 0.0, False, [], [obs], [], []
            while not done:
                actions.append(agent.act(obs, explore=False, rng=rng))
                obs, reward, terminated, truncated, _ = env.step(actions[-1])
                observations.append(obs)
                ret += float(reward)
                rewards.append(float(reward))
                distances.append(float(dmc._env.physics.finger_to_target_dist()))
                done = terminated or truncated
            speed = float(np.linalg.norm(dmc._env.physics.named.data.qvel[["shoulder", "wrist"]]))
            believed = predicted_return(agent, np.stack(observations[:-1]), np.stack(actions))
            errors = rollout_errors(agent, np.stack(observations), np.stack(actions), np.asarray(rewards),
                                    restored.config.plan.plan_horizon)
            probe = probe_end_state(agent, observations[-1], restored.config.plan.plan_horizon,
                                    restored.config.learn.discount)
            row, maps = anatomy(agent, dmc, i, ret, distances, speed, believed, errors, probe, fail_below, grid)
            found.append(row)
            if maps_dir is not None and ret < fail_below:
                plot_maps(maps_dir / f"episode_{i:02d}.png", row, maps, grid_size, np.stack(observations)[:, :2])
            print(f"episode {i}: return {ret:.0f} (model's {believed:.0f}), final distance {row.final_distance:.3f} "
                  f"(radius {row.radius:.3f}), wrist {row.stop_wrist:.2f}, V stop {row.v_stop:.1f} / target "
                  f"{row.v_target_best:.1f} / away "
                  f"{row.v_outside_best:.1f}, peak {row.peak_distance:.3f} from the target"
                  + (f" -> {row.verdict}" if ret < fail_below else ""), flush=True)
        if training_after is not None:
            run_dir = restored.checkpoint.parent.parent
            training = [(distance, ret) for _, distance, ret in
                        training_episodes_by_target(run_dir, dmc._env.physics, training_after)]
    finally:
        restored.close()
    return restored.env_steps, found, training


def target_note(rows: list[EpisodeAnatomy], failed: list[EpisodeAnatomy]) -> str:
    """Where the failed episodes' targets lie, beside the solved ones' (distance from the arm's base)."""
    solved = [r for r in rows if r not in failed]
    parts = []
    for name, group in (("Failed", failed), ("solved", solved)):
        if group:
            at = [r.target_from_base for r in group]
            parts.append(f"{name} episodes' targets at {np.median(at):.3f} m from the base (median; range "
                         f"{min(at):.3f}-{max(at):.3f})")
    return "; ".join(parts) + "." if parts else ""


def rollout_note(rows: list[EpisodeAnatomy], failed: list[EpisodeAnatomy]) -> str:
    """How well the model's open-loop rollouts over the planning horizon track the real path, failed vs solved."""
    solved = [r for r in rows if r not in failed]
    parts = [f"{name} {100 * np.mean([r.rollout_finger_error for r in group]):.1f} cm "
             f"(reward bias {np.mean([r.rollout_reward_bias for r in group]):+.2f})"
             for name, group in (("failed episodes", failed), ("solved", solved)) if group]
    return ("Model rollouts over the planning horizon from each real state with the real actions misplace the finger "
            "by " + ", ".join(parts) + ".") if parts else ""


def report(data: dict[str, Any]) -> str:
    rows = [EpisodeAnatomy(**r) for r in data["episodes"]]
    failed = [r for r in rows if r.ret < data["fail_below"]]
    counts = {v: sum(r.verdict == v for r in failed) for v in sorted({r.verdict for r in failed})}
    head = ["episode", "return", "model's return", "target from base", "final dist", "min dist", "end speed",
            "end wrist", "r-hat at end", "rollout reward bias", "rollout finger error (cm)", "probe gain",
            "probe wrist action", "V stop", "V target (best)", "V target, wrist + (best)", "V target, wrist - (best)",
            "V away (best)", "V peak's distance", "V rise nearby", "Q-head std at target", "r-hat inside",
            "r-hat outside", "r-hat 1 cm outside", "verdict"]
    lines = [f"# Why reacher episodes fail: {data['tag']}", "", f"Command: `{data['command']}`", "",
             f"Checkpoint {data['checkpoint']} at {data['env_steps']} env steps; {len(rows)} evaluation episodes "
             f"(eval seed {data['seed']}), {len(failed)} below {data['fail_below']:g}. "
             f"Maps over a {data['grid']}x{data['grid']} grid of arm poses at rest, this episode's target in place; "
             "V = Q(z, mean prior action), mean over all heads. Verdicts of the failed episodes: "
             + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none") + ". " + target_note(rows, failed)
             + " " + rollout_note(rows, failed), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join([
            str(r.episode), f"{r.ret:.0f}", f"{r.predicted_return:.0f}", f"{r.target_from_base:.3f}",
            f"{r.final_distance:.3f}", f"{r.min_distance:.3f}", f"{r.final_speed:.2f}", f"{r.stop_wrist:.2f}",
            f"{r.reward_stop:.2f}", f"{r.rollout_reward_bias:+.2f}", f"{100 * r.rollout_finger_error:.1f}",
            f"{r.probe_gain:+.1f}", f"{r.probe_wrist:+.1f}",
            f"{r.v_stop:.1f}", f"{r.v_target_best:.1f}", f"{r.v_target_wrist_pos:.1f}", f"{r.v_target_wrist_neg:.1f}",
            f"{r.v_outside_best:.1f}", f"{r.peak_distance:.3f}", f"{r.local_rise:+.1f}", f"{r.head_std_target:.2f}",
            f"{r.reward_inside:.2f}", f"{r.reward_outside:.2f}", f"{r.reward_rim:.2f}",
            r.verdict if r.ret < data["fail_below"] else "-"]) + " |")
    lines += ["", "Evaluation episodes by target distance:", "",
              *by_distance_table([(r.target_from_base, r.ret) for r in rows], data["fail_below"])]
    if data.get("training") is not None:
        training = [(float(d), float(r)) for d, r in data["training"]]
        lines += ["", f"Training episodes (with exploration) ending after {data['training_after']} env steps, "
                  "by target distance:", "", *by_distance_table(training, data["fail_below"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a reacher run directory (newest checkpoint) or checkpoint file")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed (the reset seeds of the episodes; the "
                        "trainer evaluates a run with its own --seed)")
    parser.add_argument("--fail-below", type=float, default=600.0, help="an episode below this return failed")
    parser.add_argument("--grid", type=int, default=96, help="poses per joint in the maps (default 96)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--training-after", type=int, default=None, metavar="STEPS",
                        help="also count the run's training episodes ending after STEPS env steps, by target distance")
    parser.add_argument("--tag", required=True, help="results file name: reacher_failures_<tag>.{md,json}")
    args = parser.parse_args(argv)
    checks = ((args.episodes, "--episodes", 1), (args.grid, "--grid", 4), (args.threads, "--threads", 1))
    for value, name, least in checks:
        if value < least:
            raise SystemExit(f"{name} {value}: expected at least {least}")
    maps_dir = RESULTS_DIR / f"reacher_failures_{args.tag}"
    env_steps, rows, training = run_episodes(args.run, args.episodes, args.seed, args.fail_below, args.grid,
                                             args.threads, args.training_after, maps_dir)
    data = {"tag": args.tag, "checkpoint": str(args.run), "env_steps": env_steps, "seed": args.seed,
            "fail_below": args.fail_below, "grid": args.grid, "episodes": [asdict(r) for r in rows],
            "training_after": args.training_after, "training": training if args.training_after is not None else None,
            "command": "python benchmarks/reacher_failures.py " + shlex.join(sys.argv[1:] if argv is None else argv)}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"reacher_failures_{args.tag}.json").write_text(json.dumps(data, indent=1) + "\n")
    table = report(data)
    (RESULTS_DIR / f"reacher_failures_{args.tag}.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
