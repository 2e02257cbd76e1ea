"""The interface between the planners and whatever latent model they search over.

The planners reach a model only through the two methods of :class:`LatentModel`, so the
same planner code runs on a learned world model (the agent's ``LatentWorldModel`` and
``RoboticsWorldModel``) or on known, hand-written dynamics (the tests' point mass). Three
optional callables complete it, passed to the planner separately because a model may come
without them (early training, ablations): :data:`TerminalValueFn`, :data:`PolicyPriorFn`
and the constraint's ``planners.constraint.SafetyFn``.

The contract, for every call the planners make (checked for both of the agent's models by
``tests/model/test_planner_contract.py``):

- **Shapes.** ``N`` rows, latent size ``Z``, action size ``A``. ``initial_latent`` maps
  ``(B, *obs_shape)`` to ``(B, Z)`` (the planners encode one observation: ``B = 1``);
  ``next_latent_and_reward`` maps ``(N, Z), (N, A)`` to ``(N, Z), (N,)``.
- **Batched, row by row.** Any ``N >= 1`` (the population, the policy-prior rollouts and a
  single plan differ in size), with no Python loop over rows, and row ``i`` of an output
  depends on row ``i`` of the inputs only (no batch statistics).
- **Dtypes and device.** Observations arrive as the env gives them (float32 states, uint8
  frames or fused rows) on the planner's device; actions are float32 within the planner's
  bounds. Outputs stay on that device: latents floating point, rewards float32. Under the
  planner's bf16 autocast (``dtype_autocast``) latents may be bfloat16; rewards stay float32
  (the planners add them into float32 returns).
- **No gradients.** Every call runs under ``torch.no_grad()``, possibly inside
  ``torch.autocast``: nothing may need autograd.
- **Pure and deterministic.** The same inputs give the same outputs, and a call changes
  nothing in the model: the planners score the policy-prior and candidate plans once per
  call and reuse those returns, and may call a ``torch.compile``d copy of
  ``next_latent_and_reward``. (The optional callables may be stochastic: the agent's policy
  prior samples, and its terminal value takes two random Q-heads.)
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import torch

# Passed to the planner beside the model (``terminal_value=``, ``policy_prior=``); same
# rules as the model's methods: batched row by row, on the planner's device, under no_grad.
TerminalValueFn = Callable[[torch.Tensor], torch.Tensor]
"""``(N, Z) -> (N,)``: value of the latent reached after the last planned step, added to the
return with the discount reached there."""

PolicyPriorFn = Callable[[torch.Tensor], torch.Tensor]
"""``(N, Z) -> (N, A)``: actions of a (possibly stochastic) policy; the planner casts them to
float32 and clips them to its bounds before they are stepped or kept."""


@runtime_checkable
class LatentModel(Protocol):
    """A model the planners can imagine rollouts with (the contract is in the module docstring).

    ``isinstance(model, LatentModel)`` checks only that both methods exist; the planners
    refuse a model without them.
    """

    def initial_latent(self, obs: torch.Tensor) -> torch.Tensor:
        """Encode an observation batch ``(B, *obs_shape)`` into latents ``(B, Z)``."""
        ...

    def next_latent_and_reward(
        self, z: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Step latents ``(N, Z)`` with float32 actions ``(N, A)``; return the next latents
        ``(N, Z)`` and the float32 rewards ``(N,)`` of those steps."""
        ...
