"""Interface between the planners and whatever latent model they search over.

The planners only ever call the two methods of :class:`LatentModel`, so the
same planner code runs on a learned world model (the agent) or on known,
hand-written dynamics (the tests).
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import torch

# Optional helpers, passed to the planner separately from the model because
# an agent may have a model without them (early training, ablations).
TerminalValueFn = Callable[[torch.Tensor], torch.Tensor]
"""``(N, Z) -> (N,)``: value of the latent reached after the last planned step."""

PolicyPriorFn = Callable[[torch.Tensor], torch.Tensor]
"""``(N, Z) -> (N, A)``: actions of a (possibly stochastic) policy."""


@runtime_checkable
class LatentModel(Protocol):
    """A model the planners can imagine rollouts with.

    Both methods are called under ``torch.no_grad()`` and must be batched:
    the planners never loop over samples in Python.
    """

    def initial_latent(self, obs: torch.Tensor) -> torch.Tensor:
        """Encode an observation batch ``(1, *obs_shape)`` into a latent ``(1, Z)``."""
        ...

    def next_latent_and_reward(
        self, z: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Step ``(N, Z)`` latents with ``(N, A)`` actions; return ``(N, Z)`` and rewards ``(N,)``."""
        ...
