"""Named benchmark suites: which tasks a suite run trains, and how their scores compare.

One place defines every suite; ``wm-agent suites`` lists them and ``wm-agent eval --suite``
runs them. A suite-level interquartile mean pools tasks, so it needs every task's
return on a common scale: each task may declare the (low, high) returns that map to
a normalised score of 0 and 1.
"""

from __future__ import annotations

from dataclasses import dataclass


class UnknownSuiteError(ValueError):
    """A suite name (or a task of it) that is not defined; the message is one line."""


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: tuple[str, ...]
    description: str


# dm_control returns lie in [0, 1000] at any action repeat (rewards in [0, 1], 1000 physics
# steps); published DMC aggregates (rliable, TD-MPC2, DreamerV3) divide by 1000.
DMC_RANGE = (0.0, 1000.0)
# Gymnasium tasks without a natural bound have no accepted normaliser: those marked None
# are reported per task only, and a suite containing one has no IQM. InvertedPendulum
# earns 1 per step for at most 1000 steps. HalfCheetah and Hopper use D4RL's random and
# expert reference returns (d4rl/infos.py, -v2 envs; the reward terms are unchanged in -v5).
GYM_RANGES: dict[str, tuple[float, float] | None] = {
    "InvertedPendulum-v5": (0.0, 1000.0),
    "HalfCheetah-v5": (-280.178953, 12135.0),
    "Hopper-v5": (-20.272305, 3234.3),
    "Reacher-v5": None,
    "Pusher-v5": None,
}

SUITES: dict[str, Suite] = {s.name: s for s in (
    Suite("dmc-easy", ("reacher-easy", "cartpole-swingup", "finger-spin", "ball_in_cup-catch", "walker-walk",
                       "cheetah-run"),
          "dm_control tasks most agents solve within 500k steps (proprioceptive, action repeat 2)"),
    Suite("dmc-hard", ("reacher-hard", "hopper-stand", "hopper-hop", "quadruped-walk", "quadruped-run",
                       "acrobot-swingup", "finger-turn_hard", "humanoid-walk"),
          "dm_control tasks with sparse rewards, many joints or unstable balance"),
    Suite("gym-mujoco", ("Reacher-v5", "Pusher-v5", "InvertedPendulum-v5", "HalfCheetah-v5", "Hopper-v5"),
          "Gymnasium MuJoCo tasks (action repeat 1; Hopper terminates when it falls)"),
    Suite("manipulation", ("Pusher-v5", "manipulator-bring_ball", "reacher-hard"),
          "reaching, pushing and carrying objects"),
)}


def get_suite(name: str) -> Suite:
    """The suite called ``name``; UnknownSuiteError names the accepted ones."""
    if name not in SUITES:
        raise UnknownSuiteError(f"unknown suite {name!r}; expected one of {', '.join(SUITES)} "
                                f"(run 'wm-agent suites' to see their tasks)")
    return SUITES[name]


def task_names(text: str | None) -> tuple[str, ...]:
    """``--tasks T1,T2`` as names (blanks dropped); empty when not given."""
    return tuple(t.strip() for t in text.split(",") if t.strip()) if text else ()


def select_tasks(suite: Suite, tasks: list[str] | None) -> tuple[str, ...]:
    """The suite's tasks, or the given subset of them in the suite's order."""
    if not tasks:
        return suite.tasks
    unknown = [t for t in tasks if t not in suite.tasks]
    if unknown:
        raise UnknownSuiteError(f"task {unknown[0]!r} is not in suite {suite.name}; "
                                f"expected some of {', '.join(suite.tasks)}")
    return tuple(t for t in suite.tasks if t in tasks)


def score_range(task: str) -> tuple[float, float] | None:
    """Returns that normalise to 0 and 1, or None where no common scale exists."""
    from envs import resolve_env_name

    if resolve_env_name(task).suite == "dmc":
        return DMC_RANGE
    return GYM_RANGES.get(task)


def format_suite_list() -> str:
    """Human-readable listing for ``wm-agent suites``."""
    lines = []
    for suite in SUITES.values():
        lines.append(f"{suite.name}: {suite.description}")
        lines.extend(f"  {task}" for task in suite.tasks)
    return "\n".join(lines)
