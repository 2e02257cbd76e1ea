"""Chat messages for the proposer and the judge, built only from a TaskSpec and numbers.

Nothing from the process environment is read into a prompt; as a second guard,
:func:`redact_secrets` blanks any value of a secret-looking environment variable
that reached the text anyway (e.g. pasted into ``--goal``).
"""

from __future__ import annotations

import json
import os
import re
from typing import Mapping, Sequence

import numpy as np

from planners.llm.task import TaskSpec

Message = dict[str, str]

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)
_MIN_SECRET_LEN = 6  # shorter values ("1", "true") would blank ordinary words

PROPOSER_SYSTEM = (
    "You are a motion planner for a simulated robot (MuJoCo physics). "
    "You propose open-loop action sequences that achieve a goal. "
    "Answer with one JSON object and nothing else."
)
JUDGE_SYSTEM = (
    "You judge predicted outcomes of a simulated robot (MuJoCo physics) against a goal. "
    "Answer with one JSON object and nothing else."
)


def redact_secrets(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace values of environment variables named like keys/tokens/passwords with ``[redacted]``."""
    env = os.environ if environ is None else environ
    for name, value in env.items():
        if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_LEN and value in text:
            text = text.replace(value, "[redacted]")
    return text


def describe_state(names: Sequence[str], values: np.ndarray) -> str:
    """One ``name = value`` line per state element (4 significant digits)."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(names) != flat.size:
        names = [f"x[{i}]" for i in range(flat.size)]  # e.g. a decoder of another size
    return "\n".join(f"  {n} = {v:.4g}" for n, v in zip(names, flat))


def describe_actions(task: TaskSpec) -> str:
    """One line per action dimension with its bounds."""
    return "\n".join(
        f"  {i}: {n} in [{lo:g}, {hi:g}]"
        for i, (n, lo, hi) in enumerate(zip(task.action_names, task.action_low, task.action_high))
    )


def _count(n: int, noun: str) -> str:
    """'1 action', '3 actions': a horizon of 1 (``--plan-horizon 1``) must not read '1 actions' to the model."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def proposal_messages(task: TaskSpec, state: np.ndarray, num_plans: int, plan_steps: int) -> list[Message]:
    """Ask for ``num_plans`` sequences of ``plan_steps`` actions as ``{"plans": [...]}``."""
    example = json.dumps({"plans": [[[0.0] * task.action_dim] * min(plan_steps, 2)]})
    user = (
        f"Task: {task.env_name} (MuJoCo). Goal: {task.goal}\n"
        f"Each action is held for {task.action_repeat} physics step(s); the planner looks "
        f"{_count(task.horizon, 'action')} ahead.\n"
        f"Current state:\n{describe_state(task.obs_field_names, state)}\n"
        f"Action dimensions (name and bounds):\n{describe_actions(task)}\n"
        f"Propose {num_plans} different action sequences, each exactly {plan_steps} steps long; "
        f"each step is a list of {task.action_dim} numbers within the bounds, in the order above.\n"
        f'Reply with JSON only, shaped like {example} but with {num_plans} plans of {plan_steps} steps.'
    )
    return _messages(PROPOSER_SYSTEM, user)


def judge_messages(task: TaskSpec, final_states: np.ndarray) -> list[Message]:
    """Ask for one 0-10 score per predicted final state as ``{"scores": [...]}``."""
    blocks = "\n".join(
        f"Outcome {i}:\n{describe_state(task.obs_field_names, s)}" for i, s in enumerate(final_states)
    )
    user = (
        f"Task: {task.env_name} (MuJoCo). Goal: {task.goal}\n"
        f"A world model predicts these states after {_count(task.horizon, 'action')} of {len(final_states)} "
        f"different plans:\n{blocks}\n"
        f"Score how well each outcome achieves the goal, from 0 (not at all) to 10 (fully).\n"
        f'Reply with JSON only: {{"scores": [one number per outcome, {len(final_states)} in all]}}'
    )
    return _messages(JUDGE_SYSTEM, user)


def _messages(system: str, user: str) -> list[Message]:
    return [
        {"role": "system", "content": redact_secrets(system)},
        {"role": "user", "content": redact_secrets(user)},
    ]
