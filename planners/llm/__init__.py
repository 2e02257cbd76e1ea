"""Language-model help for the planners: candidate plans (proposer) and outcome scores (judge).

Modules, one concept each: ``task`` (what the model is told about the task),
``prompt`` (chat messages), ``parse`` (answers -> validated plans/scores),
``backends`` (OpenAI-compatible HTTP, local transformers), ``worker`` (one
background call at a time), ``proposer``, ``judge`` and ``follow`` (acting on
proposals while training, checked by the reward they earn).
"""

from planners.llm.backends import (
    INSTALL_HINT,
    BackendError,
    ChatBackend,
    MissingExtraError,
    OpenAIChatBackend,
    TransformersChatBackend,
    make_backend,
    openai_config_from_env,
    require_transformers,
)
from planners.llm.config import JudgeConfig, OpenAIConfig, ProposerConfig, TransformersConfig
from planners.llm.follow import FollowConfig, PlanFollower
from planners.llm.judge import LLMJudge, combine_scores, imagine_outcomes
from planners.llm.parse import ParsedPlans, parse_plans, parse_scores
from planners.llm.prompt import judge_messages, proposal_messages, redact_secrets
from planners.llm.proposer import LLMProposer
from planners.llm.task import TaskSpec, default_goal, task_spec_from_env

__all__ = [
    "INSTALL_HINT",
    "BackendError",
    "ChatBackend",
    "FollowConfig",
    "JudgeConfig",
    "LLMJudge",
    "LLMProposer",
    "MissingExtraError",
    "OpenAIChatBackend",
    "OpenAIConfig",
    "ParsedPlans",
    "PlanFollower",
    "ProposerConfig",
    "TaskSpec",
    "TransformersChatBackend",
    "TransformersConfig",
    "combine_scores",
    "default_goal",
    "imagine_outcomes",
    "judge_messages",
    "make_backend",
    "openai_config_from_env",
    "parse_plans",
    "parse_scores",
    "proposal_messages",
    "redact_secrets",
    "require_transformers",
    "task_spec_from_env",
]
