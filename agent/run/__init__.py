"""One run and what it does: the training loop and its update schedule, evaluation, checkpoints and their
restore, logs and videos, the run lock, device/threads/seeds (``runtime``) and how a run is started from a
config (``launch``).

May import ``agent.model``, ``agent.learn``, ``agent.config``, ``agent.layout`` and the agent
(``agent.world_model_agent``); never ``agent.suite`` or ``agent.api``.
"""
