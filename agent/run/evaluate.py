"""Evaluation episodes (no exploration noise) and the real-beside-imagined video."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from agent.layout import EVAL_CSV, EVAL_SAFETY_CSV
from agent.world_model_agent import WorldModelAgent
from agent.model.safety_head import UNSAFE_THRESHOLD, precision_recall
from agent.run.video import frames_from_decoder, mark_safety, side_by_side_video, trace_panel

if TYPE_CHECKING:  # the logger pulls in TensorBoard, which 'wm-agent eval' does not need
    from agent.config import RunConfig
    from agent.run.logger import RunLogger

EVAL_SEED_OFFSET = 1_000_000_000  # eval episodes never share a reset seed with training ones


@dataclass
class EvalResult:
    returns: list[float]
    lengths: list[int]
    plan_ms_per_action: float
    video: np.ndarray | None = None          # (T, H, W, 3) uint8
    trace_image: np.ndarray | None = None    # (H, W, 3) uint8, proprioceptive runs only
    video_error: str | None = None           # why the video was skipped (rendering failed)
    costs: list[float] | None = None         # safety cost summed per episode (unsafe steps)
    violation_rate: float = float("nan")     # fraction of steps flagged unsafe by the env
    precision: float = float("nan")          # of the safety head (P >= 0.5) against the env's flags,
    recall: float = float("nan")             # on these held-out episodes (NaN: no head, or undefined)

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        return float(np.std(self.returns))


def evaluate(agent: WorldModelAgent, env: gym.Env, episodes: int, seed: int, record_video: bool,
             rng: np.random.Generator, explore: bool = False) -> EvalResult:
    """Run ``episodes`` planner episodes on fixed reset seeds; record the first as a video.

    ``explore`` acts as while training (a drawn elite plus the planner's noise): a diagnostic, to tell a
    deterministic plan that is trapped from an agent that cannot do the task."""
    returns, lengths, plan_seconds, decisions = [], [], 0.0, 0
    costs, step_costs, step_predicted = [], [], []
    video = trace = video_error = None
    pixels = len(env.observation_space.shape or ()) == 3
    has_cost = True  # until a reset shows the env reports none (a custom env without a safety cost)
    for i in range(episodes):
        obs, info = env.reset(seed=EVAL_SEED_OFFSET + seed * 1000 + i)
        has_cost = has_cost and "cost" in info
        agent.reset()
        recording = record_video and i == 0
        observations, states, frames, actions = [obs], [info.get("state", obs)], [], []
        flags = [(False, info.get("cost", 0.0) > 0)]  # (predicted unsafe, really unsafe) per frame
        if recording:
            frame, video_error = _frame(env, obs, pixels)
            recording = frame is not None
            frames.append(frame)
        total, cost, done, steps = 0.0, 0.0, False, 0
        while not done:
            start = time.perf_counter()
            action = agent.act(obs, explore=explore, rng=rng)
            plan_seconds += time.perf_counter() - start
            decisions += 1
            steps += 1
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            cost += float(info.get("cost", 0.0))
            predicted = agent.last_p_unsafe >= UNSAFE_THRESHOLD  # NaN (no head) compares False
            step_costs.append(float(info.get("cost", 0.0)))
            step_predicted.append(predicted)
            flags.append((predicted, info.get("cost", 0.0) > 0))
            done = terminated or truncated
            if recording:
                observations.append(obs)
                states.append(info.get("state", obs))
                actions.append(action)
                frame, video_error = _frame(env, obs, pixels)
                recording = frame is not None
                frames.append(frame)
        returns.append(total)
        lengths.append(steps)
        costs.append(cost)
        if recording:
            frames = mark_safety(np.stack(frames), flags)
            video, trace = _rollout_video(agent, np.stack(observations), np.stack(states), frames,
                                          np.stack(actions), pixels)
    has_head = getattr(agent, "safety_head", None) is not None
    precision, recall = precision_recall(np.array(step_predicted), np.array(step_costs) > 0) if has_head \
        else (float("nan"), float("nan"))
    return EvalResult(returns, lengths, 1000.0 * plan_seconds / max(decisions, 1), video, trace, video_error,
                      costs=costs if has_cost else None,
                      violation_rate=float(np.mean(step_costs)) if step_costs and has_cost else float("nan"),
                      precision=precision, recall=recall)


def _frame(env: gym.Env, obs: np.ndarray, pixels: bool) -> tuple[np.ndarray | None, str | None]:
    """The video frame of this step, or (None, why) when the renderer fails.

    A video is a nice-to-have: a broken GL context (EGL/OSMesa errors come in many
    exception types) drops the video, never the evaluation or the run.
    """
    if pixels:
        return obs, None
    try:
        return env.render(), None
    except Exception as exc:  # noqa: BLE001 - any renderer failure only costs the video
        return None, f"{type(exc).__name__}: {exc}".splitlines()[0]


def _rollout_video(agent: WorldModelAgent, observations: np.ndarray, states: np.ndarray, frames: np.ndarray,
                   actions: np.ndarray, pixels: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Replay the executed actions open-loop in the model from the same first observation."""
    imagined = agent.imagine(observations[0], actions)
    if pixels:
        return side_by_side_video(frames, right=frames_from_decoder(imagined)), None
    height = frames.shape[1]
    panel = trace_panel(states, imagined, height=height, width=2 * height)
    return side_by_side_video(frames, panel=panel), trace_panel(states, imagined, height=192, width=384)


def eval_report_path(run_dir: Path, env_steps: int, plan: Mapping[str, Any] | None = None) -> Path:
    """Where ``evaluate_checkpoint`` writes its report on the run's checkpoint at ``env_steps``; planner
    changes get a file of their own (``eval_50000_prior_margin=5.json``), so they never stand for the run's own."""
    changes = "".join(f"_{name}={value}" for name, value in sorted((plan or {}).items()))
    return run_dir / f"eval_{env_steps}{changes}.json"


@dataclass
class CheckpointEvaluation:
    checkpoint: Path
    config: RunConfig
    env_steps: int
    result: EvalResult
    plan_stats: dict[str, float]  # the agent's own planning counters (agent.plan_stats())


def evaluate_restored(path: Path, episodes: int, seed: int, device: str = "auto", trust: bool = False,
                      plan: Mapping[str, Any] | None = None, with_llm: bool = True,
                      threads: int | None = None, explore: bool = False) -> CheckpointEvaluation:
    """Restore a checkpoint (see `agent.run.restore.restore_run`) and run ``episodes`` evaluation episodes.

    The same ``seed`` gives the same returns: it fixes the episodes' reset seeds and the planner's
    samples. ``threads``: torch threads (None = the run's own setting); ``explore``: see `evaluate`.
    """
    from agent.run.restore import restore_run
    from agent.run.runtime import pick_device, seed_everything, set_threads

    run = restore_run(path, pick_device(device), trust=trust, with_llm=with_llm, plan=plan)
    set_threads(run.config.threads if threads is None else threads, pixels=run.config.env.obs == "pixels")
    seed_everything(seed)  # the planner samples from torch's global RNG
    try:
        result = evaluate(run.agent, run.env, episodes, seed, record_video=False, rng=np.random.default_rng(seed),
                          explore=explore)
        stats = run.agent.plan_stats()
    finally:
        run.close()
    return CheckpointEvaluation(run.checkpoint, run.config, run.env_steps, result, stats)


def evaluate_checkpoint(path: Path, episodes: int, seed: int, device: str = "auto", trust: bool = False,
                        plan: Mapping[str, Any] | None = None) -> dict:
    """Load a run directory's newest checkpoint (or a checkpoint file) and evaluate it on ``device``.

    The device is this machine's choice, not the training run's: a run trained on a GPU is
    evaluated on a laptop's CPU just as well (the checkpoint is loaded onto the CPU first).
    Reads without the run's lock and writes only its own report: a run may be training.
    ``trust`` unpickles a format-1 checkpoint (it can run code). The same ``seed`` gives the same
    returns: it fixes the episodes' reset seeds and the planner's samples. ``plan``: `PlanConfig`
    fields to plan with instead of the run's (see `agent.run.restore.restore_run`).
    """
    done = evaluate_restored(path, episodes, seed, device, trust, plan)
    result = done.result
    report = {"checkpoint": str(done.checkpoint), "env": done.config.env.name, "env_steps": done.env_steps,
              "plan_changes": dict(plan or {}),
              "episodes": episodes, "return_mean": result.mean, "return_std": result.std,
              "returns": result.returns, "plan_ms_per_action": result.plan_ms_per_action,
              "costs": result.costs, "violation_rate": result.violation_rate,
              "safety_head_precision": result.precision, "safety_head_recall": result.recall}
    out = eval_report_path(done.checkpoint.parent.parent, done.env_steps, plan)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def write_evaluation(logger: RunLogger, step: int, result: EvalResult, wall_seconds: float) -> None:
    """What an evaluation during training leaves: eval/ and perf/ scalars, the video and state traces,
    a log line and a row of eval.csv (and of eval_safety.csv with a safety signal)."""
    logger.scalars("eval", {"return_mean": result.mean, "return_std": result.std,
                            "episode_length": float(np.mean(result.lengths))}, step)
    logger.scalars("perf", {"eval_plan_ms_per_action": result.plan_ms_per_action}, step)
    if result.video_error is not None:
        logger.warning(f"eval video at {step} env steps skipped: rendering failed ({result.video_error})")
    if result.video is not None:
        logger.video("eval/rollout_real_vs_imagined", result.video, step)
    if result.trace_image is not None:
        logger.image("eval/state_traces_real_vs_imagined", result.trace_image, step)
    logger.message(f"eval at {step} env steps: return {result.mean:.1f} +- {result.std:.1f} "
                   f"over {len(result.returns)} episodes ({result.plan_ms_per_action:.1f} ms/action)")
    # Rows wait in memory on a full disk (the logger writes them with the next one).
    logger.csv_row(EVAL_CSV, "env_steps,return_mean,return_std,episodes,wall_seconds\n",
                   f"{step},{result.mean:.3f},{result.std:.3f},{len(result.returns)},{wall_seconds:.1f}\n")
    _write_safety(logger, step, result)
    logger.flush()  # after the last event at this step: a new event file purges only later steps


def _write_safety(logger: RunLogger, step: int, result: EvalResult) -> None:
    """Violations of the evaluation episodes and the safety head's precision/recall on them."""
    if result.costs is None:
        return
    logger.scalars("eval", {"episode_cost": float(np.mean(result.costs)),
                            "violation_rate": result.violation_rate}, step)
    head = {"precision": result.precision, "recall": result.recall}
    logger.scalars("safety", {k: v for k, v in head.items() if np.isfinite(v)}, step)
    logger.csv_row(EVAL_SAFETY_CSV, "env_steps,episode_cost_mean,violation_rate,head_precision,head_recall\n",
                   f"{step},{np.mean(result.costs):.3f},{result.violation_rate:.4f},{result.precision:.4f},"
                   f"{result.recall:.4f}\n")
