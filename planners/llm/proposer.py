"""The LLM proposer: candidate plans from a language model, fetched off the control loop.

Every ``every`` control steps a request goes out on a background thread with
the current state. The step that sends it waits at most ``deadline_ms``; an
answer arriving later is used by the next plan, shifted by the steps that
have passed since it was asked for, and dropped once those steps exhaust it or
the episode ends. Failures of any kind are counted and the planner simply
plans without candidates.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from planners.llm.backends import BackendError, ChatBackend
from planners.llm.config import ProposerConfig
from planners.llm.parse import ParsedPlans, parse_plans
from planners.llm.prompt import proposal_messages
from planners.llm.task import TaskSpec
from planners.llm.worker import Outcome, SingleFlight

# Candidates are counted by age (steps since the state they were planned from): age0 ... age{LAST},
# the last bucket holding every older one. With the default zero deadline an answer first serves at age 1.
AGE_BUCKET_LAST = 5


@dataclass
class _Answer:
    step: int  # control step the request was sent at: plans[:, 0] is for this step
    plans: np.ndarray  # (K, plan_steps, A), validated and clipped
    used: bool = False


class LLMProposer:
    """Candidate plans ``(K, horizon, A)`` for :meth:`planners.SamplingPlanner.plan`.

    Call :meth:`reset` at each episode start, :meth:`candidates` once per
    control step before planning and :meth:`record_plan` with the planner's
    ``last_stats`` after it. :attr:`stats` holds the counters (see README).
    """

    def __init__(self, backend: ChatBackend, task: TaskSpec, config: ProposerConfig | None = None) -> None:
        self.backend = backend
        self.task = task
        self.config = ProposerConfig() if config is None else config
        # An answer is used from the step after its request (deadline 0: it lands while that step plans)
        # until the next answer lands, ``every`` steps later; each use needs ``horizon`` steps from there.
        self.plan_steps = self.config.plan_steps or self.config.every + task.horizon
        self.counts: Counter[str] = Counter()
        self.elite_weight = 0.0  # summed share of the elite weights of the candidates (see record_plan)
        self.last_error = ""  # the latest failure, one line, for logs
        self.fresh = False  # the last candidates come from an answer not used before
        self.age = 0  # steps between the state the last candidates were planned from and now
        # The last candidates' answer from this step to its end ``(K, steps left, A)``: a plan followed is
        # acted on for all of it, so that is what ranking one to follow must look at (agent/world_model_agent.py).
        self.rest: np.ndarray | None = None
        self._flight = SingleFlight("llm-proposer")
        self._episode = 0
        self._step = 0
        self._last_request: int | None = None
        self._answer: _Answer | None = None

    def reset(self) -> None:
        """Start an episode: forget answers; one still in flight is dropped when it lands."""
        self._episode += 1
        self._step = 0
        self._last_request = None
        self._answer = None

    def candidates(self, state: np.ndarray) -> np.ndarray | None:
        """Plans for this step (float32 ``(K, horizon, A)``), or None; waits at most ``deadline_ms``."""
        self._collect()
        if self._due() and not self._flight.busy:
            self._request(state)
            if self.config.deadline_ms > 0 and self._flight.wait(self.config.deadline_ms / 1000.0):
                self._collect()
        plans = self._current()
        self._step += 1
        return plans

    def record_plan(self, plan_stats: Mapping[str, float]) -> None:
        """Count whether this step's candidates were among the planner's elites, or chosen."""
        if plan_stats.get("num_candidates", 0.0) > 0:
            self.counts["in_elites"] += int(plan_stats.get("candidate_in_elites", 0.0))
            # Split by the answer's age: a plan is open-loop from the state it was asked for, and once the
            # agent has acted otherwise for a few steps it plans from a state the arm has left.
            age = f"age{min(self.age, AGE_BUCKET_LAST)}"
            self.counts[f"plans_{age}"] += 1
            self.counts[f"in_elites_{age}"] += int(plan_stats.get("candidate_in_elites", 0.0))
            self.counts["chosen"] += int(plan_stats.get("candidate_chosen", 0.0))
            self.counts["best"] += int(plan_stats.get("candidate_is_best", 0.0))
            # The candidates' share of the elite weights: what they move the plan's mean (the action
            # acted on when not exploring) by; in_elites alone says nothing of how much.
            self.elite_weight += float(plan_stats.get("candidate_weight", 0.0))

    @property
    def stats(self) -> dict[str, float]:
        """Counters since construction, plus the elite/chosen rates and the mean elite weight over plans that
        had candidates."""
        out = {k: float(v) for k, v in sorted(self.counts.items())}
        planned = self.counts["plans_with_candidates"]
        if planned:
            out["in_elites_rate"] = self.counts["in_elites"] / planned
            out["chosen_rate"] = self.counts["chosen"] / planned
            out["elite_weight_mean"] = self.elite_weight / planned
        for age in range(AGE_BUCKET_LAST + 1):
            if self.counts[f"plans_age{age}"]:
                out[f"in_elites_rate_age{age}"] = self.counts[f"in_elites_age{age}"] / self.counts[f"plans_age{age}"]
        return out

    def close(self) -> None:
        """Stop retrying (a request in flight ends on its own timeout, on a daemon thread)."""
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()

    # ------------------------------------------------------------ internals

    def _due(self) -> bool:
        return self._last_request is None or self._step - self._last_request >= self.config.every

    def _request(self, state: np.ndarray) -> None:
        messages = proposal_messages(self.task, state, self.config.num_candidates, self.plan_steps)
        self._flight.submit(lambda: self.backend.complete(messages), tag=(self._episode, self._step))
        self._last_request = self._step
        self.counts["requests"] += 1

    def _collect(self) -> None:
        outcome = self._flight.take()
        if outcome is None:
            return
        episode, step = outcome.tag
        if episode != self._episode:
            self.counts["dropped_episode_over"] += 1
            return
        if self._step > step:
            self.counts["late"] += 1  # arrived after its step planned: serves the next plans
        if outcome.error is not None:
            self._count_failure(outcome)
            return
        parsed = parse_plans(str(outcome.result), self.task, self.plan_steps, self.config.num_candidates)
        self._count_parse(parsed)
        if len(parsed.plans) == 0:
            return
        if self._step - step >= self.plan_steps:
            self.counts["dropped_stale"] += 1  # every step it planned for has passed
            return
        self._answer = _Answer(step, parsed.plans)

    def _current(self) -> np.ndarray | None:
        """This step's window of the latest answer, padded by repeating its last action."""
        self.fresh, self.rest = False, None
        answer = self._answer
        if answer is None:
            return None
        offset = self._step - answer.step
        if offset >= self.plan_steps:
            self._answer = None
            return None
        self.rest = np.ascontiguousarray(answer.plans[:, offset:], dtype=np.float32)
        window = answer.plans[:, offset:offset + self.task.horizon]
        short = self.task.horizon - window.shape[1]
        if short > 0:
            window = np.concatenate([window, np.repeat(window[:, -1:], short, axis=1)], axis=1)
        self.fresh, answer.used, self.age = not answer.used, True, offset
        self.counts["plans_with_candidates"] += 1
        return np.ascontiguousarray(window, dtype=np.float32)

    def _count_failure(self, outcome: Outcome) -> None:
        error = outcome.error
        kind = error.kind if isinstance(error, BackendError) else "error"
        self.counts[f"failed_{kind}"] += 1
        self.last_error = str(error).splitlines()[0] if str(error) else type(error).__name__

    def _count_parse(self, parsed: ParsedPlans) -> None:
        self.counts["answers"] += 1
        self.counts["proposed"] += parsed.proposed
        self.counts["parsed"] += len(parsed.plans)
        if parsed.error:
            self.counts[f"bad_{parsed.error}"] += 1
        for reason, n in parsed.rejected.items():
            self.counts[f"rejected_{reason}"] += n
        for name in ("padded", "cut", "clipped", "extra"):
            self.counts[name] += getattr(parsed, name)
