"""Reading the prompts the agent's LLM proposer and judge send, as the scripted "language models" of
``benchmarks/scripted_llm.py`` need them: the task, the state fields, the action bounds, the plans to judge."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

class PromptError(ValueError):
    """The prompt is not one this script can answer (answered with HTTP 400)."""


# ------------------------------------------------------------------ reading the prompts

@dataclass(frozen=True)
class ProposalRequest:
    env_name: str
    action_repeat: int
    horizon: int
    state: dict[str, float]
    action_names: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    num_plans: int
    plan_steps: int


@dataclass(frozen=True)
class JudgeRequest:
    env_name: str
    outcomes: list[dict[str, float]]


_STATE_LINE = re.compile(r"^\s+(\S+) = (\S+)$")
_ACTION_LINE = re.compile(r"^\s+\d+: (\S+) in \[(\S+), (\S+)\]$")


def _search(pattern: str, text: str, what: str) -> re.Match:
    match = re.search(pattern, text, flags=re.MULTILINE)
    if match is None:
        raise PromptError(f"the prompt has no {what}")
    return match


def _state_block(lines: list[str]) -> dict[str, float]:
    state = {}
    for line in lines:
        match = _STATE_LINE.match(line)
        if match is None:
            break
        state[match.group(1)] = float(match.group(2))
    return state


def parse_proposal_prompt(text: str) -> ProposalRequest:
    """The numbers of a ``planners.llm.prompt.proposal_messages`` user message."""
    env_name = _search(r"^Task: (\S+) \(MuJoCo\)", text, "'Task: NAME (MuJoCo)' line").group(1)
    timing = _search(r"held for (\d+) physics step\(s\); the planner looks (\d+) actions? ahead", text,
                     "action repeat and horizon")
    ask = _search(r"Propose (\d+) different action sequences, each exactly (\d+) steps long", text,
                  "number and length of plans")
    lines = text.splitlines()
    try:
        state_at = lines.index("Current state:") + 1
        actions_at = lines.index("Action dimensions (name and bounds):") + 1
    except ValueError:
        raise PromptError("the prompt has no 'Current state:' or 'Action dimensions' block") from None
    state = _state_block(lines[state_at:])
    actions = []
    for line in lines[actions_at:]:
        match = _ACTION_LINE.match(line)
        if match is None:
            break
        actions.append((match.group(1), float(match.group(2)), float(match.group(3))))
    if not state or not actions:
        raise PromptError("the prompt's state or action block is empty")
    return ProposalRequest(env_name, int(timing.group(1)), int(timing.group(2)), state,
                           tuple(a[0] for a in actions), np.array([a[1] for a in actions]),
                           np.array([a[2] for a in actions]), int(ask.group(1)), int(ask.group(2)))


def parse_judge_prompt(text: str) -> JudgeRequest:
    """The predicted final states of a ``planners.llm.prompt.judge_messages`` user message."""
    env_name = _search(r"^Task: (\S+) \(MuJoCo\)", text, "'Task: NAME (MuJoCo)' line").group(1)
    lines = text.splitlines()
    outcomes = [_state_block(lines[i + 1:]) for i, line in enumerate(lines) if re.fullmatch(r"Outcome \d+:", line)]
    if not outcomes or not all(outcomes):
        raise PromptError("the judge prompt has no 'Outcome i:' blocks of 'name = value' lines")
    return JudgeRequest(env_name, outcomes)


def field(state: dict[str, float], name: str) -> float:
    if name not in state:
        raise PromptError(f"the state has no field {name!r} (it has {', '.join(state)})")
    return state[name]
