"""The loop shared by the sampling planners (CEM, MPPI).

Each call to :meth:`SamplingPlanner.plan`:

1. encodes the observation to ``z0``;
2. builds a population of action sequences ``(H, N_total, A)`` laid out as
   ``[policy-prior rollouts | caller candidates | Gaussian samples]``;
3. for ``iterations`` rounds: resamples the Gaussian part, evaluates it in
   one batched imagined rollout (Python loops only over the horizon), picks
   the top ``num_elites`` of the whole population, and refits mean/std from
   the elites with weights given by a pluggable *weighting rule*;
4. returns the first action of the mean plan (or of one elite drawn by
   weight: ``pick_elite``, or exploring) and keeps the mean plan, shifted by
   one step, as the warm start of the next call.

The model is assumed deterministic given ``(z, a)``: policy-prior and
candidate trajectories are evaluated once per call and their returns are
reused by later iterations instead of being recomputed.

CEM and MPPI differ only in the weighting rule (uniform vs. softmax of the
returns), so the planners compose this class with a rule.

The pieces the loop is made of live beside it: ``planners.actions`` (bounds,
candidate checks), ``planners.rollout`` (scoring plans in the model) and
``planners.elites`` (weights, refit, what the elites came from).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import torch

from planners.actions import BoundLike, action_bounds, prepare_candidates
from planners.config import SamplingConfig
from planners.constraint import PlanConstraint
from planners.elites import EliteWeighting, population_stats, weighted_moments
from planners.model import LatentModel, PolicyPriorFn, TerminalValueFn
from planners.precision import bf16_is_native
from planners.rollout import imagined_returns


@dataclass
class _Workspace:
    """Buffers reused across iterations and calls (same population size)."""

    actions: torch.Tensor  # (H, N_total, A)
    returns: torch.Tensor  # (N_total,)
    noise: torch.Tensor  # (H, N, A)
    costs: torch.Tensor | None = None  # (N_total,) predicted cumulative P(unsafe), with a constraint only


class SamplingPlanner:
    """Sampling-based MPC over imagined rollouts of a :class:`LatentModel`.

    Usually built through :class:`planners.CEMPlanner` or
    :class:`planners.MPPIPlanner`, which bind the weighting rule.

    ``last_stats`` after each call holds: ``elite_return_mean``,
    ``best_return``, ``std_mean`` (final std), ``policy_in_elites`` /
    ``policy_weight`` (policy-prior trajectories among the final elites, and
    their total weight), ``candidate_in_elites`` / ``candidate_weight`` (same
    for caller candidates), ``candidate_is_best`` (the best trajectory is a
    candidate), ``candidate_chosen`` (the elite the action came from is a
    candidate: the drawn one with ``explore=True``, else the best one, since
    the mean blends elites), ``candidate_best_return`` (NaN without
    candidates) and ``num_candidates``. Flags are 0.0 / 1.0.

    With a ``constraint`` (``planners.constraint``), plans are ranked by its scores
    instead of their returns, and ``last_stats`` also holds ``no_feasible_plan`` (no
    sample was within the safety budget, so the safest one was taken), ``plan_cost``
    (predicted cumulative P(unsafe) of the plan acted on), ``feasible_fraction`` and
    ``safety_multiplier``. Without one, nothing extra is computed.
    """

    config_class: type[SamplingConfig] = SamplingConfig

    def __init__(
        self,
        model: LatentModel,
        action_dim: int,
        config: SamplingConfig | None = None,
        weighting: EliteWeighting | None = None,
        action_low: BoundLike = -1.0,
        action_high: BoundLike = 1.0,
        terminal_value: TerminalValueFn | None = None,
        policy_prior: PolicyPriorFn | None = None,
        device: str | torch.device = "cpu",
        constraint: PlanConstraint | None = None,
        prior_mean: PolicyPriorFn | None = None,
    ) -> None:
        config = self.config_class() if config is None else config
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}")
        weighting = self.elite_weighting(config) if weighting is None else weighting
        if not isinstance(model, LatentModel):
            raise TypeError(
                f"model {type(model).__name__} lacks initial_latent/next_latent_and_reward"
            )
        if isinstance(action_dim, bool) or not isinstance(action_dim, int) or action_dim < 1:
            raise ValueError(f"action_dim={action_dim!r} is invalid; accepted: an int >= 1")
        self.model = model
        self.action_dim = action_dim
        self.config = config
        self.weighting = weighting
        self.terminal_value = terminal_value
        self.policy_prior = policy_prior
        if config.prior_trust > 0 and prior_mean is None:
            raise ValueError(f"prior_trust={config.prior_trust:g} needs a prior_mean (the prior's action per latent)")
        self.prior_mean = prior_mean
        self.constraint = constraint
        self.device = torch.device(device)
        self.action_low, self.action_high = action_bounds(
            action_low, action_high, action_dim, self.device
        )
        if config.dtype_autocast and self.device.type == "cpu" and not bf16_is_native(self.device):
            warnings.warn(
                "dtype_autocast=True but this CPU has no native bf16: planning will likely be slower; "
                "set dtype_autocast=False",
                RuntimeWarning,
                stacklevel=3,
            )
        # The functions the rollout calls: the model's own, or compiled copies of them (same
        # weights, so learning updates reach the compiled graphs).
        self._step = model.next_latent_and_reward
        self._value = terminal_value
        if config.compile:
            self._step = torch.compile(model.next_latent_and_reward, dynamic=False)
            self._value = None if terminal_value is None else torch.compile(terminal_value, dynamic=False)
        self.last_stats: dict[str, float] = {}
        # The caller candidates' imagined returns and, with a constraint, whether each fits the budget
        # (None without candidates): a caller may act on one itself (planners.llm.follow).
        self.last_candidate_returns: torch.Tensor | None = None
        self.last_candidate_feasible: torch.Tensor | None = None
        self._warm_mean: torch.Tensor | None = None
        self._last_plan: torch.Tensor | None = None
        self._workspace: _Workspace | None = None

    def elite_weighting(self, config: SamplingConfig) -> EliteWeighting:
        """The rule that turns elite returns into refit weights; CEM and MPPI each bind theirs."""
        raise TypeError(f"{type(self).__name__} needs an explicit weighting (or use CEMPlanner / MPPIPlanner)")

    # ------------------------------------------------------------------ API

    def reset(self) -> None:
        """Forget the warm start; call at the start of every episode."""
        self._warm_mean = None
        self._last_plan = None

    @property
    def warm_start(self) -> torch.Tensor | None:
        """Copy of the ``(H, A)`` mean the next call starts from (``None`` after reset)."""
        return None if self._warm_mean is None else self._warm_mean.clone()

    @property
    def last_plan(self) -> torch.Tensor | None:
        """Copy of the ``(H, A)`` mean plan found by the last call, before shifting."""
        return None if self._last_plan is None else self._last_plan.clone()

    def plan(
        self,
        obs: torch.Tensor,
        candidates: torch.Tensor | None = None,
        *,
        explore: bool = False,
        initial_mean: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Plan from ``obs`` (batch of 1) and return the first action, shape ``(A,)``, on CPU.

        ``candidates`` ``(K, H, A)`` (or ``(H, A)``) are extra plans, e.g.
        proposed by an LLM: they are clipped to the bounds and compete with
        the sampled ones for the elite set in every iteration.

        ``initial_mean`` ``(H, A)`` centres this call's first samples on a given
        plan (clipped to the bounds) instead of the warm start.

        With ``explore=False`` the first action of the final mean is
        returned (deterministic given the samples), or with ``pick_elite`` that
        of one elite drawn with the final weights. With ``explore=True`` one
        elite is drawn with the final weights and its first action is
        perturbed by the final std (TD-MPC2's training-time behaviour).
        """
        with torch.no_grad(), self._autocast():
            return self._plan(obs, candidates, explore, initial_mean)

    # ------------------------------------------------------------ internals

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not self.config.dtype_autocast:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _plan(
        self, obs: torch.Tensor, candidates: torch.Tensor | None, explore: bool,
        initial_mean: torch.Tensor | None = None,
    ) -> torch.Tensor:
        cfg = self.config
        z0 = self._encode(obs)
        cand = prepare_candidates(
            candidates, cfg.horizon, self.action_dim, self.action_low, self.action_high, self.device
        )
        n_policy = cfg.num_policy_samples if self.policy_prior is not None else 0
        n_cand = 0 if cand is None else cand.shape[1]
        n_fixed = n_policy + n_cand
        ws = self._get_workspace(n_fixed + cfg.num_samples)
        actions, returns, costs = ws.actions, ws.returns, ws.costs

        if n_policy:
            self._rollout(z0, actions[:, :n_policy], returns[:n_policy], self.policy_prior,
                          None if costs is None else costs[:n_policy])
        if cand is not None:
            actions[:, n_policy:n_fixed].copy_(cand)

        mean, std = self._initial_distribution(initial_mean)
        sampled = actions[:, n_fixed:]
        for i in range(cfg.iterations):
            ws.noise.normal_()
            torch.addcmul(mean.unsqueeze(1), std.unsqueeze(1), ws.noise, out=sampled)
            sampled.clamp_(self.action_low, self.action_high)
            # Candidates join the first batch so they cost no extra rollout.
            start = n_policy if i == 0 else n_fixed
            self._rollout(z0, actions[:, start:], returns[start:], costs=None if costs is None else costs[start:])

            scores = returns if costs is None else self.constraint.scores(returns, costs)
            elite_returns, elite_idx = torch.topk(scores, cfg.num_elites, sorted=True)
            elites = actions.index_select(1, elite_idx)
            weights = self.weighting(elite_returns)
            new_mean, new_std = weighted_moments(elites, weights)
            if cfg.momentum > 0.0:
                new_mean = cfg.momentum * mean + (1.0 - cfg.momentum) * new_mean
            mean = new_mean
            std = new_std.clamp_(cfg.min_std, cfg.init_std)

        if costs is not None:
            action, mean, pick, safety_stats = self._constrained_choice(
                z0, mean, std, elites, elite_idx, weights, costs, explore)
        elif explore:
            pick = int(torch.multinomial(weights.float(), 1))
            noise = torch.randn(self.action_dim, device=self.device)
            action = elites[0, pick] + std[0] * noise
            action = torch.clamp(action, self.action_low, self.action_high)
        elif cfg.pick_elite:
            pick = int(torch.multinomial(weights.float(), 1))
            action = elites[0, pick]
        else:
            pick = 0  # the best elite, reported in stats only
            action = mean[0]

        self._remember(mean)
        self._remember_candidates(returns[n_policy:n_fixed] if n_cand else None,
                                  None if costs is None or not n_cand else costs[n_policy:n_fixed])
        self.last_stats = population_stats(
            returns, elite_returns, elite_idx, weights, std, n_policy, n_cand, pick
        )
        if costs is not None:
            self.last_stats.update(safety_stats)
        return action.detach().to(device="cpu", dtype=torch.float32).clone()

    def _constrained_choice(
        self, z0: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, elites: torch.Tensor,
        elite_idx: torch.Tensor, weights: torch.Tensor, costs: torch.Tensor, explore: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, int, dict[str, float]]:
        """The action and the plan to act on under the safety constraint.

        No feasible sample: the safest sample, unperturbed. Exploring (or ``pick_elite``): an elite
        drawn by weight among the feasible ones (perturbed only when exploring). Otherwise the mean
        plan if it is itself within budget (the mean of plans that pass an obstacle on either side
        can cross it), else, under the chance constraint, the best feasible elite.
        """
        constraint = self.constraint
        assert constraint is not None
        feasible = constraint.feasible(costs)
        elite_feasible = feasible[elite_idx]
        pick = 0
        if not bool(feasible.any()):
            safest = int(torch.argmin(costs))
            plan, cost = self._workspace.actions[:, safest].clone(), float(costs[safest])
            action = plan[0]
        elif explore:
            w = weights.float() * elite_feasible if constraint.config.mode == "chance" else weights.float()
            pick = int(torch.multinomial(w, 1))
            plan, cost = elites[:, pick], float(costs[elite_idx[pick]])
            noise = torch.randn(self.action_dim, device=self.device)
            action = torch.clamp(plan[0] + std[0] * noise, self.action_low, self.action_high)
            plan = mean
        elif self.config.pick_elite:  # as exploring, without the noise
            w = weights.float() * elite_feasible if constraint.config.mode == "chance" else weights.float()
            pick = int(torch.multinomial(w, 1))
            plan, cost = elites[:, pick], float(costs[elite_idx[pick]])
            action = plan[0]
            plan = mean
        else:
            mean_cost = torch.empty(1, device=self.device)
            self._rollout(z0, mean.unsqueeze(1).clone(), torch.empty(1, device=self.device), costs=mean_cost)
            plan, cost = mean, float(mean_cost)
            if constraint.config.mode == "chance" and cost > constraint.config.budget:
                plan, cost = elites[:, 0], float(costs[elite_idx[0]])  # ranked first: feasible
            action = plan[0]
        constraint.update(cost)
        stats = {"no_feasible_plan": float(not bool(feasible.any())), "plan_cost": cost,
                 "feasible_fraction": float(feasible.float().mean()), "safety_multiplier": constraint.multiplier}
        return action, plan, pick, stats

    def _encode(self, obs: torch.Tensor) -> torch.Tensor:
        z0 = self.model.initial_latent(obs.to(self.device))
        if z0.dim() != 2 or z0.shape[0] != 1:
            raise ValueError(
                f"initial_latent returned shape {tuple(z0.shape)}; accepted: (1, Z) for an obs batch of 1"
            )
        return z0

    def _get_workspace(self, total: int) -> _Workspace:
        h, a, n = self.config.horizon, self.action_dim, self.config.num_samples
        ws = self._workspace
        if ws is None or ws.actions.shape != (h, total, a) or ws.noise.shape != (h, n, a):
            ws = _Workspace(
                actions=torch.empty(h, total, a, device=self.device),
                returns=torch.empty(total, device=self.device),
                noise=torch.empty(h, n, a, device=self.device),
                costs=torch.empty(total, device=self.device) if self.constraint is not None else None,
            )
            self._workspace = ws
        return ws

    def _initial_distribution(self, initial_mean: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (self.config.horizon, self.action_dim)
        if initial_mean is not None:
            mean = torch.as_tensor(initial_mean, dtype=torch.float32, device=self.device)
            if tuple(mean.shape) != shape:
                raise ValueError(f"initial_mean has shape {tuple(mean.shape)}; accepted: {shape}")
            mean = torch.clamp(mean, self.action_low, self.action_high)
        elif self._warm_mean is not None:
            mean = self._warm_mean.clone()
        else:
            # Bound midpoint, not zero: zero can sit on (or outside) asymmetric bounds.
            mean = ((self.action_low + self.action_high) / 2).expand(shape).clone()
        std = torch.full(shape, self.config.init_std, device=self.device)
        return mean, std

    def _rollout(
        self,
        z0: torch.Tensor,
        actions: torch.Tensor,
        returns: torch.Tensor,
        policy: PolicyPriorFn | None = None,
        costs: torch.Tensor | None = None,
    ) -> None:
        """Score plans with :func:`planners.rollout.imagined_returns`, with this planner's
        model step, terminal value, bounds and (given ``costs``) constraint."""
        imagined_returns(
            self._step, z0, actions, returns,
            horizon=self.config.horizon, discount=self.config.discount,
            low=self.action_low, high=self.action_high, value=self._value, policy=policy,
            costs=costs, step_cost=None if self.constraint is None else self.constraint.step_cost,
            prior_mean=self.prior_mean, prior_trust=self.config.prior_trust,
        )

    def _remember_candidates(self, returns: torch.Tensor | None, costs: torch.Tensor | None) -> None:
        self.last_candidate_returns = None if returns is None else returns.float().cpu().clone()
        self.last_candidate_feasible = None if costs is None else self.constraint.feasible(costs).cpu().clone()

    def _remember(self, mean: torch.Tensor) -> None:
        # Shift one step; repeat the last action rather than reset it: in
        # continuous control the last planned action is a better guess than
        # the midpoint, and std restarts at init_std anyway.
        self._last_plan = mean.clone()
        warm = torch.empty_like(mean)
        warm[:-1] = mean[1:]
        warm[-1] = mean[-1]
        self._warm_mean = warm
