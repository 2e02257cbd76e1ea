"""Environments for the agent: dm_control suite tasks, Gymnasium MuJoCo envs and any Gymnasium env.

Build any of them with `make_env(name, obs=..., action_repeat=..., seed=...)`;
built-in names come from `list_env_names()` and `list_aliases()`, and ``module:EnvId``
names any other Gymnasium env (`envs.custom`).
"""

import os

# Headless rendering by default; MuJoCo and dm_control read this on import.
os.environ.setdefault("MUJOCO_GL", "egl")

from .custom import CustomEnvError  # noqa: E402
from .make import make_env  # noqa: E402
from .registry import (  # noqa: E402
    EnvSpec,
    UnknownEnvError,
    format_env_list,
    list_aliases,
    list_env_names,
    resolve_env_name,
)
from .safety import CONSTRAINTS, FAMILY_LIMITS, SafetyConfig, parse_safety_limits  # noqa: E402

__all__ = [
    "CONSTRAINTS",
    "CustomEnvError",
    "FAMILY_LIMITS",
    "SafetyConfig",
    "parse_safety_limits",
    "EnvSpec",
    "UnknownEnvError",
    "format_env_list",
    "list_aliases",
    "list_env_names",
    "make_env",
    "resolve_env_name",
]
