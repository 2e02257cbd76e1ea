"""Acting on LLM plans: proposals as exploration while training, checked by the reward they earn.

Early in training the world model cannot rank plans (issue 29: a PD controller's plans, which reach the
target when acted on, entered the planner's elites less often than random ones), so a good proposal
never wins the ranking, and the model never sees the data that would teach it better. Here a share of
the training segments acts on a proposal instead: at each new answer, with probability ``share``, the
agent follows the answer's plan that the model rates best (and that fits the safety budget, when there
is one) until the next answer. The agent rates them over all the steps left in the answer, not the
planner's horizon: plans that agree for a few steps can part after.

A proposer that knows nothing must cost little, so reality checks it: the per-step reward earned on
followed steps is compared with that on the agent's own steps (exponentially weighted over the last
``window`` steps of each). While followed steps earn less, the share drops to ``share * floor``; the
floor keeps checking, so a proposer whose plans become the better ones again wins its share back.

In evaluation (``evaluating=True``) nothing is drawn and nothing is learnt: every answer's best plan is
followed once the proposer has *proven* itself (at least ``min_steps`` on each side, and the followed
steps earned more per step than the agent's own by more than ``noise_z`` standard errors of that
difference), else none: an agent that has found its proposer's plans earn more than its own acts on
them, and one that has not plans alone. A proposer *disproven* (its followed steps earned less, by any
amount) is not asked at all in evaluation: its plans would only pull the planner's mean (an untrained
model ranks spinning the arm among its elites).

The two verdicts are held to different proof on purpose: noise may cost the agent a proposer's help
(disproven, or left undecided), never make it act on a proposer's plans. Without the noise test a
proposer was once proven on 0.045 against 0.032 reward per step over a few hundred followed steps, and
evaluation then followed plans that drove into the safety limits. The standard error counts *stretches*
(consecutive steps on one side, ended by a switch of side, a new answer or an episode's end) as the
samples, not steps: a stretch's rewards move together (an arm at its target stays there), so counting
steps would overstate how sure the comparison is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from planners.config import _check_float, _check_int


@dataclass(frozen=True)
class FollowConfig:
    share: float = 0.3  # chance that a new answer's best plan is acted on while training; 0 = never
    floor: float = 0.1  # fraction of the share kept while followed steps earn less than the agent's own
    min_steps: int = 100  # steps on each side before their rewards are compared
    window: int = 2000  # steps the reward means weigh (exponentially), per side
    noise_z: float = 2.0  # standard errors by which followed steps must out-earn own ones to prove the proposer

    def __post_init__(self) -> None:
        _check_float(self, "share", 0.0, 1.0)
        _check_float(self, "floor", 0.0, 1.0)
        _check_int(self, "min_steps", 1)
        _check_int(self, "window", 1)
        _check_float(self, "noise_z", 0.0, math.inf)


class _RewardStats:
    """Per-step reward of one side: mean and variance (plain over the first ``window`` steps, exponentially
    weighted after) and the stretches they came in, the samples the noise test counts."""

    def __init__(self, window: int) -> None:
        self.window, self.steps, self.mean = window, 0, 0.0
        self.var = 0.0  # nan: unknown (a checkpoint from before variances were kept), never proves anything
        self.stretches = 0

    def add(self, reward: float, new_stretch: bool) -> None:
        self.steps += 1
        self.stretches += int(new_stretch)
        weight = 1.0 / min(self.steps, self.window)
        delta = reward - self.mean
        self.mean += weight * delta
        self.var = (1.0 - weight) * (self.var + weight * delta * delta)

    def mean_variance(self) -> float:
        """The variance of :attr:`mean`, taking stretches (as many as the window weighs) as the samples."""
        samples = self.stretches * min(1.0, self.window / self.steps) if self.steps else 0.0
        return self.var / samples if samples > 0 else math.inf


class PlanFollower:
    """Whether the agent acts on an LLM plan this step, and which; see the module docstring.

    Per control step while training: :meth:`choose` when the proposer has a fresh answer (it may start
    or end a segment), :meth:`action` for the followed plan's action (None when the agent acts on its
    own plan), then :meth:`record` with the reward the step earned.
    """

    def __init__(self, config: FollowConfig | None = None) -> None:
        self.config = FollowConfig() if config is None else config
        self.followed = _RewardStats(self.config.window)
        self.own = _RewardStats(self.config.window)
        self.segments = 0  # answers acted on
        self.answers = 0  # fresh answers seen while training
        self.index: int | None = None  # the candidate followed now
        self._acting_on_plan = False  # the last action came from a followed plan
        self._stretch_side: bool | None = None  # the side of the stretch in progress (True: followed), None: ended

    def _margin(self) -> float:
        """Followed minus own reward per step; 0 (undecided) until each side has ``min_steps``."""
        if min(self.followed.steps, self.own.steps) < self.config.min_steps:
            return 0.0
        return self.followed.mean - self.own.mean

    def _noise(self) -> float:
        """``noise_z`` standard errors of the margin (inf while either side's spread is unknown)."""
        return self.config.noise_z * math.sqrt(self.followed.mean_variance() + self.own.mean_variance())

    @property
    def proven(self) -> bool:
        """Enough steps on each side, and the followed ones earned more per step by more than the noise:
        evaluation follows."""
        return self._margin() > self._noise()  # False while the noise is unknown (nan)

    @property
    def disproven(self) -> bool:
        """Enough steps on each side, and the followed ones earned less per step (by any amount):
        evaluation ignores the proposer, training follows it at the floor of its share."""
        return self._margin() < 0

    @property
    def share_now(self) -> float:
        """The chance a new answer is followed while training: the share, or its floor while disproven."""
        return self.config.share * (self.config.floor if self.disproven else 1.0)

    def reset(self) -> None:
        """An episode ends: no plan is followed across it."""
        self.index, self._acting_on_plan, self._stretch_side = None, False, None

    def choose(self, returns: np.ndarray, feasible: np.ndarray | None, rng: np.random.Generator,
               evaluating: bool = False) -> None:
        """A fresh answer arrived: follow its best feasible plan (by ``returns``, the model's) with
        probability :attr:`share_now` (evaluating: if :attr:`proven`), else act on the agent's own plans
        until the next answer."""
        self.index, self._stretch_side = None, None
        if evaluating:
            if not self.proven:
                return
        else:
            self.answers += 1
            if self.config.share <= 0.0 or rng.random() >= self.share_now:
                return
        scores = np.where(np.isfinite(returns), returns, -math.inf)
        if feasible is not None:
            scores = np.where(feasible, scores, -math.inf)
        if not np.isfinite(scores).any():
            return  # none fits the budget (or the model can say nothing of any)
        self.index = int(np.argmax(scores))
        self.segments += 0 if evaluating else 1

    def action(self, candidates: np.ndarray | None) -> np.ndarray | None:
        """This step's action of the followed plan (``candidates`` is this step's ``(K, H, A)`` window of
        the answer being followed), or None: the agent acts on its own plan."""
        if self.index is None or candidates is None or self.index >= len(candidates):
            self.index = None  # the answer ran out (or the episode's answers were dropped)
        self._acting_on_plan = self.index is not None
        return None if self.index is None else candidates[self.index, 0]

    def record(self, reward: float) -> None:
        """The reward of the step just taken, counted for whichever side chose its action."""
        side = self._acting_on_plan
        (self.followed if side else self.own).add(float(reward), new_stretch=side != self._stretch_side)
        self._stretch_side = side

    @property
    def stats(self) -> dict[str, float]:
        out = {"follow_answers": float(self.answers), "follow_segments": float(self.segments),
               "follow_steps": float(self.followed.steps), "follow_share": self.share_now,
               "follow_proven": float(self.proven), "follow_disproven": float(self.disproven)}
        if math.isfinite(noise := self._noise()):
            out["follow_noise"] = noise  # what the margin must exceed for evaluation to follow
        if self.followed.steps:
            out["follow_reward_mean"] = self.followed.mean
        if self.own.steps:
            out["own_reward_mean"] = self.own.mean
        return out

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to keep judging the proposer as before (not the segment in progress)."""
        return {side: (stats.steps, stats.mean, stats.var, stats.stretches)
                for side, stats in (("followed", self.followed), ("own", self.own))} \
            | {"segments": self.segments, "answers": self.answers}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for side, stats in (("followed", self.followed), ("own", self.own)):
            saved = state[side]
            stats.steps, stats.mean = int(saved[0]), float(saved[1])
            # A checkpoint from before variances were kept: the spread is unknown, so it proves nothing.
            stats.var, stats.stretches = (float(saved[2]), int(saved[3])) if len(saved) > 2 else (math.nan, 0)
        self.segments, self.answers = int(state["segments"]), int(state["answers"])
