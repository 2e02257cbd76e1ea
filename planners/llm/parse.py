"""Turn a model's free-text answer into validated plans or scores, counting what was wrong.

Models wrap JSON in prose or code fences, get lengths wrong and emit NaN,
huge or non-numeric entries. Each problem is named and counted; a bad plan is
dropped while its good siblings are kept.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from planners.llm.task import TaskSpec

_DECODER = json.JSONDecoder()
_MAX_JSON_STARTS = 64  # bounds the work on long garbage answers
_CHECKED_PER_PLAN = 4  # entries checked at most per plan asked for: bounds the per-entry work
_HUGE = 1e6  # |value| beyond this is nonsense, not a slightly-out-of-bounds action
_PLAN_KEYS = ("plans", "candidates", "action_sequences", "sequences", "actions")


@dataclass
class ParsedPlans:
    """Valid plans ``(K, steps, A)`` (K may be 0) and counts of what was wrong."""

    plans: np.ndarray
    error: str | None = None  # whole-answer failure: malformed_json | no_plans | empty
    proposed: int = 0  # plan-like entries in the answer
    rejected: Counter = field(default_factory=Counter)  # reason -> plans dropped
    padded: int = 0  # plans shorter than asked, padded by repeating their last action
    cut: int = 0  # plans longer than asked, cut
    clipped: int = 0  # values outside the bounds, clipped
    extra: int = 0  # entries after the K-th valid plan (or the 4K-th entry), dropped unchecked


def iter_json(text: str) -> Iterator[tuple[Any, bool]]:
    """JSON values in ``text`` with whether they are the whole answer.

    First the whole text and each fenced code block (any JSON value), then every
    object embedded in prose. Arrays in prose are skipped: inside a truncated
    object they are fragments (one step read as a plan), not answers.
    """
    blocks = [text] + re.findall(r"```(?:json)?\s*(.*?)```", text, flags=re.DOTALL)
    for block in blocks:
        try:
            yield json.loads(block), True
        except (ValueError, RecursionError):
            pass
    for match in itertools.islice(re.finditer(r"{", text), _MAX_JSON_STARTS):  # no list of every brace
        try:
            value, _ = _DECODER.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        yield value, False


def parse_plans(text: str, task: TaskSpec, steps: int, max_plans: int) -> ParsedPlans:
    """Validate an answer against the task: shape, numbers, bounds (clipped), length (padded or cut)."""
    empty = np.zeros((0, steps, task.action_dim), dtype=np.float32)
    found_json = False
    for value, whole in iter_json(text):
        found_json = found_json or whole
        entries = _plan_entries(value)
        if entries is not None:
            break
    else:
        # no_plans: the answer is JSON, just not plans; malformed_json: no usable JSON at all.
        return ParsedPlans(empty, error="no_plans" if found_json else "malformed_json")
    result = ParsedPlans(empty, proposed=len(entries))
    if not entries:
        result.error = "empty"
        return result
    low, high = np.asarray(task.action_low), np.asarray(task.action_high)
    kept = []
    checked = 0
    # Stop at max_plans valid plans, and after checking 4x as many entries: a huge answer
    # costs a bounded amount of Python work, whatever its length.
    for entry in itertools.islice(entries, _CHECKED_PER_PLAN * max_plans):
        if len(kept) == max_plans:
            break
        checked += 1
        too_long = isinstance(entry, list) and len(entry) > steps
        plan, reason = _plan_array(entry[:steps] if too_long else entry, task.action_dim)  # the cut rows unchecked
        if plan is None:
            result.rejected[reason] += 1
            continue
        result.clipped += int(((plan < low) | (plan > high)).sum())
        plan = np.clip(plan, low, high)
        if len(plan) < steps:
            result.padded += 1
            plan = np.concatenate([plan, np.repeat(plan[-1:], steps - len(plan), axis=0)])
        elif too_long:
            result.cut += 1
        kept.append(plan)
    result.extra = len(entries) - checked
    if kept:
        result.plans = np.stack(kept).astype(np.float32)
    return result


def parse_scores(text: str, count: int) -> tuple[np.ndarray | None, str | None]:
    """``count`` judge scores clipped to [0, 10], or ``(None, reason)``."""
    found_json = False
    for value, whole in iter_json(text):
        found_json = found_json or whole
        scores = value.get("scores") if isinstance(value, dict) else value
        if not isinstance(scores, list):
            continue
        if len(scores) != count:
            return None, "wrong_length"
        if not all(_is_number(s) for s in scores):
            return None, "non_numeric"
        array = _to_float_array(scores)
        if array is None:
            return None, "non_finite"
        return np.clip(array, 0.0, 10.0), None
    return None, "no_scores" if found_json else "malformed_json"


def _plan_entries(value: Any) -> list | None:
    """The list of plans in a decoded answer, accepting the shapes models commonly produce."""
    if isinstance(value, dict):
        for key in _PLAN_KEYS:
            if isinstance(value.get(key), list):
                return value[key]
        return None
    if not isinstance(value, list):
        return None
    if value and isinstance(value[0], list) and value[0] and isinstance(value[0][0], list):
        return value  # a bare list of plans
    return [value] if value else []  # one bare plan, or nothing at all


def _plan_array(entry: Any, action_dim: int) -> tuple[np.ndarray | None, str]:
    """One plan as a ``(steps, A)`` float64 array, or ``(None, reason)``."""
    if not isinstance(entry, list):
        return None, "wrong_shape"
    if not entry:
        return None, "empty_plan"
    rows = []
    for step in entry:
        if action_dim == 1 and _is_number(step):
            step = [step]  # scalar steps are unambiguous for 1-D actions
        if not isinstance(step, list):
            return None, "wrong_shape"
        if len(step) != action_dim:
            return None, "wrong_action_dim"
        if not all(_is_number(x) for x in step):
            return None, "non_numeric"
        rows.append(step)
    array = _to_float_array(rows)
    if array is None:
        return None, "non_finite"
    if np.abs(array).max() > _HUGE:
        return None, "huge"
    return array, ""


def _is_number(x: Any) -> bool:
    # JSON true/false decode to bool, an int subclass: not an action.
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _to_float_array(values: list) -> np.ndarray | None:
    """float64 array, or None for NaN, inf, or integers too large for a float."""
    try:
        array = np.array(values, dtype=np.float64)
    except OverflowError:
        return None
    return array if bool(np.isfinite(array).all()) else None
