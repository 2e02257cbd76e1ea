"""Acting on LLM plans: proposals as exploration while training, checked by the reward they earn.

Early in training the world model cannot rank plans (issue 29: a PD controller's plans, which reach the
target when acted on, entered the planner's elites less often than random ones), so a good proposal
never wins the ranking, and the model never sees the data that would teach it better. Here a share of
the training segments acts on a proposal instead: at each new answer, with probability ``share``, the
agent follows the answer's plan that the model rates best (and that fits the safety budget, when there
is one) until the next answer.

A proposer that knows nothing must cost little, so reality checks it: the per-step reward earned on
followed steps is compared with that on the agent's own steps (exponentially weighted over the last
``window`` steps of each). While followed steps earn less, the share drops to ``share * floor``; the
floor keeps checking, so a proposer whose plans become the better ones again wins its share back.

In evaluation (``evaluating=True``) nothing is drawn and nothing is learnt: every answer's best plan is
followed once the proposer has *proven* itself (at least ``min_steps`` on each side, and the followed
steps earned more per step than the agent's own), else none: an agent that has found its proposer's
plans earn more than its own acts on them, and one that has not plans alone. A proposer *disproven* the
same way (its followed steps earned less) is not asked at all in evaluation: its plans would only pull
the planner's mean (an untrained model ranks spinning the arm among its elites).
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

    def __post_init__(self) -> None:
        _check_float(self, "share", 0.0, 1.0)
        _check_float(self, "floor", 0.0, 1.0)
        _check_int(self, "min_steps", 1)
        _check_int(self, "window", 1)


class _RewardMean:
    """Mean per-step reward, a plain mean over the first ``window`` steps, exponentially weighted after."""

    def __init__(self, window: int) -> None:
        self.window, self.steps, self.mean = window, 0, 0.0

    def add(self, reward: float) -> None:
        self.steps += 1
        self.mean += (reward - self.mean) / min(self.steps, self.window)


class PlanFollower:
    """Whether the agent acts on an LLM plan this step, and which; see the module docstring.

    Per control step while training: :meth:`choose` when the proposer has a fresh answer (it may start
    or end a segment), :meth:`action` for the followed plan's action (None when the agent acts on its
    own plan), then :meth:`record` with the reward the step earned.
    """

    def __init__(self, config: FollowConfig | None = None) -> None:
        self.config = FollowConfig() if config is None else config
        self.followed = _RewardMean(self.config.window)
        self.own = _RewardMean(self.config.window)
        self.segments = 0  # answers acted on
        self.answers = 0  # fresh answers seen while training
        self.index: int | None = None  # the candidate followed now
        self._acting_on_plan = False  # the last action came from a followed plan

    def _margin(self) -> float:
        """Followed minus own reward per step; 0 (undecided) until each side has ``min_steps``."""
        if min(self.followed.steps, self.own.steps) < self.config.min_steps:
            return 0.0
        return self.followed.mean - self.own.mean

    @property
    def proven(self) -> bool:
        """Enough steps on each side, and the followed ones earned more per step: evaluation follows."""
        return self._margin() > 0

    @property
    def disproven(self) -> bool:
        """Enough steps on each side, and the followed ones earned less per step: evaluation ignores the proposer."""
        return self._margin() < 0

    @property
    def share_now(self) -> float:
        """The chance a new answer is followed while training: the share, or its floor while disproven."""
        return self.config.share * (self.config.floor if self.disproven else 1.0)

    def reset(self) -> None:
        """An episode ends: no plan is followed across it."""
        self.index, self._acting_on_plan = None, False

    def choose(self, returns: np.ndarray, feasible: np.ndarray | None, rng: np.random.Generator,
               evaluating: bool = False) -> None:
        """A fresh answer arrived: follow its best feasible plan (by ``returns``, the model's) with
        probability :attr:`share_now` (evaluating: if :attr:`proven`), else act on the agent's own plans
        until the next answer."""
        self.index = None
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
        (self.followed if self._acting_on_plan else self.own).add(float(reward))

    @property
    def stats(self) -> dict[str, float]:
        out = {"follow_answers": float(self.answers), "follow_segments": float(self.segments),
               "follow_steps": float(self.followed.steps), "follow_share": self.share_now,
               "follow_proven": float(self.proven), "follow_disproven": float(self.disproven)}
        if self.followed.steps:
            out["follow_reward_mean"] = self.followed.mean
        if self.own.steps:
            out["own_reward_mean"] = self.own.mean
        return out

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to keep judging the proposer as before (not the segment in progress)."""
        return {"followed": (self.followed.steps, self.followed.mean), "own": (self.own.steps, self.own.mean),
                "segments": self.segments, "answers": self.answers}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.followed.steps, self.followed.mean = int(state["followed"][0]), float(state["followed"][1])
        self.own.steps, self.own.mean = int(state["own"][0]), float(state["own"][1])
        self.segments, self.answers = int(state["segments"]), int(state["answers"])
