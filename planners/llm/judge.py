"""The optional LLM judge: score predicted final states 0-10 for the goal, blend with predicted return.

A verdict is about one state, so a late one is useless: the step waits at most
``deadline_ms`` and otherwise acts on the planner's choice (the late verdict is
discarded when it lands).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from planners.llm.backends import BackendError, ChatBackend
from planners.llm.config import JudgeConfig
from planners.llm.parse import parse_scores
from planners.llm.prompt import judge_messages
from planners.llm.task import TaskSpec
from planners.llm.worker import SingleFlight
from planners.model import LatentModel, TerminalValueFn


def combine_scores(returns: np.ndarray, scores: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * returns rescaled to [0, 1] + weight * scores / 10``: scale-free in the reward."""
    returns = np.asarray(returns, dtype=np.float64)
    span = returns.max() - returns.min()
    rescaled = (returns - returns.min()) / span if span > 0 else np.zeros_like(returns)
    return (1.0 - weight) * rescaled + weight * np.asarray(scores, dtype=np.float64) / 10.0


@torch.no_grad()
def imagine_outcomes(
    model: LatentModel,
    z0: torch.Tensor,
    plans: torch.Tensor,
    discount: float,
    terminal_value: TerminalValueFn | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted discounted returns ``(M,)`` and final latents ``(M, Z)`` of plans ``(M, H, A)`` from ``z0`` ``(1, Z)``.

    The same return the planner ranks by, so judge and planner compare like with like.
    """
    m, horizon = plans.shape[0], plans.shape[1]
    z = z0.expand(m, -1)
    returns = torch.zeros(m, device=z0.device)
    for t in range(horizon):
        z, reward = model.next_latent_and_reward(z, plans[:, t])
        returns += discount**t * reward.reshape(m).float()
    if terminal_value is not None:
        returns += discount**horizon * terminal_value(z).reshape(m).float()
    return returns, z


class LLMJudge:
    """Picks one of several plans by predicted return blended with the LLM's 0-10 score."""

    def __init__(self, backend: ChatBackend, task: TaskSpec, config: JudgeConfig) -> None:
        self.backend = backend
        self.task = task
        self.config = config
        self.counts: Counter[str] = Counter()
        self.last_error = ""
        self._flight = SingleFlight("llm-judge")

    def choose(self, returns: np.ndarray, final_states: np.ndarray) -> int | None:
        """Index of the best plan by combined score, or None without a valid verdict in time."""
        self._flight.take()  # discard a verdict that missed its deadline: it was about another state
        if self._flight.busy:
            self.counts["skipped_busy"] += 1
            return None
        messages = judge_messages(self.task, final_states)
        self._flight.submit(lambda: self.backend.complete(messages), tag=None)
        self.counts["requests"] += 1
        if not self._flight.wait(self.config.deadline_ms / 1000.0):
            self.counts["late"] += 1
            return None
        outcome = self._flight.take()
        assert outcome is not None
        if outcome.error is not None:
            kind = outcome.error.kind if isinstance(outcome.error, BackendError) else "error"
            self.counts[f"failed_{kind}"] += 1
            self.last_error = str(outcome.error).splitlines()[0] if str(outcome.error) else kind
            return None
        scores, reason = parse_scores(str(outcome.result), len(returns))
        if scores is None:
            self.counts[f"bad_{reason}"] += 1
            return None
        self.counts["verdicts"] += 1
        pick = int(np.argmax(combine_scores(returns, scores, self.config.weight)))
        self.counts["overruled"] += int(pick != int(np.argmax(returns)))
        return pick

    @property
    def stats(self) -> dict[str, float]:
        return {k: float(v) for k, v in sorted(self.counts.items())}
