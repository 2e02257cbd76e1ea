"""The agent: world model + terminal value + policy prior + a planner, wired together.

Data flows one way: an observation goes in, the planner imagines with the world
model, an action comes out. Learning is the Learner's job; this module only builds
the parts and acts.
"""

from __future__ import annotations

import copy
import dataclasses

import gymnasium as gym
import numpy as np
import torch

from agent.config import RunConfig
from agent.learn.learner import Learner
from agent.model.policy_prior import PolicyPrior
from agent.model.robotics_model import RoboticsWorldModel
from agent.model.safety_head import SafetyHead, SafetyLearner
from agent.model.value import QEnsemble
from agent.model.world_model import LatentWorldModel
from envs.fused import STATE_BYTES
from planners import ConstraintConfig, PlanConstraint, SamplingConfig, make_planner
from planners.config import planner_config
from planners.precision import use_bf16
from planners.llm import (FollowConfig, JudgeConfig, LLMJudge, LLMProposer, PlanFollower, ProposerConfig, TaskSpec,
                          TransformersConfig, imagine_outcomes, make_backend, openai_config_from_env)


class WorldModelAgent:
    def __init__(self, obs_shape: tuple[int, ...], action_dim: int, cfg: RunConfig, device: torch.device,
                 task: TaskSpec | None = None) -> None:
        """``task`` describes the env to an LLM; without it ``--proposer llm`` is inactive (planner alone)."""
        self.cfg, self.device, self.action_dim = cfg, device, action_dim
        m = cfg.model
        self.world_model, z_dim = _world_model(obs_shape, action_dim, cfg)
        self.world_model.to(device)
        # Both the terminal value and the policy prior need the critic and the policy:
        # V(z) = Q(z, pi(z)), and pi is trained against Q.
        needs_actor_critic = m.use_value or m.use_policy_prior
        self.critic = QEnsemble(z_dim, action_dim, m.hidden_dim, m.num_q, m.num_bins, m.q_dropout).to(device) \
            if needs_actor_critic else None
        self.policy = PolicyPrior(z_dim, action_dim, m.hidden_dim).to(device) if needs_actor_critic else None
        # With --schedule overlap the learner trains its own copies of the networks in a thread while
        # the planner acts with these; sync_from_learner() hands the new weights over after each update.
        self.separate_learner = cfg.learn.schedule == "overlap"
        learned = (self.world_model, self.critic, self.policy)
        if self.separate_learner:
            learned = copy.deepcopy(learned)
        self.learner = Learner(*learned, cfg.learn, m, recon_batch=cfg.reconstruction_batch)
        self.safety_head, self.safety_learner = self._safety_parts(z_dim)
        self.constraint = _constraint(cfg, self.safety_head)
        self.last_p_unsafe = float("nan")  # the head's P(unsafe) of the last action taken
        self.no_feasible_plans = 0  # plans where no sample fitted the safety budget (the safest was taken)
        self.prior_kept = self.plans = 0  # --prior-margin: plans where the prior's own plan was kept
        self.followed_actions = 0  # actions taken from a followed LLM plan (--llm-follow, --llm-follow-eval)
        self.planner = make_planner(
            cfg.plan.planner, self.world_model, action_dim, _planner_config(cfg, device),
            terminal_value=self.terminal_value if m.use_value else None,
            policy_prior=self.policy.sample if (m.use_policy_prior and self.policy is not None) else None,
            device=str(device), constraint=self.constraint,
            prior_mean=self.policy.mean_action if (cfg.plan.prior_trust > 0 and self.policy is not None) else None,
        )
        self.proposer, self.judge = _llm_parts(cfg, task) if cfg.plan.proposer == "llm" and task else (None, None)
        # While training, a share of the LLM's answers is acted on (planners/llm/follow.py).
        self.follower = PlanFollower(FollowConfig(share=cfg.plan.llm_follow)) \
            if self.proposer is not None and cfg.plan.llm_follow > 0 else None

    def _safety_parts(self, z_dim: int) -> tuple[SafetyHead | None, SafetyLearner | None]:
        """The robotics model's own head, or one beside the latent model when safety is asked for."""
        if isinstance(self.world_model, RoboticsWorldModel):
            head = self.world_model.safety_head
        elif self.cfg.learns_safety:
            head = SafetyHead(z_dim, self.action_dim, self.cfg.model.hidden_dim).to(self.device)
        else:
            return None, None
        return head, SafetyLearner(head, self.world_model, self.cfg.learn.lr)

    def terminal_value(self, z: torch.Tensor) -> torch.Tensor:
        """V(z) = Q(z, pi(z)) after the planner's last imagined step: the mean of two random heads, or with
        ``--value-pessimism K`` mean - K * std over all heads."""
        assert self.critic is not None and self.policy is not None
        action = self.policy.sample(z)
        k = self.cfg.plan.value_pessimism
        return self.critic.lower_bound(z, action, k) if k > 0 else self.critic.q(z, action, reduce="mean")

    def reset(self) -> None:
        """Call at every episode start: drops the planner's warm start and the LLM's answers."""
        self.planner.reset()
        if self.proposer is not None:
            self.proposer.reset()
        if self.follower is not None:
            self.follower.reset()

    def record_reward(self, reward: float) -> None:
        """The reward of the training step just taken on the last planned action (checks followed LLM plans)."""
        if self.follower is not None:
            self.follower.record(reward)

    def llm_stats(self) -> dict[str, float]:
        """Proposer counters, and the judge's as ``judge_*``; empty without a proposer."""
        stats = dict(self.proposer.stats) if self.proposer is not None else {}
        if self.judge is not None:
            stats.update({f"judge_{k}": v for k, v in self.judge.stats.items()})
        if self.follower is not None:
            stats.update(self.follower.stats)
        return stats

    def close(self) -> None:
        """Stop the LLM backend's retries (the judge shares it); requests in flight end on their own timeout."""
        if self.proposer is not None:
            self.proposer.close()

    @torch.no_grad()
    def act(self, obs: np.ndarray, explore: bool, rng: np.random.Generator, follow_llm: bool = False) -> np.ndarray:
        """Plan an action in [-1, 1].

        While exploring, the planner draws an elite by its weight and perturbs it by the
        final planning std (TD-MPC2's exploration); ``exploration_noise`` adds Gaussian
        noise on top of that. ``follow_llm`` (the trainer's, which reports each step's reward
        with :meth:`record_reward`) lets a share of the steps act on LLM plans (``--llm-follow``);
        without it, ``explore=False`` acts on them once the proposer has proven itself, and does not ask
        a proposer disproven the same way (``--llm-follow-eval``, planners/llm/follow.py).
        """
        obs_t = torch.as_tensor(np.asarray(obs), device=self.device).unsqueeze(0)
        # Evaluating, the training's reward check decides: a proven proposer is followed, a disproven one not asked.
        evaluating = not explore and not follow_llm and self.follower is not None and self.cfg.plan.llm_follow_eval
        ignored = evaluating and self.follower.disproven
        plans = self.proposer.candidates(obs) if self.proposer is not None and not ignored else None
        candidates = None if plans is None else torch.from_numpy(plans)
        initial_mean = None
        if candidates is not None and self.cfg.plan.llm_as_mean and self.proposer is not None and self.proposer.fresh:
            initial_mean = candidates[0]  # the model's first plan; the others still compete as candidates
        action = self.planner.plan(obs_t, candidates=candidates, explore=explore,
                                   initial_mean=initial_mean).cpu().numpy().astype(np.float32)
        self.no_feasible_plans += int(self.planner.last_stats.get("no_feasible_plan", 0.0))
        self.plans += 1
        fresh = candidates is not None and self.proposer is not None and self.proposer.fresh
        judged = self.judge is not None and fresh
        following = self.follower is not None and (follow_llm or evaluating)
        # The start latent, encoded once for whichever of the checks below needs it.
        needs_z0 = self.cfg.plan.prior_margin >= 0 or judged or (following and fresh) or self.safety_head is not None
        z0 = self.world_model.initial_latent(obs_t) if needs_z0 else None
        if self.cfg.plan.prior_margin >= 0:
            action = self._prior_unless_beaten(z0, action, explore)
        if self.proposer is not None:
            self.proposer.record_plan(self.planner.last_stats)
            if judged:
                action = self._judged_action(z0, candidates, action)
            if following:
                action = self._followed_action(z0, plans, rng, action, evaluating)
        if explore and self.cfg.plan.exploration_noise > 0:
            action = action + self.cfg.plan.exploration_noise * rng.standard_normal(action.shape).astype(np.float32)
        action = np.clip(action, -1.0, 1.0)
        if self.safety_head is not None:
            a_t = torch.as_tensor(action, device=self.device).unsqueeze(0)
            self.last_p_unsafe = float(self.safety_head.p_unsafe(z0, a_t))
        return action

    def _followed_action(self, z0: torch.Tensor | None, plans: np.ndarray | None, rng: np.random.Generator,
                         action: np.ndarray, evaluating: bool) -> np.ndarray:
        """The action of the LLM plan being followed, if any (see planners/llm/follow.py).

        A fresh answer's plans are ranked over all the steps left in them (then the terminal value), not the
        planner's horizon: a plan chosen is acted on until the next answer, and plans that agree for the
        first few steps can part after (the arm going round its base one way or the other).
        """
        assert self.follower is not None and self.proposer is not None
        rest = self.proposer.rest
        if plans is not None and self.proposer.fresh and rest is not None and z0 is not None:
            value = self.terminal_value if self.cfg.model.use_value else None
            returns, _ = imagine_outcomes(self.world_model, z0, torch.from_numpy(rest).to(self.device),
                                          self.cfg.learn.discount, value)
            feasible = self.planner.last_candidate_feasible
            self.follower.choose(returns.float().cpu().numpy(), None if feasible is None else feasible.numpy(),
                                 rng, evaluating)
        followed = self.follower.action(plans)
        if followed is None:
            return action
        self.followed_actions += 1
        return followed.astype(np.float32)

    def _prior_unless_beaten(self, z0: torch.Tensor, action: np.ndarray, explore: bool) -> np.ndarray:
        """The planner's action only if its plan beats the policy prior's own plan by --prior-margin.

        Both plans are rolled out in one imagined batch and valued with one terminal-value call (the same
        two Q-heads), so neither gets a luckier head. The prior's plan follows its mean action at each
        imagined step; acting on it while exploring draws from the prior instead.
        """
        assert self.policy is not None and self.planner.last_plan is not None
        z, prior_actions = z0, []
        for _ in range(self.cfg.plan.plan_horizon):
            prior_actions.append(self.policy.mean_action(z))
            z, _ = self.world_model.next_latent_and_reward(z, prior_actions[-1])
        plans = torch.stack([self.planner.last_plan.to(self.device).float(), torch.cat(prior_actions).float()])
        returns, _ = imagine_outcomes(self.world_model, z0, plans, self.cfg.learn.discount, self.terminal_value)
        if float(returns[0]) >= float(returns[1]) + self.cfg.plan.prior_margin:
            return action
        self.prior_kept += 1
        first = self.policy.sample(z0) if explore else plans[1, :1]
        return first[0].float().cpu().numpy()

    def plan_stats(self) -> dict[str, float]:
        """Over this process's plans: with --prior-margin, the fraction where the prior's own plan was acted on;
        with an LLM follower, the fraction of actions taken from LLM plans, and whether the proposer is proven."""
        stats: dict[str, float] = {}
        if self.cfg.plan.prior_margin >= 0 and self.plans:
            stats["prior_kept_fraction"] = self.prior_kept / self.plans
        if self.follower is not None and self.plans:
            stats["llm_followed_fraction"] = self.followed_actions / self.plans
            stats["llm_follow_proven"] = float(self.follower.proven)
            stats["llm_follow_disproven"] = float(self.follower.disproven)
        return stats

    def _judged_action(self, z0: torch.Tensor, candidates: torch.Tensor, action: np.ndarray) -> np.ndarray:
        """Let the judge pick among the planner's plan and the best LLM plans (first action of the pick)."""
        assert self.judge is not None and self.planner.last_plan is not None
        plans = torch.cat([self.planner.last_plan.unsqueeze(0).cpu(), candidates]).to(self.device)
        value = self.terminal_value if self.cfg.model.use_value else None
        returns, z_final = imagine_outcomes(self.world_model, z0, plans, self.cfg.learn.discount, value)
        keep = torch.cat([torch.zeros(1, dtype=torch.long, device=returns.device),
                          1 + returns[1:].argsort(descending=True)[: self.judge.config.max_plans - 1]])
        states = self.world_model.decode_observation(z_final[keep]).float().cpu().numpy()
        pick = self.judge.choose(returns[keep].float().cpu().numpy(), states)
        if pick is None or pick == 0:
            return action  # no verdict in time, or the planner's own plan won
        return plans[keep[pick], 0].float().cpu().numpy()

    @torch.no_grad()
    def imagine(self, first_obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Open-loop decoded predictions for an action sequence from one real start.

        Returns T+1 reconstructed observations (the first decodes the encoded start), in
        env units: state vectors, or frames in [-0.5, 0.5].
        """
        z = self.world_model.encode(torch.as_tensor(first_obs, device=self.device).unsqueeze(0))
        latents = [z]
        for a in torch.as_tensor(actions, device=self.device, dtype=torch.float32):
            z = self.world_model.next(z, a.unsqueeze(0))
            latents.append(z)
        return self.world_model.decode_observation(torch.cat(latents)).float().cpu().numpy()

    def _pairs(self) -> list[tuple[torch.nn.Module, torch.nn.Module]]:
        """(acting module, the learner's module) for each network the learner trains."""
        learned = (self.learner.wm, self.learner.critic, self.learner.policy)
        return [(a, b) for a, b in zip((self.world_model, self.critic, self.policy), learned) if a is not None]

    def sync_from_learner(self) -> None:
        """Give the acting networks the learner's weights (a no-op when they are the same networks)."""
        if self.separate_learner:
            _copy_tensors([(acting, learned) for acting, learned in self._pairs()])

    def sync_to_learner(self) -> None:
        """Give the learner's copies the acting networks' weights (after loading them, or new obs statistics)."""
        if self.separate_learner:
            _copy_tensors([(learned, acting) for acting, learned in self._pairs()])

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        losses = self.learner.update(batch)
        if self.safety_learner is not None and "nonfinite_skipped" not in losses:
            losses.update(self.safety_learner.update(batch))
        return losses

    def safety_stats(self) -> dict[str, float]:
        """The planner's constraint state (empty without a safety budget)."""
        if self.constraint is None:
            return {}
        return {"multiplier": self.constraint.multiplier, "no_feasible_plans": float(self.no_feasible_plans)}

    def state_dict(self) -> dict:
        return {
            "world_model": self.world_model.state_dict(),
            "critic": self.critic.state_dict() if self.critic else None,
            "policy": self.policy.state_dict() if self.policy else None,
            "learner": self.learner.state_dict(),
            "safety_head": self.safety_head.state_dict() if self.safety_head is not None else None,
            "safety_learner": self.safety_learner.state_dict() if self.safety_learner is not None else None,
            "constraint": self.constraint.state_dict() if self.constraint is not None else None,
            "llm_follower": self.follower.state_dict() if self.follower is not None else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.world_model.load_state_dict(state["world_model"])
        if self.critic is not None:
            self.critic.load_state_dict(state["critic"])
        if self.policy is not None:
            self.policy.load_state_dict(state["policy"])
        self.sync_to_learner()  # before the learner's state: it snapshots its networks as the last good weights
        self.learner.load_state_dict(state["learner"])
        if self.safety_head is not None and state.get("safety_head") is not None:
            self.safety_head.load_state_dict(state["safety_head"])
            self.safety_learner.load_state_dict(state["safety_learner"])
        if self.constraint is not None and state.get("constraint") is not None:
            self.constraint.load_state_dict(state["constraint"])
        if self.follower is not None and state.get("llm_follower") is not None:
            self.follower.load_state_dict(state["llm_follower"])


def _copy_tensors(pairs: list[tuple[torch.nn.Module, torch.nn.Module]]) -> None:
    """Copy every parameter and buffer of each source module into its destination, in one foreach call."""
    dst = [t for d, _ in pairs for t in (*d.parameters(), *d.buffers())]
    src = [t for _, s in pairs for t in (*s.parameters(), *s.buffers())]
    with torch.no_grad():
        torch._foreach_copy_(dst, src)


def build_agent(cfg: RunConfig, env: gym.Env, device: torch.device) -> WorldModelAgent:
    """The agent for an env made from ``cfg`` (with its LLM task description under --proposer llm)."""
    from planners.llm import task_spec_from_env

    task = task_spec_from_env(env, cfg.plan.plan_horizon, cfg.plan.goal) if cfg.plan.proposer == "llm" else None
    return WorldModelAgent(env.observation_space.shape, int(np.prod(env.action_space.shape)), cfg, device, task=task)


def _world_model(obs_shape: tuple[int, ...], action_dim: int,
                 cfg: RunConfig) -> tuple[LatentWorldModel | RoboticsWorldModel, int]:
    """The world model ``--model`` names, and the size of its latent."""
    if cfg.model.world_model == "robotics":
        size = cfg.env.image_size
        state_dim = (int(np.prod(obs_shape)) - size * size * 3) // STATE_BYTES
        model = RoboticsWorldModel(size, state_dim, action_dim, cfg.model)
        return model, model.latent_dim
    return LatentWorldModel(obs_shape, action_dim, cfg.model), cfg.model.latent_dim


def _constraint(cfg: RunConfig, head: SafetyHead | None) -> PlanConstraint | None:
    """The planner's safety constraint under ``--safety-budget`` (``None`` without a budget)."""
    p = cfg.plan
    if p.safety_budget < 0 or head is None:
        return None
    return PlanConstraint(head.p_unsafe, ConstraintConfig(budget=p.safety_budget, mode=p.safety_mode,
                                                          multiplier=p.safety_multiplier,
                                                          adapt_rate=p.safety_adapt_rate))


def _planner_config(cfg: RunConfig, device: torch.device) -> SamplingConfig:
    """The planner package's config: each PlanConfig field carried by the option name in its metadata["planner"];
    --bf16 not given is resolved for the device, and the discount is the learner's."""
    p = cfg.plan
    options = {f.metadata["planner"]: getattr(p, f.name) for f in dataclasses.fields(p) if "planner" in f.metadata}
    options.update(dtype_autocast=use_bf16(p.bf16, device), discount=cfg.learn.discount)
    return planner_config(p.planner, options)


def _llm_parts(cfg: RunConfig, task: TaskSpec) -> tuple[LLMProposer, LLMJudge | None]:
    """Map the run's PlanConfig onto the LLM package's backend, proposer and judge."""
    p = cfg.plan
    if p.llm_backend == "transformers":
        backend = make_backend("transformers", TransformersConfig(model_path=p.llm_model))
    else:
        backend = make_backend("openai", openai_config_from_env(
            p.llm_base_url, p.llm_model, p.llm_api_key_env, timeout_s=p.llm_timeout_s, max_retries=p.llm_retries))
    proposer = LLMProposer(backend, task, ProposerConfig(num_candidates=p.llm_candidates, every=p.llm_every,
                                                         deadline_ms=p.llm_deadline_ms))
    judge = LLMJudge(backend, task, JudgeConfig(weight=p.llm_judge_weight)) if p.llm_judge_weight > 0 else None
    return proposer, judge
