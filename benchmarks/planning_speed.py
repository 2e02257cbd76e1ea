"""Time per action of our CEM/MPPI vs torchrl's CEMPlanner on the same latent model.

Both sides call the very same model's ``initial_latent`` / ``next_latent_and_reward``
with the same sample budget; calls are interleaved (order rotated every
repetition) and the median time per action is reported. Settings (``--settings``):

- ``agent``: the operating point the agent actually uses: its own
  ``agent.world_model.LatentWorldModel`` at reacher-easy's sizes (obs 6, action 2,
  ``ModelConfig()`` defaults: latent 128, hidden 256, SimNorm, two-hot reward head;
  random weights, eval mode) with the budget of ``agent.config.PlanConfig()``
  (H=3 N=256 K=32 it=4). No policy prior and no terminal value on our side, so
  both planners compute the same thing.
- ``synthetic-h5`` / ``synthetic-h16``: a synthetic ``MLPLatentModel`` (dynamics
  MLP 2x512 + reward MLP 1x512, latent 64, action 6), N=512 K=64 it=6 at H=5 / H=16.

Usage::

    python benchmarks/planning_speed.py                 # full run, writes results/
    python benchmarks/planning_speed.py --threads 2 --reps 3 --no-write   # quick look
    python benchmarks/planning_speed.py --settings agent --threads 1 --no-write

torchrl is optional: without it only our timings are printed.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.config import ModelConfig, PlanConfig  # noqa: E402
from agent.model.world_model import LatentWorldModel  # noqa: E402
from planners import CEMConfig, CEMPlanner, MPPIConfig, MPPIPlanner, SamplingConfig  # noqa: E402

OBS_DIM, LATENT_DIM, ACTION_DIM, HIDDEN = 24, 64, 6, 512
# reacher-easy (dm_control, state observations): 6-d observation, 2-d action.
AGENT_OBS_DIM, AGENT_ACTION_DIM = 6, 2
RESULTS_DIR = Path(__file__).resolve().parent / "results"
# Our planners' default precision (the agent does not override it).
OURS_DEFAULT_PRECISION = "bf16" if SamplingConfig().dtype_autocast else "fp32"
TORCHRL_DEFAULT_PRECISION = "fp32"  # torchrl's CEMPlanner applies no autocast of its own


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


def build_model(s: Setting) -> MLPLatentModel | AgentLatentModel:
    """The model of one setting: random weights (seeded), eval mode."""
    torch.manual_seed(0)
    model = AgentLatentModel() if s.model == "agent" else MLPLatentModel()
    return model.eval()


# --------------------------------------------------------------- torchrl side


def _autocast(bf16: bool) -> torch.autocast:
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
        with torch.no_grad(), _autocast(bf16):  # our planner runs under no_grad too
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


# ------------------------------------------------------------------ measuring


def time_interleaved(
    fns: dict[str, Callable[[torch.Tensor], torch.Tensor]], reps: int, model: MLPLatentModel | AgentLatentModel
) -> dict[str, dict[str, float]]:
    """Median seconds per action and model rows per action of each planner."""
    names = list(fns)
    times: dict[str, list[float]] = {n: [] for n in names}
    rows: dict[str, int] = {}
    for name in names:  # warm-up: allocator, oneDNN kernels, torchrl spec caches
        fns[name](torch.randn(1, model.obs_dim))
    for rep in range(reps):
        order = names[rep % len(names):] + names[: rep % len(names)]
        for name in order:
            obs = torch.randn(1, model.obs_dim)
            model.rows_evaluated = 0
            t0 = time.perf_counter()
            fns[name](obs)
            times[name].append(time.perf_counter() - t0)
            rows[name] = model.rows_evaluated
    return {
        n: {"median_s": statistics.median(times[n]), "min_s": min(times[n]), "rows": rows[n], "reps": reps}
        for n in names
    }


def bf16_accuracy(model: MLPLatentModel | AgentLatentModel, s: Setting) -> dict[str, float]:
    """How much bf16 autocast perturbs returns and the elite set of one population."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        z0 = model.initial_latent(torch.randn(1, model.obs_dim, generator=gen))
    actions = (2.0 * torch.randn(s.horizon, s.num_samples, model.action_dim, generator=gen)).clamp(-1, 1)

    def returns(bf16: bool) -> torch.Tensor:
        with torch.no_grad(), _autocast(bf16):
            z = z0.expand(s.num_samples, -1)
            g = torch.zeros(s.num_samples)
            for t in range(s.horizon):
                z, r = model.next_latent_and_reward(z, actions[t])
                g += 0.99**t * r.float()
        return g

    g32, g16 = returns(False), returns(True)
    top32 = set(g32.topk(s.num_elites).indices.tolist())
    top16 = set(g16.topk(s.num_elites).indices.tolist())
    return {
        "max_abs_return_error": float((g32 - g16).abs().max()),
        "return_std_across_samples": float(g32.std()),
        "elite_overlap": len(top32 & top16) / s.num_elites,
    }


class FreeModel(MLPLatentModel):
    """Same interface, (almost) no compute: isolates what the planners themselves cost."""

    def next_latent_and_reward(self, z: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.rows_evaluated += z.shape[0]
        return z, z[:, 0] + action[:, 0]


def planner_overhead(s: Setting, threads: int) -> dict[str, float | str | None]:
    """Median ms per action of ours vs torchrl CEM on the near-free model (fp32), same dims as the setting."""
    if s.model == "agent":
        model = FreeModel(AGENT_OBS_DIM, ModelConfig().latent_dim, AGENT_ACTION_DIM).eval()
    else:
        model = FreeModel().eval()
    fns = {"ours_cem_fp32": build_ours(model, s, "cem", False)}
    trl = build_torchrl_planner(model, s, False)
    if trl is not None:
        fns["torchrl_cem_fp32"] = trl
    timing = time_interleaved(fns, 15, model)
    return {
        "threads": threads,
        "setting": s.name,
        "horizon": s.horizon,
        "ours_cem_ms": timing["ours_cem_fp32"]["median_s"] * 1e3,
        "torchrl_cem_ms": timing["torchrl_cem_fp32"]["median_s"] * 1e3 if trl else None,
    }


def run(threads_list: list[int], settings: list[Setting], compiled: bool = False) -> dict[str, object]:
    """Measure every (threads, setting) pair; returns a JSON-able dict."""
    models = {s.name: build_model(s) for s in settings}
    results, overhead = [], []
    for threads in threads_list:
        torch.set_num_threads(threads)
        for s in settings:
            model = models[s.name]
            overhead.append(planner_overhead(s, threads))
            load_before = _loadavg()
            timing = time_interleaved(build_all(model, s, compiled and s.model == "agent"), s.reps, model)
            results.append(
                {
                    "threads": threads,
                    "setting": asdict(s),
                    "timing": timing,
                    "loadavg_1min_before_after": f"{load_before} / {_loadavg()}",
                }
            )
            for line in format_rows(threads, s, timing):
                print(line, flush=True)
    accuracy = {s.name: {"label": s.label, **bf16_accuracy(models[s.name], s)} for s in settings}
    return {"results": results, "overhead": overhead, "bf16_accuracy": accuracy}


TABLE_HEADER = (
    "| threads | setting (model, budget) | planner | precision | median ms/action | min ms "
    "| torchrl CEM (same precision) / this, medians | same, mins |\n"
    "|---|---|---|---|---|---|---|---|"
)


def format_rows(threads: int, s: Setting, timing: dict[str, dict[str, float]]) -> list[str]:
    """Markdown table rows of one (threads, setting) measurement."""
    budget = f"**{s.label}**" if s.model == "agent" else s.label
    lines = []
    for name, t in timing.items():
        impl, algo, precision = name.split("_")
        ref = timing.get(f"torchrl_cem_{precision}")
        if ref:
            ratios = f"{ref['median_s'] / t['median_s']:.2f}x | {ref['min_s'] / t['min_s']:.2f}x"
        else:
            ratios = "n/a (torchrl missing) | n/a"
        lines.append(
            f"| {threads} | {budget} | {impl} {algo.upper()} | {precision} "
            f"| {t['median_s'] * 1e3:.1f} | {t['min_s'] * 1e3:.1f} | {ratios} |"
        )
    return lines


def versions() -> dict[str, str]:
    """Library and machine versions that affect the numbers."""
    out = {"python": platform.python_version(), "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    try:
        import tensordict
        import torchrl

        out["torchrl"] = torchrl.__version__
        out["tensordict"] = tensordict.__version__
    except ImportError:
        out["torchrl"] = "missing"
    return out


def _ratio(timing: dict[str, dict[str, float]], ours: str, ref: str, stat: str) -> float | None:
    if ours not in timing or ref not in timing:
        return None
    return timing[ref][stat] / timing[ours][stat]


def _target_met(timing: dict[str, dict[str, float]], ours: str) -> bool | None:
    """The project's 2x target at one setting: like for like (fp32), median and min ratios both >= 2."""
    med = _ratio(timing, ours, "torchrl_cem_fp32", "median_s")
    mins = _ratio(timing, ours, "torchrl_cem_fp32", "min_s")
    if med is None or mins is None:
        return None
    return min(med, mins) >= 2.0


def summary(results: list[dict[str, object]]) -> list[str]:
    """torchrl / ours ratios of every (threads, setting), and whether the 2x target is met at each."""

    def pair(timing: dict[str, dict[str, float]], ours: str, ref: str) -> str:
        med, mins = _ratio(timing, ours, ref, "median_s"), _ratio(timing, ours, ref, "min_s")
        if med is None or mins is None:
            return "n/a (torchrl missing)"
        return f"{med:.2f}x on medians, {mins:.2f}x on mins"

    def verdict(flag: bool | None) -> str:
        return {True: "met", False: "NOT met", None: "n/a (torchrl missing)"}[flag]

    ours_def, trl_def = OURS_DEFAULT_PRECISION, TORCHRL_DEFAULT_PRECISION
    lines = []
    met_at, missed_at = [], []
    for r in results:
        s, t, threads = Setting(**r["setting"]), r["timing"], r["threads"]
        cem_met, mppi_met = _target_met(t, "ours_cem_fp32"), _target_met(t, "ours_mppi_fp32")
        where = f"{s.label} ({threads} thread{'s' if threads > 1 else ''})"
        (met_at if cem_met else missed_at).append(where)
        mppi_note = " (the agent's default planner)" if s.model == "agent" else ""
        lines += [
            f"- {threads} thread(s), **{s.label}**:",
            f"  - like for like, fp32: torchrl CEM / ours CEM = {pair(t, 'ours_cem_fp32', 'torchrl_cem_fp32')}; "
            f"/ ours MPPI{mppi_note} = {pair(t, 'ours_mppi_fp32', 'torchrl_cem_fp32')}",
            f"  - like for like, bf16: torchrl CEM / ours CEM = {pair(t, 'ours_cem_bf16', 'torchrl_cem_bf16')}",
            f"  - defaults (ours {ours_def} vs torchrl {trl_def}): torchrl CEM / ours CEM = "
            f"{pair(t, f'ours_cem_{ours_def}', f'torchrl_cem_{trl_def}')}; / ours MPPI = "
            f"{pair(t, f'ours_mppi_{ours_def}', f'torchrl_cem_{trl_def}')}",
            f"  - 2x target (like for like fp32, median and min ratio both >= 2): ours CEM {verdict(cem_met)}; "
            f"ours MPPI {verdict(mppi_met)}",
        ]
        if "ours_mppi_bf16+compile" in t:
            lines += [
                f"  - compiled model step on both sides, fp32: torchrl CEM / ours CEM = "
                f"{pair(t, 'ours_cem_fp32+compile', 'torchrl_cem_fp32+compile')}; bf16: "
                f"{pair(t, 'ours_cem_bf16+compile', 'torchrl_cem_bf16+compile')}",
                f"  - ours at its fastest (bf16, compiled) vs torchrl as shipped (fp32, eager): torchrl CEM / "
                f"ours CEM = {pair(t, 'ours_cem_bf16+compile', 'torchrl_cem_fp32')}; / ours MPPI = "
                f"{pair(t, 'ours_mppi_bf16+compile', 'torchrl_cem_fp32')}",
            ]
    if met_at or missed_at:
        overall = "met" if not missed_at else "NOT met"
        lines.append(
            f"- Project target (ours >= 2x faster than torchrl, like for like fp32, ours CEM): {overall} overall; "
            f"met at {len(met_at)} of {len(met_at) + len(missed_at)} measured settings"
            + (f"; NOT met at: {'; '.join(missed_at)}" if missed_at else "")
            + "."
        )
    lines += thread_notes(results)
    return lines


def thread_notes(results: list[dict[str, object]]) -> list[str]:
    """Flag settings where more threads made our CEM slower (cores shared with other work)."""
    by_key = {(r["threads"], r["setting"]["name"]): r for r in results}
    notes = []
    for (threads, name), r in sorted(by_key.items()):
        one = by_key.get((1, name))
        if threads == 1 or one is None:
            continue
        t_more = r["timing"]["ours_cem_fp32"]["median_s"]
        t_one = one["timing"]["ours_cem_fp32"]["median_s"]
        if t_more > t_one:
            notes.append(
                f"- {Setting(**r['setting']).label}: {threads} threads were {t_more / t_one:.1f}x *slower* than "
                f"1 thread (load avg {r['loadavg_1min_before_after']}): the cores were shared, OpenMP workers "
                f"waited on each other; those rows measure contention more than the planners."
            )
    return notes


def write_results(data: dict[str, object], command: str) -> None:
    """Write results/planning_speed.{md,json}."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    data = {"command": command, "versions": versions(), **data}
    (RESULTS_DIR / "planning_speed.json").write_text(json.dumps(data, indent=2) + "\n")
    settings = {r["setting"]["name"]: Setting(**r["setting"]) for r in data["results"]}
    rows = [
        line
        for r in data["results"]
        for line in format_rows(r["threads"], Setting(**r["setting"]), r["timing"])
    ]
    acc_lines = [
        f"- {v['label']}: elite-set overlap with fp32 {v['elite_overlap']:.0%}, max |return error| "
        f"{v['max_abs_return_error']:.4f} vs return std across samples {v['return_std_across_samples']:.4f}"
        for v in data["bf16_accuracy"].values()
    ]
    rows_by_setting: dict[str, set[int]] = {}
    for r in data["results"]:
        rows_by_setting.setdefault(r["setting"]["name"], set()).update(t["rows"] for t in r["timing"].values())
    rows_note = "; ".join(f"{settings[n].label}: {sorted(v)}" for n, v in rows_by_setting.items())
    plan = PlanConfig()
    note = [f"**Note:** {data['note']}", ""] if data.get("note") else []
    md = "\n".join(
        [
            "# Planning speed: ours vs torchrl CEMPlanner",
            "",
            f"Command: `{command}`",
            "",
            *note,
            f"Versions: `{json.dumps(data['versions'])}`; torch threads set with `torch.set_num_threads` "
            f"(column *threads*); load average at start/end: {data['loadavg']}.",
            "",
            "Median wall time per action (one `plan` call), all planners of a row group interleaved "
            "(order rotated every repetition, one warm-up call each). Ratio > 1 means ours is faster. "
            "Settings: **agent default** is the operating point the agent actually runs (its own world model "
            "and its default plan budget); the *synthetic* rows are a heavier 2x512 MLP model at larger budgets.",
            "",
            TABLE_HEADER,
            *rows,
            "",
            "## Summary",
            "",
            *summary(data["results"]),
            "- A load average above the thread count means the cores were shared with other processes "
            "during the run: absolute times are inflated and noisy; ratios come from interleaved calls.",
            "",
            "## What each side computes",
            "",
            "- **agent default** model: the agent's own `agent.world_model.LatentWorldModel(obs_shape=(6,), "
            "action_dim=2, cfg=agent.config.ModelConfig())`, i.e. reacher-easy's sizes with the default "
            "latent 64, hidden 256, SimNorm (groups of 8) latents and a 101-bin two-hot reward head: encoder "
            "MLP 6->256->64 + SimNorm; dynamics MLP on cat(z, a) 66->256->256->64 + SimNorm; reward MLP on "
            "cat(z, a) 66->256->256->101 decoded as a two-hot expectation (LayerNorm+SiLU hidden layers). Random "
            "weights, eval mode, fp32 parameters; wrapped only to count rows. Budget from "
            f"`agent.config.PlanConfig()`: H={plan.plan_horizon} N={plan.num_samples} K={plan.num_elites} "
            f"it={plan.iterations}. The agent also rolls out {plan.num_policy_samples} policy-prior samples and "
            "adds a terminal value when those are learned; both are left out here (torchrl's CEMPlanner has "
            "neither), so both sides compute the same thing. The agent's default planner is MPPI.",
            "- *synthetic* model (one shared object): linear encoder obs(24)->latent(64); dynamics MLP on "
            "cat(z, a) 70->512->512->64 with LayerNorm+Mish; reward MLP on cat(z, a) 70->512->1. Random "
            "weights, fp32 parameters.",
            "- **ours CEM / MPPI**: `planners.CEMPlanner` / `MPPIPlanner` with the budget shown, no policy prior, "
            "no terminal value, no candidates: iterations x horizon batched model steps of N rows, plus the "
            "encoder call. Warm start kept across calls (no extra work).",
            "- **torchrl CEM**: `torchrl.modules.planners.CEMPlanner` over a `ModelBasedEnvBase` whose world "
            "model is a `TensorDictModule` calling the same `next_latent_and_reward` (outputs cast to fp32 to "
            "match the env specs); action spec `Bounded(-1, 1)`. Called under `torch.no_grad()` like ours, "
            "encoder call included.",
            f"- Model rows stepped per action, counted inside the model (identical for every planner): {rows_note}.",
            "- Differences that do not change the model work: torchrl restarts each call from mean 0 / std 1, "
            "sums rewards undiscounted and refits with the unbiased std; ours warm-starts from the shifted plan, "
            "starts at std 2, clamps std to [0.05, 2] and discounts rewards by 0.99 per step; MPPI weights the "
            "elites by softmax(return / 0.5).",
            "- **bf16** rows: the whole call under `torch.autocast('cpu', torch.bfloat16)` (ours: "
            f"`dtype_autocast=True`; our default is `SamplingConfig().dtype_autocast={OURS_DEFAULT_PRECISION == 'bf16'}`, "
            f"i.e. {OURS_DEFAULT_PRECISION}, which the agent does not override; torchrl: the same context around "
            f"its call; its own default is {TORCHRL_DEFAULT_PRECISION}). The fp32 rows are the like-for-like "
            "comparison of the planners themselves; the *defaults* lines compare each side's default precision.",
            "",
            "## bf16 autocast accuracy (the same N sequences of each setting evaluated in fp32 and bf16)",
            "",
            *acc_lines,
            "",
            "## Planner overhead alone (near-free model: z' = z, r = z[0] + a[0]), fp32",
            "",
            "What each planner costs outside the model, i.e. the most a planner can save at a fixed budget "
            "(same latent/action sizes and budget as the setting).",
            "",
            "| threads | setting | ours CEM ms | torchrl CEM ms |",
            "|---|---|---|---|",
            *[
                f"| {o['threads']} | {settings[o['setting']].label} | {o['ours_cem_ms']:.1f} | "
                + ("n/a" if o["torchrl_cem_ms"] is None else f"{o['torchrl_cem_ms']:.1f}")
                + " |"
                for o in data["overhead"]
            ],
            "",
        ]
    )
    (RESULTS_DIR / "planning_speed.md").write_text(md)


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=SETTING_NAMES,
        default=list(SETTING_NAMES),
        help="which model/budget settings to time (default: all); 'agent' = the agent's LatentWorldModel "
        "at reacher-easy sizes with PlanConfig() defaults",
    )
    parser.add_argument(
        "--reps",
        type=int,
        default=11,
        help="repetitions at synthetic H=5 (synthetic H=16 uses max(3, reps//2), agent max(15, 3*reps))",
    )
    parser.add_argument("--compile", action="store_true",
                        help="also time every planner with the model step under torch.compile (agent setting only; "
                             "compiling takes minutes on 2 cores)")
    parser.add_argument("--note", default="", help="free-text remark stored at the top of the results")
    parser.add_argument("--no-write", action="store_true", help="print only, keep results/ untouched")
    args = parser.parse_args()
    settings = make_settings(list(dict.fromkeys(args.settings)), args.reps)
    print(TABLE_HEADER, flush=True)
    load_start = _loadavg()
    data = run(args.threads, settings, args.compile)
    data["loadavg"] = f"{load_start} / {_loadavg()}"
    if args.note:
        data["note"] = args.note
    print(json.dumps({"overhead": data["overhead"], "bf16_accuracy": data["bf16_accuracy"]}, indent=2))
    for line in summary(data["results"]):
        print(line)
    if versions()["torchrl"] == "missing":
        print("torchrl is not importable: only our planners were timed.")
    if not args.no_write:
        write_results(data, "python " + shlex.join(sys.argv))


if __name__ == "__main__":
    main()
