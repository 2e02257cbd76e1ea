"""Names of every environment the agent supports, and how to resolve them.

Two suites are built in: dm_control's suite (names ``domain-task``, e.g.
``reacher-easy``) and Gymnasium's MuJoCo environments (their registry ids,
newest version only, e.g. ``Reacher-v5``). Short aliases (``reacher``,
``cheetah``, ...) point at canonical names. Lookups of these ignore case.

Any other Gymnasium env is a "custom" one (`envs.custom`): ``module:EnvId`` imports
``module`` first, as ``gymnasium.make`` does; a bare id must already be registered.
Those names are exact (Gymnasium's registry is case-sensitive).
"""

import difflib
import functools
import re
from dataclasses import dataclass
from typing import Literal

Suite = Literal["dmc", "gym", "custom"]

# dm_control agents conventionally act every 2nd control step (PlaNet/Dreamer);
# Gymnasium MuJoCo tasks already use coarse control steps.
DEFAULT_ACTION_REPEAT: dict[str, int] = {"dmc": 2, "gym": 1, "custom": 1}

ALIASES: dict[str, str] = {
    "reacher": "reacher-easy",
    "cheetah": "cheetah-run",
    "walker": "walker-walk",
    "cartpole": "cartpole-swingup",
    "finger": "finger-spin",
    "cup": "ball_in_cup-catch",
    "ball_in_cup": "ball_in_cup-catch",
    "hopper": "hopper-stand",
    "quadruped": "quadruped-walk",
    "manipulator": "manipulator-bring_ball",
    "pusher": "Pusher-v5",
    "acrobot": "acrobot-swingup",
    "humanoid": "humanoid-walk",
    "pendulum": "pendulum-swingup",
    "fish": "fish-swim",
    "swimmer": "swimmer-swimmer6",
    "point_mass": "point_mass-easy",
}

# lqr declares unbounded actions (+-1e10) and no time limit, so it cannot honour
# the [-1, 1] action / fixed episode length contract every other env keeps.
_EXCLUDED_DMC_DOMAINS = frozenset({"lqr"})

# Gymnasium MuJoCo v2/v3 need the retired mujoco-py bindings; v4+ use `mujoco`.
_MIN_GYM_VERSION = 4

_LIST_HINT = "run 'wm-agent envs' for the full list"


@dataclass(frozen=True)
class EnvSpec:
    """What `make_env` needs to build one environment.

    For dm_control, ``domain``/``task`` are the suite's domain and task names.
    For Gymnasium, ``domain`` is the family (``Reacher``) and ``task`` the full
    registry id (``Reacher-v5``). For a custom env, ``name`` is as given
    (``my_pkg.envs:MyRobot-v0``), ``domain`` and ``task`` its registered id. ``action_repeat`` is the suite's default,
    which `make_env(action_repeat=...)` overrides.
    """

    name: str
    suite: Suite
    domain: str
    task: str
    action_repeat: int


class UnknownEnvError(ValueError):
    """Raised for an environment name that is neither canonical nor an alias."""


def resolve_env_name(name: str) -> EnvSpec:
    """Return the spec for a canonical name or alias (case-insensitive), ``module:EnvId`` or
    another registered Gymnasium id.

    Raises:
        UnknownEnvError: with a one-line message listing the closest names.
        CustomEnvError: ``module:EnvId`` whose module cannot be imported or id is not registered.
    """
    from .custom import check_registered, is_custom_name

    key = name.strip().lower()
    lookup = _lookup()
    if key in lookup and not is_custom_name(name):
        return _canonical_specs()[lookup[key]]
    if is_custom_name(name) or _registered_elsewhere(name):
        env_id = check_registered(name)
        return EnvSpec(name, "custom", env_id, env_id, DEFAULT_ACTION_REPEAT["custom"])
    raise UnknownEnvError(_unknown_message(name))


def _registered_elsewhere(name: str) -> bool:
    """A Gymnasium id that is not one of the built-in names (e.g. a package's own env)."""
    import gymnasium

    return name in gymnasium.registry


def list_env_names(suite: Suite | None = None) -> list[str]:
    """Canonical names (no aliases): dm_control first, then Gymnasium, each sorted.

    Args:
        suite: keep only ``"dmc"`` or ``"gym"`` names; ``None`` keeps both.
    """
    specs = _canonical_specs().values()
    return [s.name for s in specs if suite is None or s.suite == suite]


def list_aliases() -> dict[str, str]:
    """Map each short alias to the canonical name it stands for."""
    return dict(ALIASES)


def format_env_list() -> str:
    """Human-readable listing of all names grouped by suite, for `wm-agent envs`."""
    by_target: dict[str, list[str]] = {}
    for alias, target in sorted(ALIASES.items()):
        by_target.setdefault(target, []).append(alias)
    lines: list[str] = []
    for suite, title in (("dmc", "dm_control suite"), ("gym", "Gymnasium MuJoCo")):
        lines.append(f"{title} (default action repeat {DEFAULT_ACTION_REPEAT[suite]}):")
        for name in list_env_names(suite):
            aliases = by_target.get(name)
            lines.append(f"  {name}" + (f"  (alias: {', '.join(aliases)})" if aliases else ""))
    lines.append("any other Gymnasium env (default action repeat 1): module:EnvId (the module registers it) "
                 "or a registered id; continuous bounded actions, a time limit")
    return "\n".join(lines)


def _unknown_message(name: str) -> str:
    return (f"unknown env {name!r}; {_suggestions(name)} ({_LIST_HINT}; your own Gymnasium env: "
            "--env module:EnvId)")


def _suggestions(name: str, limit: int = 3, cutoff: float = 0.5) -> str:
    """The closest names by difflib similarity, ties broken alphabetically."""
    key = name.strip().lower()
    scored = []
    for candidate in [*_canonical_specs(), *ALIASES]:
        score = difflib.SequenceMatcher(None, key, candidate.lower()).ratio()
        if score >= cutoff:
            scored.append((-score, candidate.lower(), candidate))
    if not scored:
        return "no close match"
    return "closest: " + ", ".join(candidate for *_, candidate in sorted(scored)[:limit])


@functools.cache
def _lookup() -> dict[str, str]:
    """Lower-cased canonical names and aliases -> canonical name."""
    specs = _canonical_specs()
    lookup = {name.lower(): name for name in specs}
    for alias, target in ALIASES.items():
        if target not in specs:  # a typo in ALIASES should fail loudly, not silently
            raise RuntimeError(f"alias {alias!r} points at unknown env {target!r}")
        lookup[alias.lower()] = target
    return lookup


@functools.cache
def _canonical_specs() -> dict[str, EnvSpec]:
    # Built lazily: importing dm_control.suite costs about a second.
    specs = [*_dmc_specs(), *_gym_specs()]
    return {spec.name: spec for spec in specs}


def _dmc_specs() -> list[EnvSpec]:
    from dm_control import suite as dmc_suite

    tasks = sorted(t for t in dmc_suite.ALL_TASKS if t[0] not in _EXCLUDED_DMC_DOMAINS)
    repeat = DEFAULT_ACTION_REPEAT["dmc"]
    return [EnvSpec(f"{d}-{t}", "dmc", d, t, repeat) for d, t in tasks]


def _gym_specs() -> list[EnvSpec]:
    import gymnasium

    newest: dict[str, tuple[int, str]] = {}
    for env_id, entry in gymnasium.registry.items():
        entry_point = entry.entry_point
        if not isinstance(entry_point, str) or not entry_point.startswith("gymnasium.envs.mujoco"):
            continue
        match = re.fullmatch(r"(\w+)-v(\d+)", env_id)
        if match is None or int(match[2]) < _MIN_GYM_VERSION:
            continue
        family, version = match[1], int(match[2])
        if family not in newest or version > newest[family][0]:
            newest[family] = (version, env_id)
    repeat = DEFAULT_ACTION_REPEAT["gym"]
    return [EnvSpec(env_id, "gym", family, env_id, repeat)
            for family, (_, env_id) in sorted(newest.items())]
