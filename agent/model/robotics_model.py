"""The robotics world model: what the camera sees and what the joints report, predicted together.

Input per step: the visual embedding of the camera frame (the same convolutional encoder
as the latent world model's pixel mode), the proprioceptive state, and the action. A
fusion network predicts the next visual embedding, the next state (as a change of the
standardised state: small steps are easier to learn than absolute values), the reward,
and, through its safety head, P(unsafe) of the action.

The planner's latent is ``[visual embedding | standardised state]``. Observations arrive
as fused rows (``envs.fused``), so the replay, the learner and the planner all pass one
tensor. The model offers the same methods as ``LatentWorldModel`` (encode, next,
reward_logits, decode, ...), so the same Learner trains it: its latent-consistency loss
covers both predicted halves against the target encoder's embedding and the real next
state, and the decoder reconstructs the frame from the visual half.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from agent.config import ModelConfig
from agent.model.ops import TwoHot, ema_, simnorm
from agent.model.networks import PixelDecoder, PixelEncoder, mlp
from agent.model.safety_head import SafetyHead
from envs.fused import split_fused


class RoboticsWorldModel(nn.Module):
    """Visual embedding + proprioception + action -> next of both, reward, P(unsafe)."""

    pixels = False  # observations are fused rows, not frames (for code that asks)

    def __init__(self, image_size: int, state_dim: int, action_dim: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.image_size, self.state_dim, self.action_dim, self.cfg = image_size, state_dim, action_dim, cfg
        v, h = cfg.latent_dim, cfg.hidden_dim
        self.visual_dim = v
        self.latent_dim = v + state_dim
        self.encoder = PixelEncoder(image_size, v)
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.visual_proj = nn.Linear(v, h)
        self.proprio_proj = nn.Linear(state_dim, h)
        self.fusion = mlp(2 * h + action_dim, [h], h)
        self.fusion_out = nn.Sequential(nn.LayerNorm(h), nn.SiLU())
        self.visual_head = nn.Linear(h, v)
        self.proprio_head = nn.Linear(h, state_dim)
        self.reward_head = mlp(h, [h], cfg.num_bins)
        # Predict a reward of 0 everywhere at first, as the latent model does (TD-MPC2's choice):
        # random initial rewards would send the first plans after noise.
        nn.init.zeros_(self.reward_head[-1].weight)
        nn.init.zeros_(self.reward_head[-1].bias)
        self.safety_head = SafetyHead(self.latent_dim, action_dim, h)
        self.decoder = PixelDecoder(image_size, v)
        self.two_hot = TwoHot(cfg.num_bins)
        self.register_buffer("obs_mean", torch.zeros(state_dim))
        self.register_buffer("obs_std", torch.ones(state_dim))

    # --- observations ---------------------------------------------------------------
    def split(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Fused rows (..., D) -> frames (..., S, S, 3) uint8 and states (..., P) float32."""
        return split_fused(obs, self.image_size, self.state_dim)

    @torch.no_grad()
    def set_obs_stats(self, observations: torch.Tensor) -> None:
        """Fit the standardisation of the state half once, on the seed episodes (then frozen)."""
        states = self.split(torch.as_tensor(observations))[1].float().reshape(-1, self.state_dim)
        self.obs_mean.copy_(states.mean(0))
        self.obs_std.copy_(states.std(0).clamp(min=1e-2))

    def _latent(self, embedding: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        visual = simnorm(embedding, self.cfg.simnorm_dim)
        standardised = (state.float() - self.obs_mean) / self.obs_std
        return torch.cat([visual, standardised.to(visual.dtype)], -1)

    # --- predictions ----------------------------------------------------------------
    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        """Fused rows (B, D) -> latent (B, V + P)."""
        frames, states = self.split(obs)
        return self._latent(self.encoder(frames), states)

    @torch.no_grad()
    def encode_target(self, obs: torch.Tensor) -> torch.Tensor:
        """Consistency target: the slow encoder's embedding of the frame and the real state."""
        frames, states = self.split(obs)
        enc = self.target_encoder if self.cfg.target_encoder == "ema" else self.encoder
        return self._latent(enc(frames), states)

    def _hidden(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        visual, proprio = z[..., : self.visual_dim], z[..., self.visual_dim:]
        fused = torch.cat([self.visual_proj(visual), self.proprio_proj(proprio), action], -1)
        return self.fusion_out(self.fusion(fused))

    def _next_from_hidden(self, z: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        visual = simnorm(self.visual_head(hidden), self.cfg.simnorm_dim)
        proprio = z[..., self.visual_dim:] + self.proprio_head(hidden)
        return torch.cat([visual, proprio.to(visual.dtype)], -1)

    def next(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Latent (N, Z) and action (N, A) -> next latent (N, Z)."""
        return self._next_from_hidden(z, self._hidden(z, action))

    def reward_logits(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Two-hot logits (N, bins) of the reward for taking ``action`` in ``z``."""
        return self.reward_head(self._hidden(z, action))

    def p_unsafe(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(N,) probability that taking ``action`` in ``z`` is unsafe (the planner's constraint)."""
        return self.safety_head.p_unsafe(z, action)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent (N, Z) -> frame (N, S, S, 3) in [-0.5, 0.5], from the visual half."""
        return self.decoder(z[..., : self.visual_dim])

    def decode_observation(self, z: torch.Tensor) -> torch.Tensor:
        """Latent (N, Z) -> proprioceptive state in env units (what the state traces show)."""
        return z[..., self.visual_dim:].float() * self.obs_std + self.obs_mean

    def decode_frames(self, z: torch.Tensor) -> torch.Tensor:
        """Latent (N, Z) -> frames in [-0.5, 0.5], from the visual half."""
        return self.decode(z)

    # --- the planner's interface -------------------------------------------------------
    def initial_latent(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encode(obs)

    def next_latent_and_reward(self, z: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self._hidden(z, action)
        return self._next_from_hidden(z, hidden), self.two_hot.decode(self.reward_head(hidden))

    # --- training helpers -----------------------------------------------------------
    def reconstruction_target(self, obs: torch.Tensor) -> torch.Tensor:
        """The decoder's target: the frame in [-0.5, 0.5]."""
        return self.split(obs)[0].float() / 255.0 - 0.5

    @torch.no_grad()
    def update_target_encoder(self, tau: float) -> None:
        ema_(list(self.target_encoder.parameters()), list(self.encoder.parameters()), tau)
