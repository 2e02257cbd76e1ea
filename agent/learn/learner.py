"""One gradient update of the world model, the terminal value and the policy prior.

Losses over a rollout of ``horizon`` steps, each step weighted by rho**t:
  consistency   ||dyn(z_t, a_t) - sg(target_enc(o_{t+1}))||^2   (V-JEPA / TD-MPC2 latent prediction)
  reward        two-hot cross-entropy of the reward head
  value         two-hot cross-entropy of each Q-head against r + gamma * min Q_target(z', pi(z')),
                z' = target_enc(o_{t+1}): the frames of an update are encoded once each
  reconstruction ||decoder(z_t) - o_t||^2 on encoded and predicted latents, over the first
                 ``recon_batch`` sub-sequences (drawn independently, so an unbiased estimate of the
                 whole batch's loss at a fraction of the decoder's cost from pixels)
and then the policy prior maximises Q(z, pi(z)) on the (detached) latents.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from agent.config import LearnConfig, ModelConfig
from agent.model.ops import RunningScale, adam
from agent.learn.profiling import OFF, PhaseTimer
from agent.model.policy_prior import PolicyPrior
from agent.model.value import QEnsemble
from planners.precision import use_bf16
from agent.model.world_model import LatentWorldModel

Batch = dict[str, torch.Tensor]


class Learner:
    """Owns the optimizers; ``update(batch)`` returns the losses as floats for logging."""

    def __init__(self, world_model: LatentWorldModel, critic: QEnsemble | None, policy: PolicyPrior | None,
                 learn: LearnConfig, model: ModelConfig, recon_batch: int | None = None) -> None:
        """``recon_batch``: sub-sequences reconstructed per update (None = all; RunConfig.reconstruction_batch)."""
        self.wm, self.critic, self.policy = world_model, critic, policy
        self.cfg, self.model_cfg = learn, model
        self.recon_batch = recon_batch
        model_params = [p for name, p in world_model.named_parameters()
                        if not name.startswith(("encoder.", "target_encoder."))]
        groups = [
            {"params": list(world_model.encoder.parameters()), "lr": learn.lr * learn.encoder_lr_scale},
            {"params": model_params},
        ]
        if critic is not None:
            groups.append({"params": list(critic.heads.parameters())})
        self.model_optim = adam(groups, lr=learn.lr)
        self.policy_optim = adam(policy.parameters(), lr=learn.lr, eps=1e-5) if policy else None
        # None = bf16 autocast where the device does bf16 natively (planners/precision.py)
        self.bf16 = use_bf16(learn.update_bf16, next(world_model.parameters()).device)
        self.q_scale = RunningScale()
        self.num_updates = 0
        self.timer: PhaseTimer = OFF  # benchmarks/step_profile.py times the phases of an update
        # Non-finite losses: skip the step; after MAX_BAD_IN_A_ROW in a row, go back to the last
        # good weights with half the learning rate (a run of NaNs means the weights are already bad).
        self.nonfinite_skipped = 0
        self.restores = 0
        self._bad_in_a_row = 0
        self._last_good = self._snapshot()

    MAX_BAD_IN_A_ROW = 3
    SNAPSHOT_EVERY = 250

    def _modules(self) -> dict[str, torch.nn.Module]:
        parts = {"wm": self.wm, "critic": self.critic, "policy": self.policy}
        return {k: v for k, v in parts.items() if v is not None}

    def _snapshot(self) -> dict:
        return copy.deepcopy({"modules": {k: m.state_dict() for k, m in self._modules().items()},
                              "model_optim": self.model_optim.state_dict(),
                              "policy_optim": self.policy_optim.state_dict() if self.policy_optim else None})

    def _skip_nonfinite(self) -> dict[str, float]:
        """Count a non-finite update; restore the last good weights after several in a row."""
        self.model_optim.zero_grad(set_to_none=True)
        self.nonfinite_skipped += 1
        self._bad_in_a_row += 1
        restored = 0.0
        if self._bad_in_a_row >= self.MAX_BAD_IN_A_ROW:
            for name, module in self._modules().items():
                module.load_state_dict(self._last_good["modules"][name])
            self.model_optim.load_state_dict(self._last_good["model_optim"])
            if self.policy_optim is not None:
                self.policy_optim.load_state_dict(self._last_good["policy_optim"])
            for optim in filter(None, (self.model_optim, self.policy_optim)):
                for group in optim.param_groups:
                    group["lr"] *= 0.5
            self._bad_in_a_row = 0
            self.restores += 1
            restored = 1.0
        return {"nonfinite_skipped": float(self.nonfinite_skipped), "restored_last_good": restored}

    def _weights(self, steps: int, device: torch.device) -> torch.Tensor:
        return self.cfg.rho ** torch.arange(steps, device=device, dtype=torch.float32)

    @torch.no_grad()
    def _td_target(self, next_z: torch.Tensor, reward: torch.Tensor, terminated: torch.Tensor) -> torch.Tensor:
        """r + gamma * (1 - terminated) * min_q Q_target(z', pi(z')) for every step, (L, B).

        ``next_z`` (L*B, Z): the next observations' latents from the consistency target's encoder,
        so each sampled frame is encoded once per update (SAC-AE and DrQ give their target critic
        the target encoder's features the same way).
        """
        assert self.critic is not None and self.policy is not None
        steps, batch = reward.shape
        next_q = self.critic.q(next_z, self.policy.sample(next_z), target=True, reduce="min")
        return reward + self.cfg.discount * (1 - terminated.float()) * next_q.view(steps, batch)

    def update(self, batch: Batch) -> dict[str, float]:
        """One optimisation step on a batch of sub-sequences (time-major)."""
        device_type = batch["action"].device.type
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.bf16), self._critic_learning():
            return self._update(batch)

    @contextlib.contextmanager
    def _critic_learning(self) -> Iterator[None]:
        """Q-head dropout on while learning, off for planning (TD-MPC2 does the same)."""
        if self.critic is None:
            yield
            return
        self.critic.train()
        try:
            yield
        finally:
            self.critic.eval()

    def _update(self, batch: Batch) -> dict[str, float]:
        obs, action, reward, terminated = batch["obs"], batch["action"], batch["reward"], batch["terminated"]
        steps, size = action.shape[:2]
        w = self._weights(steps, action.device)
        use_value = self.critic is not None and self.policy is not None

        with torch.no_grad(), self.timer("update.target_latents"):
            next_z = self.wm.encode_target(obs[1:].flatten(0, 1))
            target_z = next_z.view(steps, size, -1)
            td_target = self._td_target(next_z, reward, terminated) if use_value else None

        with self.timer("update.forward"):
            total, consistency, reward_loss, recon_loss, value_loss, zs = self._losses(
                obs, action, reward, td_target, target_z, w)
        if not torch.isfinite(total):
            return self._skip_nonfinite()
        with self.timer("update.backward"):
            self.model_optim.zero_grad(set_to_none=True)
            total.backward()
        with self.timer("update.optimizer"):
            grad_norm = torch.nn.utils.clip_grad_norm_(
                [p for g in self.model_optim.param_groups for p in g["params"]], self.cfg.grad_clip, foreach=True)
            if not torch.isfinite(grad_norm):
                return self._skip_nonfinite()
            self.model_optim.step()
        self._bad_in_a_row = 0

        losses = {"consistency": consistency.item() / steps, "reward": reward_loss.item() / steps,
                  "reconstruction": recon_loss.item() / steps, "total": total.item(),
                  "grad_norm": float(grad_norm)}
        if use_value:
            losses["value"] = value_loss.item() / steps
            with self.timer("update.policy"):
                losses["policy"] = self.update_policy(zs.detach(), w)
        with self.timer("update.ema"):
            if use_value:
                self.critic.update_target(self.cfg.tau)
            self.wm.update_target_encoder(self.cfg.tau)
        self.num_updates += 1
        if self.num_updates % self.SNAPSHOT_EVERY == 0:
            self._last_good = self._snapshot()
        return losses

    def _losses(self, obs: torch.Tensor, action: torch.Tensor, reward: torch.Tensor, td_target: torch.Tensor | None,
                target_z: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The weighted model losses (total, consistency, reward, reconstruction, value) and the latents."""
        steps, size = action.shape[:2]
        # Roll the dynamics from the first encoded latent only: later latents are predictions.
        z = self.wm.encode(obs[0])
        latents = [z]
        consistency = z.new_zeros(())
        for t in range(steps):
            z = self.wm.next(z, action[t])
            consistency = consistency + w[t] * F.mse_loss(z, target_z[t])
            latents.append(z)
        zs = torch.stack(latents)  # (L+1, B, Z)

        za_z, za_a = zs[:-1].flatten(0, 1), action.flatten(0, 1)
        reward_ce = self.wm.two_hot.loss(self.wm.reward_logits(za_z, za_a), reward.flatten()).view(steps, size)
        reward_loss = (w * reward_ce.mean(1)).sum()

        rows = size if self.recon_batch is None else min(self.recon_batch, size)
        decoded = self.wm.decode(zs[:, :rows].flatten(0, 1))
        recon_target = self.wm.reconstruction_target(obs[:, :rows].flatten(0, 1))
        recon_err = (decoded - recon_target).pow(2).flatten(1).mean(1).view(steps + 1, rows).mean(1)
        recon_loss = (torch.cat([w.new_ones(1), w]) * recon_err).sum()

        value_loss = zs.new_zeros(())
        if td_target is not None:
            assert self.critic is not None
            q_logits = self.critic.logits(za_z, za_a)  # (Q, L*B, bins)
            ce = self.critic.two_hot.loss(q_logits, td_target.flatten())  # (Q, L*B), targets broadcast
            value_loss = (w * ce.mean(0).view(steps, size).mean(1)).sum()

        total = (self.cfg.consistency_coef * consistency + self.cfg.reward_coef * reward_loss
                 + self.cfg.value_coef * value_loss + self.cfg.reconstruction_coef * recon_loss) / steps
        return total, consistency, reward_loss, recon_loss, value_loss, zs

    def update_policy(self, zs: torch.Tensor, w: torch.Tensor | None = None) -> float:
        """One step of the policy prior on the latents of a rollout, ``(T + 1, B, Z)``, weighted per step
        by ``w`` (``rho ** t`` by default); the critic is read, never trained here. Returns the loss."""
        if w is None:
            w = self._weights(zs.shape[0] - 1, zs.device)
        assert self.critic is not None and self.policy is not None and self.policy_optim is not None
        steps_plus_one, size = zs.shape[:2]
        z = zs.flatten(0, 1)
        action, log_prob = self.policy(z)
        # Gradients flow through Q into the action only: the critic's own weight gradients would be
        # thrown away (the model step zeroes them), and skipping them measured ~7% off an update.
        self.critic.heads.requires_grad_(False)
        try:
            q = self.critic.q(z, action, reduce="mean").view(steps_plus_one, size)
        finally:
            self.critic.heads.requires_grad_(True)
        self.q_scale.update(q[0])
        entropy_term = self.cfg.entropy_coef * log_prob.view(steps_plus_one, size) * self.policy.action_dim
        per_step = (entropy_term - q / self.q_scale.value).mean(1)
        loss = (torch.cat([w.new_ones(1), w]) * per_step).sum() / steps_plus_one
        if not torch.isfinite(loss):
            return float("nan")  # leave the policy as it is; the model step already went through
        self.policy_optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.cfg.grad_clip, foreach=True)
        self.policy_optim.step()
        return loss.item()

    def state_dict(self) -> dict:
        return {"model_optim": self.model_optim.state_dict(),
                "policy_optim": self.policy_optim.state_dict() if self.policy_optim else None,
                "q_scale": self.q_scale.state_dict(), "num_updates": self.num_updates,
                "nonfinite_skipped": self.nonfinite_skipped, "restores": self.restores}

    def load_state_dict(self, state: dict) -> None:
        _load_keeping_fused(self.model_optim, state["model_optim"])
        if self.policy_optim is not None and state["policy_optim"] is not None:
            _load_keeping_fused(self.policy_optim, state["policy_optim"])
        self.q_scale.load_state_dict(state["q_scale"])
        self.num_updates = state["num_updates"]
        self.nonfinite_skipped = state.get("nonfinite_skipped", 0)
        self.restores = state.get("restores", 0)
        self._last_good = self._snapshot()


def _load_keeping_fused(optim: torch.optim.Optimizer, state: dict) -> None:
    """Load an optimizer's state, keeping its own kernel choice: a checkpoint written before Adam
    was fused (its groups say fused=None) would otherwise switch a resumed run to the slow loop."""
    fused = [group.get("fused") for group in optim.param_groups]
    optim.load_state_dict(state)
    for group, flag in zip(optim.param_groups, fused):
        group["fused"] = flag
