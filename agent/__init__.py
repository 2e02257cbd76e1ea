"""wm-agent: world models, replay, the training loop and the CLI; the Python API is `agent.load` / `agent.train` (agent/api/).

``agent.load``, ``agent.train``, ``agent.resume``, ``agent.RunConfig`` and ``agent.WorldModelEnv``
are imported on first use, so ``import agent`` (and every ``agent.<module>`` import) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load": "agent.api.policy", "train": "agent.api.policy", "resume": "agent.api.policy", "Policy": "agent.api.policy",
    "Imagination": "agent.api.policy", "WorldModelEnv": "agent.api.world_model_env",
    "RunConfig": "agent.config", "EnvConfig": "agent.config", "ModelConfig": "agent.config",
    "LearnConfig": "agent.config", "PlanConfig": "agent.config",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'agent' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
