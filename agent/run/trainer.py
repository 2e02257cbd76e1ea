"""The training loop: collect episodes -> replay -> update the model -> plan -> collect.

A run directory holds everything: ``config.json``, ``episodes/`` (one file per finished
episode), ``checkpoints/``, TensorBoard event files and ``train.log``. Resuming rebuilds
the replay from ``episodes/`` and the learner from the newest checkpoint; the env-step
counter is the number of steps in the replay, so no finished episode is lost or counted
twice.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import numpy as np
import torch
from tqdm import tqdm

from agent.layout import CHECKPOINT_DIR, CONFIG_FILE, EPISODE_DIR, EVAL_CSV, EXIT_INTERRUPTED
from agent.world_model_agent import build_agent
from agent.run.checkpoint import (CheckpointError, list_checkpoints, load_newest_checkpoint, restore_rng_state, rng_state,
                              save_checkpoint)
from agent.config import RunConfig
from agent.run.evaluate import evaluate, write_evaluation
from agent.run.logger import RunLogger, append_log
from agent.learn.profiling import OFF, PhaseTimer
from agent.learn.replay import Episode, EpisodeBuilder, EpisodeReplay
from agent.run.lock import RunLock
from agent.run.runtime import pick_device, seed_everything, set_threads
from agent.run.update_schedule import UpdateSchedule, UpdateTally
from envs import make_env


class Interrupted(Exception):
    """Raised by the SIGTERM handler so the loop can checkpoint and exit cleanly."""


def new_run_dir(logdir: Path, cfg: RunConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    env_label = cfg.env.name.rpartition(":")[2]  # a custom env's id, without its module
    base = logdir / f"{env_label}-{cfg.env.obs}-{cfg.plan.planner}-s{cfg.seed}-{stamp}"
    run_dir, n = base, 1
    while run_dir.exists():
        run_dir, n = Path(f"{base}-{n}"), n + 1
    return run_dir


@dataclass
class EpisodePace:
    """What one episode spent where, for its perf/ and loss/ scalars."""

    start: float
    plan_seconds: float = 0.0
    planned: int = 0
    updates: UpdateTally = field(default_factory=UpdateTally)


class Trainer:
    def __init__(self, cfg: RunConfig, run_dir: Path, resume: bool = False, progress: bool = True,
                 trust_checkpoint: bool = False) -> None:
        """Take the run directory's lock (one writer per run), then build or restore everything.

        ``trust_checkpoint`` lets a resume unpickle a format-1 checkpoint (it can run code).
        """
        self.cfg, self.run_dir, self.progress = cfg, run_dir, progress
        self.trust_checkpoint = trust_checkpoint
        run_dir.mkdir(parents=True, exist_ok=True)
        self.lock = RunLock(run_dir).acquire()
        try:
            self._build(resume)
        except BaseException:
            self.lock.release()  # a refused start must not keep the run locked for this process
            raise

    def _build(self, resume: bool) -> None:
        cfg, run_dir = self.cfg, self.run_dir
        if not resume:
            cfg.save(run_dir / CONFIG_FILE)
        # Overlapped, planning and updating each take a core: one intra-op thread per side unless told otherwise
        # (a learner on 2 threads beside a 1-thread planner measured 0.90x the 1 + 1 split: notes in
        # benchmarks/results/step_profile_amx.notes.md).
        overlap = cfg.learn.schedule == "overlap"
        set_threads(cfg.threads or (1 if overlap else 0), pixels=cfg.env.obs == "pixels")
        seed_everything(cfg.seed)
        self.device = pick_device(cfg.device)
        repeat = cfg.env.action_repeat or None
        self.env = make_env(cfg.env.name, obs=cfg.env_obs_mode, action_repeat=repeat,
                            image_size=cfg.env.image_size, safety=cfg.env.safety())
        self.eval_env = make_env(cfg.env.name, obs=cfg.env_obs_mode, action_repeat=repeat,
                                 image_size=cfg.env.image_size, safety=cfg.env.safety())
        self.agent = build_agent(cfg, self.env, self.device)
        self.updates = UpdateSchedule(overlap, self._update, self._sample, self.agent.sync_from_learner, OFF)
        self.rng = np.random.default_rng(cfg.seed)
        self.replay = (EpisodeReplay.load(run_dir / EPISODE_DIR, self.env.observation_space, self.env.action_space)
                       if resume else EpisodeReplay(run_dir / EPISODE_DIR))
        self.pretrained = False
        self.num_evals = 0
        self.last_eval_step = 0
        self.update_debt = 0.0
        self.prior_seconds = 0.0  # wall-clock of earlier sittings of this run
        self.session_start = time.perf_counter()
        self.physics_unstable_episodes = 0
        self.last_checkpoint_step = 0
        self.timer = OFF  # benchmarks/step_profile.py times the loop's phases
        if resume:
            self._restore()
        else:
            self.logger = RunLogger(run_dir)
            self.logger.config(cfg.to_dict())

    # --- state ---------------------------------------------------------------------------
    @property
    def timer(self) -> PhaseTimer:
        return self.updates.timer

    @timer.setter
    def timer(self, timer: PhaseTimer) -> None:
        self.updates.timer = timer  # the schedule times the updates, in whichever thread runs them

    @property
    def env_steps(self) -> int:
        return self.replay.num_steps

    def _restore(self) -> None:
        newest = load_newest_checkpoint(self.run_dir / CHECKPOINT_DIR, self.device, self.trust_checkpoint)
        checkpoint_step, skipped = 0, []
        if newest is not None:
            path, state, skipped = newest
            try:
                self.agent.load_state_dict(state["agent"])
            except (RuntimeError, KeyError) as exc:  # e.g. an --override of a network size
                raise CheckpointError(f"checkpoint {path} does not fit this run's config: "
                                      f"{str(exc).splitlines()[0]}") from None
            restore_rng_state(state["rng"])
            self.rng.bit_generator.state = state["numpy_generator"]
            self.pretrained = state["pretrained"]
            self.num_evals = state["num_evals"]
            self.last_eval_step = state["last_eval_step"]
            self.prior_seconds = state["wall_seconds"]
            checkpoint_step = state["env_steps"]
            source = path.name
        else:
            source = "no checkpoint (fresh model)"
        self.last_checkpoint_step = checkpoint_step  # a run killed again and again still checkpoints
        self._continue_logs_from(checkpoint_step)
        for line in skipped:  # a truncated newer checkpoint: say which one was used instead
            self.logger.warning(f"{line}; resuming from the newest intact one, {source}")
        self.logger.message(f"resumed {self.run_dir} from {source}: {self.replay.num_episodes} episodes, "
                            f"{self.env_steps} env steps in replay")

    def _continue_logs_from(self, checkpoint_step: int) -> None:
        """Make TensorBoard and eval.csv continue from the checkpoint, as if the run never stopped.

        What a killed process logged after its last checkpoint is hidden (TensorBoard's
        purge_step) or dropped (eval.csv), since the resumed run redoes that part; the
        returns of episodes it finished after the checkpoint are in the replay, so they
        are logged again at their own steps: every episode end appears exactly once.
        """
        self.logger = RunLogger(self.run_dir, purge_step=checkpoint_step + 1)
        end = 0
        for length, episode_return in zip(self.replay.episode_lengths, self.replay.episode_returns):
            end += length
            if end > checkpoint_step:
                self.logger.scalars("train", {"episode_return": episode_return, "episode_length": length}, end)
        eval_csv = self.run_dir / EVAL_CSV
        if eval_csv.is_file():
            header, *rows = eval_csv.read_text().splitlines(keepends=True)
            kept = [row for row in rows if int(row.split(",")[0]) <= checkpoint_step]
            if len(kept) < len(rows):
                eval_csv.write_text(header + "".join(kept))

    @property
    def wall_seconds(self) -> float:
        """Training wall-clock summed over every sitting of this run."""
        return self.prior_seconds + time.perf_counter() - self.session_start

    def save(self) -> Path | None:
        """Checkpoint now; on failure (full disk) say so in one line, keep training and try again later.

        Skipped while some finished episodes are not on disk yet: a checkpoint must never be
        ahead of the replay files that a resume rebuilds the replay from. They are tried again
        first, so the last checkpoint of a run whose disk has room again catches up.
        """
        self.updates.finish()  # the checkpoint holds the weights after every update so far
        if self.replay.unsaved:
            pending = len(self.replay.unsaved)
            self.replay.write_unsaved()
            self._report_episode_writes(pending, added=0)
        if self.replay.unsaved:
            self.logger.warning(f"checkpoint at {self.env_steps} env steps skipped: {len(self.replay.unsaved)} "
                                f"finished episodes are not on disk yet ({self.replay.last_write_error})")
            return None
        self.logger.flush()  # events up to this checkpoint reach the disk before it does
        payload = {"agent": self.agent.state_dict(), "rng": rng_state(),
                   "numpy_generator": self.rng.bit_generator.state, "pretrained": self.pretrained,
                   "num_evals": self.num_evals, "last_eval_step": self.last_eval_step,
                   "wall_seconds": self.wall_seconds,
                   "env_steps": self.env_steps, "episodes": self.replay.num_episodes, "config": self.cfg.to_dict()}
        try:
            return save_checkpoint(self.run_dir / CHECKPOINT_DIR, self.env_steps, payload, self.cfg.keep_checkpoints)
        except OSError as exc:  # CheckpointWriteError too: torch.save's RuntimeError on a full disk
            newest = list_checkpoints(self.run_dir / CHECKPOINT_DIR)
            self.logger.warning(f"checkpoint at {self.env_steps} env steps not written ({exc}); training goes on, "
                                f"next try at the next checkpoint; newest intact checkpoint: "
                                f"{newest[-1].name if newest else 'none'}")
            return None

    # --- the loop ----------------------------------------------------------------------------
    def train(self) -> int:
        """Train to ``cfg.steps`` env steps; SIGINT/SIGTERM checkpoint and return.

        Returns the exit status: 0 when ``cfg.steps`` is reached, EXIT_INTERRUPTED when stopped (and
        checkpointed: resume it), or 1 when the last checkpoint (or an episode file) could not be
        written, so that a scheduler does not take the run for complete.
        """
        status = 0
        previous = signal.signal(signal.SIGTERM, _raise_interrupted)
        bar = tqdm(total=self.cfg.steps, initial=self.env_steps, unit="step", dynamic_ncols=True,
                   disable=not self.progress, desc=self.cfg.env.name)
        last_checkpoint = self.last_checkpoint_step
        if self.env_steps >= self.cfg.steps:
            # The loop below still evaluates a step no evaluation has seen (a run stopped between
            # evaluations): say so, since 20 evaluation episodes can take minutes.
            outcome = (f"; its last evaluation was at {self.last_eval_step}, so it is evaluated once at "
                       f"{self.env_steps} ({self.cfg.eval_episodes} episodes) and not trained"
                       if self.env_steps > self.last_eval_step else "; nothing to do")
            self.logger.message(f"{self.run_dir} already has {self.env_steps} env steps (--steps {self.cfg.steps})"
                                f"{outcome}; pass a larger --steps to continue it")
        try:
            while True:
                # Checked before each episode as well as after it, so that a run stopped during an
                # evaluation redoes that evaluation when it resumes instead of skipping it.
                finished = self.env_steps >= self.cfg.steps
                evaluated = False
                if self.env_steps > self.last_eval_step and (
                        self.env_steps - self.last_eval_step >= self.cfg.eval_every or finished):
                    self._evaluate()
                    evaluated = True
                # A final evaluation at a step already checkpointed (a run resumed at or past --steps) is
                # written into that checkpoint again, or every later resume would evaluate that step again.
                if (finished and evaluated) or (self.env_steps > last_checkpoint and (
                        self.env_steps - last_checkpoint >= self.cfg.checkpoint_every or finished)):
                    saved = self.save()
                    last_checkpoint = self.env_steps
                    status = 0 if saved is not None else 1
                if finished:
                    break
                self._run_episode(bar)
        except (KeyboardInterrupt, Interrupted):
            path = self.save()
            status = EXIT_INTERRUPTED if path is not None else 1
            self.logger.message(f"interrupted at {self.env_steps} env steps; checkpoint {path}; "
                                f"continue with: wm-agent train --resume {self.run_dir}")
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.updates.close()
            bar.close()
            self.agent.close()
            self.logger.close()
            self.env.close()
            self.eval_env.close()
            self.lock.release()
        if self.replay.unsaved:
            print(f"wm-agent: error: {len(self.replay.unsaved)} finished episodes could not be written to "
                  f"{self.replay.directory} ({self.replay.last_write_error}); they are lost", file=sys.stderr)
            status = 1
        return status

    def _run_episode(self, bar: tqdm) -> None:
        cfg = self.cfg
        episode_index = self.replay.num_episodes
        obs, info = self.env.reset(seed=cfg.seed * 1_000_003 + episode_index)
        self.agent.reset()
        builder = EpisodeBuilder(obs, _extras(info))
        pace, done = EpisodePace(time.perf_counter()), False
        while not done:
            step = self.env_steps + len(builder)
            if step < cfg.seed_steps:
                action = self.rng.uniform(-1, 1, self.env.action_space.shape).astype(np.float32)
            else:
                t0 = time.perf_counter()
                with self.timer("plan"):
                    action = self.agent.act(obs, explore=True, rng=self.rng, follow_llm=True)
                pace.plan_seconds += time.perf_counter() - t0
                pace.planned += 1
            self.updates.finish()  # overlapped: the updates of the last step ran while this action was planned
            with self.timer("env"):
                obs, reward, terminated, truncated, info = self.env.step(action)
                builder.add(action, float(reward), obs, bool(terminated), _extras(info))
            if step >= cfg.seed_steps:
                self.agent.record_reward(float(reward))
            done = terminated or truncated
            if info.get("physics_unstable"):
                self.physics_unstable_episodes += 1
                # envs.stability already warned on stderr; keep the event in the run's own log too
                append_log(self.run_dir, f"warning: episode {episode_index} ended at step {len(builder)}: the "
                                         f"simulation became unstable ({info.get('physics_unstable_reason', '?')}); "
                                         f"the env is reset")
            if self.pretrained:
                self.update_debt += cfg.learn.utd
                count = 0
                while self.update_debt >= 1:
                    count += 1
                    self.update_debt -= 1
                self.updates.run(count, pace.updates)
            bar.update(1)
        self.updates.finish()
        with self.timer("episode_end"):
            self._end_episode(builder.build(), pace, bar)
        if not self.pretrained and self.env_steps >= cfg.seed_steps:
            self._pretrain()

    def _end_episode(self, episode: Episode, pace: EpisodePace, bar: tqdm) -> None:
        """Hand the episode to the replay (and its file to the disk) and log its return and pace."""
        pending_before = len(self.replay.unsaved)
        self.replay.add(episode)
        self._report_episode_writes(pending_before)
        elapsed = time.perf_counter() - pace.start
        step = self.env_steps
        self.logger.scalars("train", {"episode_return": episode.total_reward, "episode_length": len(episode)}, step)
        perf = {"env_steps_per_s": len(episode) / elapsed}
        if pace.planned:
            perf["plan_ms_per_action"] = 1000 * pace.plan_seconds / pace.planned
        if pace.updates.count:
            perf["update_ms"] = 1000 * pace.updates.seconds / pace.updates.count
            self.logger.scalars("loss", {k: v / pace.updates.count for k, v in pace.updates.losses_sum.items()}, step)
        self.logger.scalars("perf", perf, step)
        learner = self.agent.learner
        self.logger.scalars("health", {"nonfinite_updates_skipped": learner.nonfinite_skipped,
                                       "restores_of_last_good_weights": learner.restores,
                                       "physics_unstable_episodes": self.physics_unstable_episodes,
                                       "episodes_not_on_disk": len(self.replay.unsaved)}, step)
        self.logger.scalars("llm", self.agent.llm_stats(), step)  # nothing without --proposer llm
        self.logger.scalars("plan", self.agent.plan_stats(), step)  # nothing without --prior-margin
        costs = episode.extras.get("cost")
        if costs is not None:  # the cost after each action (the first row is the reset state's)
            self.logger.scalars("train", {"episode_cost": float(costs[1:].sum()),
                                          "violation_rate": float(costs[1:].mean())}, step)
        self.logger.scalars("safety", self.agent.safety_stats(), step)
        bar.set_postfix(ret=f"{episode.total_reward:.1f}", sps=f"{perf['env_steps_per_s']:.1f}")

    def _report_episode_writes(self, pending_before: int, added: int = 1) -> None:
        """One line when episode files start failing to be written, and one when they are caught up.

        ``added``: episodes handed to the replay since ``pending_before`` was counted.
        """
        pending = len(self.replay.unsaved)
        if pending and not pending_before:
            self.logger.warning(f"episode {self.replay.unsaved[0][0]} could not be written "
                                f"({self.replay.last_write_error}); kept in memory, writing again at each "
                                f"episode end (a kill now loses it)")
        elif pending_before and not pending:
            self.logger.message(f"wrote the {pending_before + added} episodes that were waiting for disk space")

    def _sample(self) -> dict[str, torch.Tensor]:
        return self.replay.sample(self.cfg.learn.batch_size, self.cfg.learn.horizon, self.rng, self.device)

    def _update(self, batch: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
        """One model update (on a new batch unless given): its losses, or {} when it was skipped as non-finite."""
        if batch is None:
            with self.timer("sample"):
                batch = self._sample()
        losses = self.agent.update(batch)
        if "nonfinite_skipped" in losses:  # the learner skipped a NaN/Inf step
            if losses["restored_last_good"]:
                self.logger.message(f"{self.agent.learner.MAX_BAD_IN_A_ROW} non-finite losses in a row at "
                                    f"{self.env_steps} env steps: restored the last good weights, learning rate halved")
            return {}
        return losses

    def _pretrain(self) -> None:
        """Fit the model to the seed data once before the planner starts acting with it."""
        if self.replay.valid_starts(self.cfg.learn.horizon).size == 0:
            return  # episodes still shorter than the training horizon: wait for more data
        self.agent.world_model.set_obs_stats(torch.as_tensor(self.replay.observations(), device=self.device))
        self.agent.sync_to_learner()
        tally = UpdateTally()
        for _ in tqdm(range(self.cfg.pretrain_updates), desc="pretraining", leave=False, disable=not self.progress):
            tally.add(self._update())
        self.agent.sync_from_learner()
        if self.cfg.pretrain_updates:
            self.logger.scalars("loss", {k: v / self.cfg.pretrain_updates for k, v in tally.losses_sum.items()},
                                self.env_steps)
        self.pretrained = True

    def _evaluate(self) -> None:
        record = self.cfg.video_every > 0 and self.num_evals % self.cfg.video_every == 0
        result = evaluate(self.agent, self.eval_env, self.cfg.eval_episodes, self.cfg.seed, record, self.rng)
        write_evaluation(self.logger, self.env_steps, result, self.wall_seconds)
        self.num_evals += 1
        self.last_eval_step = self.env_steps


def _extras(info: dict) -> dict[str, np.ndarray] | None:
    """Keep the proprioceptive state of pixel runs (videos, later models) and the safety cost."""
    extras = {"state": np.asarray(info["state"], np.float32)} if "state" in info else {}
    if "cost" in info:
        extras["cost"] = np.float32(info["cost"])
    return extras or None


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted()
