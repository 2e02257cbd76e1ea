"""Typed run configuration.

Every field carries its help text in ``metadata["help"]``: the CLI (``agent/cli.py``)
builds its options from these dataclasses, so ``--help`` and the saved
``config.json`` can never drift apart from the code.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from math import isfinite
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planners.config import accepts_of

if TYPE_CHECKING:
    from envs.safety import SafetyConfig


class ConfigError(ValueError):
    """A config value outside what is accepted (message is one line)."""


def _f(default: Any, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class EnvConfig:
    name: str = _f("reacher", "environment name or alias (see 'wm-agent envs')")
    obs: str = _f("state", "observation: 'state' (proprioceptive vector) or 'pixels' (64x64 RGB)",
                  choices=("state", "pixels"))
    action_repeat: int | None = _f(None, "physics steps per agent decision; not given = suite default "
                                         "(2 dm_control, 1 Gymnasium)")
    image_size: int = _f(64, "rendered frame side in pixels (pixel observations and videos)")
    safety_limits: str = _f("", "override safety limits of the env family, e.g. 'joint_speed=4,contact_force=30' "
                                "(constraints: joint_speed, contact_force, upright; see README)")
    safety_scale: float = _f(1.0, "multiply the family's speed and force safety limits")
    terminate_on_unsafe: bool = _f(False, "end the episode on the first safety violation")
    safety_cost: str = _f("", "your own safety cost, 'module:function' called as function(env, obs, info) after "
                              "every reset and step (a value > 0 is unsafe); replaces the built-in constraints. "
                              "Custom envs have no cost without it (or --safety-limits on a MuJoCo env)")

    def safety(self) -> "SafetyConfig":
        """The env-side safety config (raises ValueError on a bad limit string)."""
        from envs.safety import SafetyConfig, parse_safety_limits

        return SafetyConfig(parse_safety_limits(self.safety_limits), self.safety_scale, self.terminate_on_unsafe,
                            self.safety_cost)


@dataclass
class ModelConfig:
    latent_dim: int = _f(128, "latent state size (at most 16384)")
    hidden_dim: int = _f(256, "width of every MLP hidden layer (at most 16384)")
    simnorm_dim: int = _f(8, "group size of the simplicial normalisation of latents (0 = off)")
    num_q: int = _f(5, "size of the Q-function ensemble (terminal value, at most 64); estimates use 2 random "
                                 "members")
    q_dropout: float = _f(0.01, "dropout on the first layer of each Q-head while learning: keeps the members "
                                "apart, so the min of two in the TD target is pessimistic")
    num_bins: int = _f(101, "bins of the two-hot symlog regression of reward and value (at most 16384)")
    use_value: bool = _f(True, "learn a terminal value and add it at the planning horizon")
    use_policy_prior: bool = _f(True, "learn a policy prior whose rollouts seed part of the planner's samples")
    target_encoder: str = _f("ema", "latent-consistency target: 'ema' (slow encoder copy, V-JEPA style) or 'stopgrad'",
                             choices=("ema", "stopgrad"))
    world_model: str = _f("latent", "'latent' (from --obs state or pixels alone) or 'robotics' (camera frame + "
                                    "proprioceptive state fused, with a safety head; needs --obs pixels)",
                          choices=("latent", "robotics"))
    safety_head: bool = _f(False, "learn a safety head P(unsafe | latent, action) from the env's cost (always on "
                                  "with --model robotics or --safety-budget)")


@dataclass
class LearnConfig:
    batch_size: int = _f(256, "sub-sequences per update")
    horizon: int = _f(3, "model rollout length (steps) per training sub-sequence")
    recon_batch: int | None = _f(None, "sub-sequences per update whose observations the decoder reconstructs (0 = "
                                       "all); not given = all from state, 64 from pixels, where decoding frames is "
                                       "most of an update's cost (benchmarks/update_speed.py)")
    lr: float = _f(3e-4, "Adam learning rate")
    encoder_lr_scale: float = _f(0.3, "encoder learning rate as a fraction of --lr")
    grad_clip: float = _f(20.0, "gradient norm clip")
    rho: float = _f(0.5, "per-step weight decay of losses along the rollout")
    consistency_coef: float = _f(20.0, "weight of the latent-consistency loss")
    reward_coef: float = _f(0.1, "weight of the reward loss")
    value_coef: float = _f(0.1, "weight of the TD value loss")
    reconstruction_coef: float = _f(1.0, "weight of the decoder reconstruction loss")
    entropy_coef: float = _f(1e-4, "policy-prior entropy bonus")
    discount: float = _f(0.99, "discount of future rewards per agent decision (learner and planner)")
    tau: float = _f(0.01, "Polyak rate of the target encoder and target Q")
    utd: float = _f(1.0, "model updates per env step (update-to-data ratio)")
    schedule: str = _f("serial", "'serial': plan, step the env, then update, one after the other (runs reproduce bit "
                                 "for bit); 'overlap': the next action is planned while the updates of the last step "
                                 "run in a learner thread, each on its own core, with weights at most one update old "
                                 "(not bit-reproducible: both threads draw from torch's RNG). Not with a safety head",
                       choices=("serial", "overlap"))
    update_bf16: bool | None = _f(None, "run the model updates under bfloat16 autocast (losses and optimizer state "
                                        "stay fp32); not given = where bf16 is native (CUDA, CPUs with AVX512-BF16 "
                                        "or AMX: 1.45x faster per update there), fp32 elsewhere (emulated bf16 "
                                        "measured 7x slower on an AVX2-only CPU)")


@dataclass
class PlanConfig:
    planner: str = _f("mppi", "planner: 'cem' or 'mppi'", choices=("cem", "mppi"))
    # metadata["planner"]: the option of planners/config.py the field is carried to, by that name
    plan_horizon: int = _f(3, "planning horizon in agent decisions, then the terminal value (TD-MPC2's 3; 1 fixed a "
                              "failing reacher-easy seed and lost on another, issue 27: "
                              "benchmarks/results/suite_dmc-easy-50k.notes.md)", planner="horizon")
    num_samples: int = _f(256, "sampled action sequences per iteration", planner="num_samples")
    num_elites: int = _f(32, "elite sequences kept per iteration", planner="num_elites")
    iterations: int = _f(4, "planner iterations per action", planner="iterations")
    num_policy_samples: int = _f(24, "sequences rolled out by the policy prior per plan", planner="num_policy_samples")
    temperature: float = _f(2.0, "MPPI temperature: elite weights are softmax(return / temperature); 2.0 equals "
                                 "TD-MPC2's exp(0.5 * return)", planner="temperature")
    bf16: bool | None = _f(None, "imagine rollouts under bfloat16 autocast (elite sets matched fp32 in "
                                 "benchmarks/planning_speed.py); not given = where bf16 is native (CUDA, CPUs with "
                                 "AVX512-BF16 or AMX), fp32 elsewhere", planner="dtype_autocast")
    compile: bool = _f(False, "torch.compile the model step and terminal value the planner calls (a graph per "
                              "batch shape, compiled on first use). On this project's 2-core CPU: 1.12x faster in "
                              "fp32, no faster with --bf16; meant for GPUs, where it saves launches", planner="compile")
    value_pessimism: float = _f(0.0, "plan with a lower confidence bound of the terminal value: mean - K * std over "
                                     "all Q-heads (0 = the mean of two random heads, TD-MPC2's choice); against plans "
                                     "that only the value over-rates (issue 27, unmeasured yet)")
    prior_margin: float = _f(-1.0, "keep the policy prior's own plan (its mean action at every step) unless the "
                                   "planner's plan is predicted to return at least this much more, both judged in one "
                                   "imagined rollout with the same terminal value; negative = off (issue 27: against "
                                   "plans only the model over-rates; unmeasured yet). Needs the value and the prior",
                        )
    prior_trust: float = _f(0.0, "soft trust region around the policy prior: each imagined step of a plan loses this "
                                 "times the mean squared distance of its action from the prior's mean action at "
                                 "that step's latent, so plans the prior would not take must be predicted to earn "
                                 "more (issue 27: against plans only the model over-rates; 0 = off; unmeasured "
                                 "yet). Needs the prior", planner="prior_trust")
    pick_elite: bool = _f(False, "without exploration (evaluation), act on one elite plan drawn by its weight, without "
                                 "noise, as TD-MPC2 does, instead of on the weighted mean of the elites (which can "
                                 "stall between plans that go round either side)", planner="pick_elite")
    exploration_noise: float = _f(0.0, "std of extra Gaussian noise on training actions (the planner already "
                                           "samples its action from the elites while training)")
    proposer: str = _f("none", "extra candidate plans: 'none' or 'llm' (a language model proposes plans for --goal; "
                               "state observations only)", choices=("none", "llm"))
    llm_backend: str = _f("openai", "'openai' (any OpenAI-compatible chat server: Ollama, llama-server, vLLM) or "
                                    "'transformers' (a local Hugging Face model directory)",
                          choices=("openai", "transformers"))
    llm_base_url: str = _f("", "chat server URL up to /v1; '' = $OPENAI_BASE_URL or http://localhost:11434/v1 (Ollama)")
    llm_model: str = _f("", "model name on the server, or the model directory for --llm-backend transformers; "
                            "'' = $OPENAI_MODEL")
    llm_api_key_env: str = _f("OPENAI_API_KEY", "environment variable holding the server's API key (the key itself "
                                                "never enters config.json)")
    llm_every: int = _f(10, "control steps between LLM requests")
    llm_candidates: int = _f(4, "plans asked of the LLM per request")
    llm_deadline_ms: float = _f(0.0, "how long the step that sends a request waits for its answer (0 = never; "
                                     "later answers serve the next plans)")
    llm_follow: float = _f(0.3, "share of the LLM's answers whose best plan (by the model; within --safety-budget) "
                                "the agent acts on while training, until the next answer: proposals as "
                                "exploration, which the young model cannot rank. Cut to a tenth while those steps "
                                "earn less reward than the agent's own; 0 = proposals only compete in the planner")
    llm_follow_eval: bool = _f(True, "in evaluation (and Policy.act without explore), act on the best plan of every "
                                     "LLM answer once the proposer has proven itself while training (its followed "
                                     "steps earned more reward per step than the agent's own, over >= 100 of each, by "
                                     "more than 2 standard errors); "
                                     "until then, and with --no-llm-follow-eval, the planner acts alone")
    llm_as_mean: bool = _f(False, "also centre the planner's first samples on the first plan of each new LLM answer")
    llm_timeout_s: float = _f(30.0, "HTTP connect/read timeout of one request")
    llm_retries: int = _f(2, "retries after HTTP 429/5xx or a refused/reset connection (exponential backoff)")
    llm_judge_weight: float = _f(0.0, "weight of the LLM judge's 0-10 score against the predicted return when it "
                                      "picks among the planner's and the LLM's plans (0 = no judge)")
    goal: str = _f("", "the goal in words for the LLM; '' = the task's default goal")
    safety_budget: float = _f(-1.0, "max predicted cumulative P(unsafe) of a plan over the horizon; a value >= 0 "
                                    "turns on safe planning (negative = off)")
    safety_mode: str = _f("chance", "how plans over the budget are treated: 'chance' (rejected while any plan fits) "
                                    "or 'penalty' (Lagrangian: return - multiplier * cost)",
                          choices=("chance", "penalty"))
    safety_multiplier: float = _f(1.0, "initial Lagrange multiplier of --safety-mode penalty")
    safety_adapt_rate: float = _f(0.1, "dual-ascent step of the multiplier per plan (0 = fixed multiplier)")


def is_device_name(name: str) -> bool:
    """'auto', 'cpu', 'cuda' or 'cuda:N': the torch devices the CLI and benchmarks accept."""
    return re.fullmatch(r"auto|cpu|cuda(:\d+)?", name) is not None


@dataclass
class RunConfig:
    env: EnvConfig = field(default_factory=EnvConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    learn: LearnConfig = field(default_factory=LearnConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    steps: int = _f(100_000, "env steps (agent decisions) to train for")
    seed: int = _f(1, "random seed (envs, torch, numpy), in [0, 2**32)")
    seed_steps: int = _f(2500, "initial env steps with uniform random actions")
    pretrain_updates: int = _f(1000, "model updates run once when the seed steps are collected")
    eval_every: int = _f(10_000, "env steps between evaluations")
    eval_episodes: int = _f(5, "episodes per evaluation (no exploration noise)")
    video_every: int = _f(1, "record a rollout video every N-th evaluation (0 = never)")
    checkpoint_every: int = _f(5_000, "env steps between checkpoints (taken at episode ends)")
    keep_checkpoints: int = _f(2, "checkpoints kept on disk")
    threads: int = _f(0, "torch intra-op threads; 0 = 1 from state (its small matrices ran 1.5x faster on one "
                         "thread than on two), min(2, cores) from pixels")
    device: str = _f("auto", "torch device: 'auto', 'cpu' or 'cuda'")

    def validate(self) -> "RunConfig":
        """Raise ConfigError (one line) on the first value outside what is accepted."""
        env, model, learn, plan = self.env, self.model, self.learn, self.plan
        checks = [
            *_integers(1, None, steps=self.steps, eval_every=self.eval_every, eval_episodes=self.eval_episodes,
                       checkpoint_every=self.checkpoint_every, keep_checkpoints=self.keep_checkpoints,
                       batch_size=learn.batch_size, horizon=learn.horizon,
                       llm_every=plan.llm_every, llm_candidates=plan.llm_candidates),
            *_integers(0, None, seed_steps=self.seed_steps, threads=self.threads,
                       llm_retries=plan.llm_retries),
            *_finite_above(0.0, safety_scale=env.safety_scale, lr=learn.lr, grad_clip=learn.grad_clip, rho=learn.rho,
                           utd=learn.utd, llm_timeout_s=plan.llm_timeout_s),
            *_finite_above(0.0, True, encoder_lr_scale=learn.encoder_lr_scale,
                           consistency_coef=learn.consistency_coef, reward_coef=learn.reward_coef,
                           value_coef=learn.value_coef, reconstruction_coef=learn.reconstruction_coef,
                           entropy_coef=learn.entropy_coef, value_pessimism=plan.value_pessimism,
                           exploration_noise=plan.exploration_noise, safety_multiplier=plan.safety_multiplier,
                           safety_adapt_rate=plan.safety_adapt_rate, llm_deadline_ms=plan.llm_deadline_ms),
            (0 <= self.seed < 2**32, "seed", self.seed, "an integer in [0, 2**32)"),
            (is_device_name(self.device), "device", self.device, "'auto', 'cpu', 'cuda' or 'cuda:N'"),
            (env.action_repeat is None or env.action_repeat >= 1, "action_repeat", env.action_repeat,
             "an integer >= 1 (leave it out for the suite default)"),
            (env.image_size in (16, 32, 64, 128, 256), "image_size", env.image_size, "one of 16, 32, 64, 128, 256"),
            *_integers(1, MAX_WIDTH, latent_dim=model.latent_dim, hidden_dim=model.hidden_dim),
            *_integers(3, MAX_WIDTH, num_bins=model.num_bins),
            *_integers(1, MAX_Q, num_q=model.num_q),
            (model.simnorm_dim == 0 or model.latent_dim % model.simnorm_dim == 0, "simnorm_dim", model.simnorm_dim,
             f"0 or a divisor of latent_dim={model.latent_dim}"),
            (0 <= model.q_dropout < 1, "q_dropout", model.q_dropout, "a number in [0, 1)"),
            (learn.recon_batch is None or 0 <= learn.recon_batch <= learn.batch_size, "recon_batch",
             learn.recon_batch, f"an integer in [0, batch_size={learn.batch_size}] (0 = all)"),
            *_planner_options(plan, learn),
            (0 < learn.tau <= 1, "tau", learn.tau, "a number in (0, 1]"),
            (learn.schedule == "serial" or not self.learns_safety, "schedule", learn.schedule,
             "'serial' with a safety head (--safety-head, --safety-budget or --model robotics)"),
            (plan.num_elites <= plan.num_samples, "num_elites", plan.num_elites,
             f"an integer in [1, num_samples={plan.num_samples}]"),
            (plan.prior_margin < 0 or (model.use_value and model.use_policy_prior), "prior_margin",
             plan.prior_margin, "a negative number (off) without the terminal value or the policy prior"),
            (plan.prior_trust == 0 or model.use_policy_prior, "prior_trust", plan.prior_trust,
             "0 (off) without the policy prior"),
            (plan.proposer == "none" or env.obs == "state", "obs", env.obs,
             "'state' with --proposer llm (the LLM reads named state fields)"),
            (plan.proposer == "none" or bool(plan.llm_model) or
             (plan.llm_backend == "openai" and bool(os.environ.get("OPENAI_MODEL"))), "llm_model",
             plan.llm_model, "with --proposer llm: a model name (or $OPENAI_MODEL), or a model directory "
             "for --llm-backend transformers"),
            (plan.llm_base_url == "" or plan.llm_base_url.startswith(("http://", "https://")), "llm_base_url",
             plan.llm_base_url, "'' or an http(s):// URL up to /v1, e.g. http://localhost:11434/v1"),
            (0 <= plan.llm_judge_weight <= 1, "llm_judge_weight", plan.llm_judge_weight, "a number in [0, 1]"),
            (0 <= plan.llm_follow <= 1, "llm_follow", plan.llm_follow, "a number in [0, 1]"),
            (model.world_model == "latent" or env.obs == "pixels", "obs", env.obs,
             "'pixels' with --model robotics (it fuses the camera frame with the proprioceptive state)"),
            (model.world_model == "latent" or plan.proposer == "none", "proposer", plan.proposer,
             "'none' with --model robotics"),
            # Any float field without a range above (safety_budget, prior_margin): NaN and infinity are never a setting.
            *((isfinite(v), name, v, "a finite number") for name, v in self._float_values()),
        ]
        for ok, name, value, accepted in checks:
            if not ok:
                raise ConfigError(f"invalid {name}={value!r}: expected {accepted}")
        try:
            self.env.safety()
        except ValueError as exc:
            raise ConfigError(f"invalid safety option: {exc}") from None
        return self

    def _float_values(self) -> list[tuple[str, float]]:
        """(name, value) of every float field, sections included."""
        parts = [self, *(getattr(self, section) for section in SECTIONS)]
        return [(f.name, getattr(part, f.name)) for part in parts for f in dataclasses.fields(part)
                if str(f.type) == "float"]

    @property
    def env_obs_mode(self) -> str:
        """What ``make_env(obs=...)`` builds: the robotics model reads frame and state fused in one row."""
        return "fused" if self.model.world_model == "robotics" else self.env.obs

    @property
    def reconstruction_batch(self) -> int:
        """Sub-sequences per update the decoder reconstructs: --recon-batch, or the default for the observation.
        The batch's sub-sequences are drawn independently, so any subset of them estimates the same loss."""
        given = self.learn.recon_batch
        if given is None:
            given = PIXEL_RECON_BATCH if self.env.obs == "pixels" else 0
        return min(given, self.learn.batch_size) if given > 0 else self.learn.batch_size

    @property
    def learns_safety(self) -> bool:
        """Whether the agent learns a safety head (needed by a safety budget)."""
        return self.model.safety_head or self.model.world_model == "robotics" or self.plan.safety_budget >= 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        """Rebuild from ``to_dict`` output (any subset of it); unknown keys and values of the
        wrong type are a ConfigError. Ranges are `validate`'s job."""
        if not isinstance(data, dict):
            raise ConfigError(f"a config must be a JSON object of sections and values; got {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key, value in data.items():
            if key not in fields:
                raise ConfigError(f"unknown config key {key!r}: expected one of {sorted(fields)}")
            if key in SECTIONS:
                if not isinstance(value, dict):
                    raise ConfigError(f"config key {key!r} must be an object of {key} settings; got {value!r}")
                sub_fields = {f.name: f for f in dataclasses.fields(SECTIONS[key])}
                bad = set(value) - set(sub_fields)
                if bad:
                    raise ConfigError(f"unknown config key {key}.{sorted(bad)[0]!r}: expected one of {sorted(sub_fields)}")
                kwargs[key] = SECTIONS[key](**{k: _typed(f"{key}.{k}", v, sub_fields[k]) for k, v in value.items()})
            else:
                kwargs[key] = _typed(key, value, fields[key])
        return cls(**kwargs)

    @classmethod
    def from_saved(cls, data: dict[str, Any]) -> "RunConfig":
        """Rebuild a config that this program wrote (config.json, checkpoints), older versions included."""
        if not isinstance(data, dict):
            return cls.from_dict(data)  # its one-line error for what is not an object
        env = data.get("env")
        if isinstance(env, dict) and env.get("action_repeat") == 0:  # before: 0 meant the suite default
            data = {**data, "env": {**env, "action_repeat": None}}
        for (section, key), value in BEFORE_OPTION.items():
            part = data.get(section)
            if isinstance(part, dict) and key not in part:
                data = {**data, section: {**part, key: value}}
        return cls.from_dict(data)

    def save(self, path: Path) -> None:
        """Write as JSON; NaN and infinity are not JSON, so they are refused (validate refuses them first)."""
        try:
            text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        except ValueError:
            bad = next((f"{name}={value!r}" for name, value in self._float_values() if not isfinite(value)), "?")
            raise ConfigError(f"cannot save {path} with {bad}: expected finite numbers") from None
        path.write_text(text + "\n")

    @classmethod
    def load(cls, path: Path) -> "RunConfig":
        """A run's own config.json; a value of the wrong type is a one-line ConfigError naming the file."""
        data = read_json(path)
        try:
            return cls.from_saved(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None


# What a run saved before an option existed was trained with; its resume keeps that behaviour.
BEFORE_OPTION: dict[tuple[str, str], Any] = {("model", "q_dropout"): 0.0, ("learn", "update_bf16"): False,
                                             ("learn", "recon_batch"): 0}
# Upper bounds of the network sizes: a 16384-wide layer already holds 1 GiB of fp32 weights (and
# the MLPs have several), 8x TD-MPC2's largest model; beyond it a typo fails as an allocation error.
MAX_WIDTH = 16384
MAX_Q = 64
# Frames reconstructed per update from pixels: a quarter of the default batch (update time in
# benchmarks/results/update_speed.md).
PIXEL_RECON_BATCH = 64

SECTIONS: dict[str, type] = {"env": EnvConfig, "model": ModelConfig, "learn": LearnConfig, "plan": PlanConfig}
# What each annotation accepts from JSON: bools are not ints here, and ints are fine floats.
_ACCEPTED = {"int": ((int,), "an integer"), "float": ((int, float), "a number"), "bool": ((bool,), "true or false"),
             "str": ((str,), "a string"), "int | None": ((int, type(None)), "an integer or null"),
             "bool | None": ((bool, type(None)), "true, false or null (= where bf16 is native)")}


def _typed(name: str, value: Any, f: dataclasses.Field) -> Any:
    """``value`` if it has the field's type (ints widened to float), else a one-line ConfigError."""
    types, accepted = _ACCEPTED[str(f.type)]
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        raise ConfigError(f"invalid {name}={value!r}: expected {accepted}")
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"invalid {name}={value!r}: expected one of {', '.join(map(repr, choices))}")
    return float(value) if str(f.type) == "float" else value


# A run's config.json is about 3 KB; a file this large is not a config.
MAX_JSON_BYTES = 2**20


_Check = tuple[bool, str, Any, str]  # (ok, name, value, what is accepted)


def _integers(low: int, high: int | None = None, /, **values: int) -> list[_Check]:
    """Checks of integers in [low, high], or >= low without ``high``."""
    accepted = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
    return [(low <= v and (high is None or v <= high), name, v, accepted) for name, v in values.items()]


def _planner_options(plan: PlanConfig, learn: LearnConfig) -> list[_Check]:
    """The numeric planner options, checked with the planner's own ranges (planners/config.py) under the
    agent's names: a range is written once, where the planner defines the option."""
    linked = [(f.name, f.metadata["planner"]) for f in dataclasses.fields(plan) if "planner" in f.metadata]
    options = [(name, getattr(plan, name), accepts_of(option)) for name, option in linked]
    options.append(("discount", learn.discount, accepts_of("discount")))  # the learner's, carried to the planner
    # Flags are typed when a config is read; --bf16 may also be None (resolved for the device).
    return [(accepts(value), name, value, str(accepts)) for name, value, accepts in options if accepts.kind is not bool]


def _finite_above(low: float, or_equal: bool = False, /, **values: float) -> list[_Check]:
    """Checks of finite numbers above ``low`` (or equal to it)."""
    accepted = f"a finite number {'>=' if or_equal else '>'} {low:g}"
    return [(isfinite(v) and (v >= low if or_equal else v > low), name, v, accepted) for name, v in values.items()]


def read_json(path: Path) -> Any:
    """Parse a JSON file; a missing, malformed, oversized or deeply nested file is a one-line ConfigError."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_JSON_BYTES + 1)  # never read a huge file whole
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_JSON_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_JSON_BYTES // 2**20} MiB; expected a config of a few KB")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}); expected a JSON file") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ConfigError(f"{path} is nested too deeply; expected a config of sections and values") from None
