"""What the planning-speed benchmark times: its settings (model and sample budget),
the latent models it plans in, and both sides' planners built over the same model.

Used by ``benchmarks/planning_speed.py``; see its docstring for what each setting is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from agent.config import ModelConfig, PlanConfig
from agent.model.world_model import LatentWorldModel
from planners import CEMConfig, CEMPlanner, MPPIConfig, MPPIPlanner

OBS_DIM, LATENT_DIM, ACTION_DIM, HIDDEN = 24, 64, 6, 512
# reacher-easy (dm_control, state observations): 6-d observation, 2-d action.
AGENT_OBS_DIM, AGENT_ACTION_DIM = 6, 2


@dataclass(frozen=True)
class Setting:
    """One model and sample budget, applied identically to every planner."""

    horizon: int
    num_samples: int
    num_elites: int
    iterations: int
    reps: int
    name: str = "synthetic"  # what --settings selects; also the key in the JSON
    model: str = "synthetic"  # "synthetic" (MLPLatentModel) or "agent" (LatentWorldModel)

    @property
    def budget(self) -> str:
        return f"H={self.horizon} N={self.num_samples} K={self.num_elites} it={self.iterations}"

    @property
    def label(self) -> str:
        if self.model == "agent":
            return f"agent default: LatentWorldModel reacher sizes, {self.budget}"
        return f"synthetic 2x512 Mish MLP, {self.budget}"


SETTING_NAMES = ("agent", "synthetic-h5", "synthetic-h16")


def make_settings(names: list[str], reps: int) -> list[Setting]:
    """The selected settings; ``reps`` is the repetition count at synthetic H=5."""
    plan = PlanConfig()
    available = {
        # The agent's step is ~10-20x cheaper, so it gets more repetitions for the same noise.
        "agent": Setting(
            horizon=plan.plan_horizon,
            num_samples=plan.num_samples,
            num_elites=plan.num_elites,
            iterations=plan.iterations,
            reps=max(15, 3 * reps),
            name="agent",
            model="agent",
        ),
        "synthetic-h5": Setting(horizon=5, num_samples=512, num_elites=64, iterations=6, reps=reps, name="synthetic-h5"),
        "synthetic-h16": Setting(
            horizon=16, num_samples=512, num_elites=64, iterations=6, reps=max(3, reps // 2), name="synthetic-h16"
        ),
    }
    return [available[n] for n in names]


def _mlp(inp: int, out: int, hidden_layers: int) -> nn.Sequential:
    # LayerNorm + Mish as in TD-MPC2, so the per-step cost resembles the agent's.
    layers: list[nn.Module] = []
    width = inp
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, HIDDEN), nn.LayerNorm(HIDDEN), nn.Mish()]
        width = HIDDEN
    layers.append(nn.Linear(width, out))
    return nn.Sequential(*layers)


class MLPLatentModel(nn.Module):
    """Linear encoder, 2x512 dynamics MLP and 1x512 reward MLP on ``(z, a)``."""

    def __init__(self, obs_dim: int = OBS_DIM, latent_dim: int = LATENT_DIM, action_dim: int = ACTION_DIM) -> None:
        super().__init__()
        self.obs_dim, self.latent_dim, self.action_dim = obs_dim, latent_dim, action_dim
        self.encoder = nn.Linear(obs_dim, latent_dim)
        self.dynamics = _mlp(latent_dim + action_dim, latent_dim, 2)
        self.reward = _mlp(latent_dim + action_dim, 1, 1)
        self.rows_evaluated = 0  # model rows stepped, to check equal budgets

    def initial_latent(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encoder(obs)

    def next_latent_and_reward(
        self, z: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.rows_evaluated += z.shape[0]
        za = torch.cat([z, action.to(z.dtype)], dim=-1)
        return self.dynamics(za), self.reward(za).squeeze(-1)


class AgentLatentModel(nn.Module):
    """The agent's ``LatentWorldModel`` (reacher-easy sizes, ``ModelConfig()``), counting rows.

    Both planners call the wrapped model's own ``initial_latent`` /
    ``next_latent_and_reward``; the wrapper only counts the rows stepped.
    """

    def __init__(self) -> None:
        super().__init__()
        cfg = ModelConfig()
        self.obs_dim, self.latent_dim, self.action_dim = AGENT_OBS_DIM, cfg.latent_dim, AGENT_ACTION_DIM
        self.world_model = LatentWorldModel(obs_shape=(AGENT_OBS_DIM,), action_dim=AGENT_ACTION_DIM, cfg=cfg)
        self.rows_evaluated = 0

    def initial_latent(self, obs: torch.Tensor) -> torch.Tensor:
        return self.world_model.initial_latent(obs)

    def next_latent_and_reward(
        self, z: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.rows_evaluated += z.shape[0]
        return self.world_model.next_latent_and_reward(z, action)


class FreeModel(MLPLatentModel):
    """Same interface, (almost) no compute: isolates what the planners themselves cost."""

    def next_latent_and_reward(self, z: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.rows_evaluated += z.shape[0]
        return z, z[:, 0] + action[:, 0]


def build_model(s: Setting) -> MLPLatentModel | AgentLatentModel:
    """The model of one setting: random weights (seeded), eval mode."""
    torch.manual_seed(0)
    model = AgentLatentModel() if s.model == "agent" else MLPLatentModel()
    return model.eval()


# --------------------------------------------------------------- torchrl side


def cpu_autocast(bf16: bool) -> torch.autocast:
    """CPU bf16 autocast, enabled only with ``bf16``: around torchrl's calls (ours autocasts itself)
    and in the bf16 accuracy check."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


def build_torchrl_planner(
    model: MLPLatentModel | AgentLatentModel, s: Setting, bf16: bool, compiled: bool = False
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """torchrl CEMPlanner over a ModelBasedEnvBase whose step is our model's step.

    With ``compiled`` the step it calls is the model's step under ``torch.compile`` (the same
    compiled function our planner uses with ``compile=True``), for a like-for-like row.
    Returns ``None`` when torchrl is not importable.
    """
    try:
        from tensordict import TensorDict
        from tensordict.nn import TensorDictModule
        from torchrl.data import Bounded, Composite, Unbounded
        from torchrl.envs.model_based import ModelBasedEnvBase
        from torchrl.modules.planners import CEMPlanner as TorchRLCEM
    except ImportError:
        return None

    latent_dim, action_dim = model.latent_dim, model.action_dim
    step = torch.compile(model.next_latent_and_reward, dynamic=False) if compiled else model.next_latent_and_reward

    class Step(nn.Module):
        """Adapter: the same next_latent_and_reward; fp32 outputs to match the env specs."""

        def forward(self, latent: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            z, r = step(latent, action)
            return z.float(), r.float().unsqueeze(-1)

    class LatentEnv(ModelBasedEnvBase):
        def __init__(self) -> None:
            world = TensorDictModule(Step(), in_keys=["latent", "action"], out_keys=["latent", "reward"])
            super().__init__(world, device="cpu")
            self.observation_spec = Composite(latent=Unbounded((latent_dim,)))
            self.state_spec = Composite(latent=Unbounded((latent_dim,)))
            self.action_spec = Bounded(-1.0, 1.0, (action_dim,))
            self.reward_spec = Unbounded((1,))

        def _reset(self, tensordict: TensorDict | None = None, **kwargs: object) -> TensorDict:
            return TensorDict({"latent": torch.zeros(latent_dim)}, batch_size=[])

    planner = TorchRLCEM(LatentEnv(), s.horizon, s.iterations, s.num_samples, s.num_elites)

    def act(obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), cpu_autocast(bf16):  # our planner runs under no_grad too
            z0 = model.initial_latent(obs)[0].float()
            return planner(TensorDict({"latent": z0}, batch_size=[]))["action"]

    return act


# ------------------------------------------------------------------- our side


def build_ours(
    model: MLPLatentModel | AgentLatentModel, s: Setting, kind: str, bf16: bool, compiled: bool = False
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Our planner with the same budget; no prior/value so the work matches torchrl's."""
    common = dict(
        horizon=s.horizon,
        num_samples=s.num_samples,
        num_elites=s.num_elites,
        iterations=s.iterations,
        dtype_autocast=bf16,
        compile=compiled,
    )
    if kind == "cem":
        planner = CEMPlanner(model, model.action_dim, CEMConfig(**common))
    else:
        planner = MPPIPlanner(model, model.action_dim, MPPIConfig(**common))
    return planner.plan


def build_all(model: MLPLatentModel | AgentLatentModel, s: Setting,
              compiled: bool = False) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """Every planner of one budget, keyed ``<impl>_<algo>_<precision>``; with ``compiled`` also
    ``<precision>+compile`` rows, where every planner calls the model step under torch.compile."""
    fns: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
    variants = [("fp32", False, False), ("bf16", True, False)]
    if compiled:
        variants += [("fp32+compile", False, True), ("bf16+compile", True, True)]
    for precision, bf16, comp in variants:
        fns[f"ours_cem_{precision}"] = build_ours(model, s, "cem", bf16, comp)
        fns[f"ours_mppi_{precision}"] = build_ours(model, s, "mppi", bf16, comp)
        trl = build_torchrl_planner(model, s, bf16, comp)
        if trl is not None:
            fns[f"torchrl_cem_{precision}"] = trl
    return fns
