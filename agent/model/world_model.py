"""The latent world model: encoder -> action-conditioned latent dynamics -> reward and decoder.

Planning uses only ``initial_latent`` and ``next_latent_and_reward``; the decoder is
trained (reconstruction keeps latents grounded in the observation) and used for
videos, never by the planner.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from agent.config import ModelConfig
from agent.model.ops import TwoHot, ema_, simnorm
from agent.model.networks import PixelDecoder, PixelEncoder, mlp


class LatentWorldModel(nn.Module):
    """Encoder, dynamics, reward head and decoder over a SimNorm latent."""

    def __init__(self, obs_shape: tuple[int, ...], action_dim: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.obs_shape = tuple(obs_shape)
        self.pixels = len(obs_shape) == 3
        self.action_dim = action_dim
        self.cfg = cfg
        h, z = cfg.hidden_dim, cfg.latent_dim
        if self.pixels:
            self.encoder: nn.Module = PixelEncoder(obs_shape[0], z)
            self.decoder: nn.Module = PixelDecoder(obs_shape[0], z)
        else:
            self.encoder = mlp(obs_shape[0], [h], z)
            self.decoder = mlp(z, [h], obs_shape[0])
        self.dynamics = mlp(z + action_dim, [h, h], z)
        self.reward_head = mlp(z + action_dim, [h, h], cfg.num_bins)
        # Start at a predicted reward of 0 everywhere (TD-MPC2 does the same): random initial
        # reward logits would send the first plans after noise.
        nn.init.zeros_(self.reward_head[-1].weight)
        nn.init.zeros_(self.reward_head[-1].bias)
        self.two_hot = TwoHot(cfg.num_bins)
        # Proprioceptive dims differ by 100x in scale (reacher: to_target ~0.1, velocities ~10); without
        # normalisation the small ones, which decide the reward, barely reach the latent. Statistics are
        # fitted once on the seed episodes (set_obs_stats) and then frozen, so the input never drifts.
        self.register_buffer("obs_mean", torch.zeros(obs_shape[0] if not self.pixels else 1))
        self.register_buffer("obs_std", torch.ones(obs_shape[0] if not self.pixels else 1))
        # The consistency target: a slow (EMA) copy of the encoder, as V-JEPA's target
        # encoder; with target_encoder='stopgrad' the online encoder is used under no_grad.
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)

    @torch.no_grad()
    def set_obs_stats(self, observations: torch.Tensor) -> None:
        """Fit the per-dimension normalisation of state observations (no-op for pixels)."""
        if self.pixels:
            return
        obs = observations.float().reshape(-1, self.obs_shape[0])
        self.obs_mean.copy_(obs.mean(0))
        # A floor keeps near-constant dims (e.g. a fixed target coordinate) from exploding.
        self.obs_std.copy_(obs.std(0).clamp(min=1e-2))

    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        """The encoder's input scale: frames as uint8 (the conv net rescales), states standardised."""
        return obs if self.pixels else (obs - self.obs_mean) / self.obs_std

    # --- predictions -----------------------------------------------------------------
    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        """Observation batch (B, *obs_shape) -> latent (B, Z)."""
        return simnorm(self.encoder(self.normalize(obs)), self.cfg.simnorm_dim)

    @torch.no_grad()
    def encode_target(self, obs: torch.Tensor) -> torch.Tensor:
        """Consistency target latent for a batch of observations (no gradient)."""
        enc = self.target_encoder if self.cfg.target_encoder == "ema" else self.encoder
        return simnorm(enc(self.normalize(obs)), self.cfg.simnorm_dim)

    def next(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Latent (N, Z) and action (N, A) -> next latent (N, Z)."""
        return simnorm(self.dynamics(torch.cat([z, action], -1)), self.cfg.simnorm_dim)

    def reward_logits(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Two-hot logits (N, bins) of the reward for taking ``action`` in ``z``."""
        return self.reward_head(torch.cat([z, action], -1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent (N, Z) -> reconstruction in the decoder's scale (standardised state, or frames in [-0.5, 0.5])."""
        return self.decoder(z)

    def decode_observation(self, z: torch.Tensor) -> torch.Tensor:
        """Latent (N, Z) -> observation in env units (state vector, or frames in [-0.5, 0.5])."""
        out = self.decoder(z)
        return out if self.pixels else out * self.obs_std + self.obs_mean

    # --- the planner's interface ---------------------------------------------------------
    def initial_latent(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encode(obs)

    def next_latent_and_reward(self, z: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        za = torch.cat([z, action], -1)
        next_z = simnorm(self.dynamics(za), self.cfg.simnorm_dim)
        return next_z, self.two_hot.decode(self.reward_head(za))

    # --- training helpers --------------------------------------------------------------
    def reconstruction_target(self, obs: torch.Tensor) -> torch.Tensor:
        """What the decoder should output for ``obs``: frames in [-0.5, 0.5], standardised states
        (so that every state dimension weighs the same in the reconstruction loss)."""
        return obs.float() / 255.0 - 0.5 if self.pixels else self.normalize(obs)

    @torch.no_grad()
    def update_target_encoder(self, tau: float) -> None:
        ema_(list(self.target_encoder.parameters()), list(self.encoder.parameters()), tau)
