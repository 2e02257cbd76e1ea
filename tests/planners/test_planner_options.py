"""A planner option is defined in planners/config.py (name, type, default, what it accepts) and in the
agent's PlanConfig (CLI flag, config.json key, help, the agent's default), which names it in
``metadata["planner"]``; the agent carries it over by that name and validates it with the planner's own
range (``planners.config.accepts_of``). These tests fail when the agent and the planner refuse different
values or say it in other words, when a linked field is not carried, or when a planner option is left out
unawares."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from agent.cli import build_parser
from agent.config import ConfigError, PlanConfig, RunConfig
from agent.world_model_agent import WorldModelAgent, _planner_config
from planners import CEMConfig, MPPIConfig, make_planner
from planners.config import CONFIGS, planner_config
from tests.planners.point_mass import PointMass, start

CPU = torch.device("cpu")
LINKED = {f.name: f.metadata["planner"] for f in dataclasses.fields(PlanConfig) if "planner" in f.metadata}
# Planner options the agent sets from elsewhere, and those it leaves at the planner's default on purpose.
FROM_OTHER_SECTIONS = {"discount"}
PLANNER_DEFAULTS = {"init_std", "min_std", "momentum"}
PLANNER_FIELDS = {f.name: f for cls in CONFIGS.values() for f in dataclasses.fields(cls)}


def test_the_cli_flags_and_config_keys_of_planner_options_stay_as_saved_runs_have_them():
    assert LINKED == {"plan_horizon": "horizon", "num_samples": "num_samples", "num_elites": "num_elites",
                      "iterations": "iterations", "num_policy_samples": "num_policy_samples",
                      "temperature": "temperature", "bf16": "dtype_autocast", "compile": "compile",
                      "prior_trust": "prior_trust", "pick_elite": "pick_elite"}
    args = build_parser().parse_args(["train", "--plan-horizon", "7", "--num-samples", "64", "--num-elites", "8",
                                      "--iterations", "2", "--num-policy-samples", "3", "--temperature", "1.5",
                                      "--bf16", "--compile", "--prior-trust", "0.5", "--pick-elite"])
    assert (args.plan_horizon, args.num_samples, args.num_elites, args.iterations, args.num_policy_samples,
            args.temperature, args.bf16, args.compile, args.prior_trust,
            args.pick_elite) == (7, 64, 8, 2, 3, 1.5, True, True, 0.5, True)
    assert set(LINKED) <= set(RunConfig().to_dict()["plan"])


def test_every_linked_field_names_a_planner_option_of_its_type():
    for name, option in LINKED.items():
        assert option in PLANNER_FIELDS, (name, option)
        ours = str(next(f.type for f in dataclasses.fields(PlanConfig) if f.name == name))
        # --bf16 may be left out (None = where bf16 is native); the agent resolves it for the device.
        assert ours == (f"{PLANNER_FIELDS[option].type} | None" if name == "bf16" else PLANNER_FIELDS[option].type)


def test_every_planner_option_is_set_by_the_agent_or_left_at_the_planner_default_on_purpose():
    assert set(PLANNER_FIELDS) == set(LINKED.values()) | FROM_OTHER_SECTIONS | PLANNER_DEFAULTS
    built = _planner_config(RunConfig(), CPU)
    for name in PLANNER_DEFAULTS:
        assert getattr(built, name) == PLANNER_FIELDS[name].default


@pytest.mark.parametrize("planner, cls", [("mppi", MPPIConfig), ("cem", CEMConfig)])
def test_the_agent_carries_every_linked_field_to_the_planner(planner, cls):
    cfg = RunConfig()
    cfg.plan.planner = planner
    values = dict(plan_horizon=7, num_samples=40, num_elites=9, iterations=5, num_policy_samples=3,
                  temperature=0.7, bf16=False, compile=True, prior_trust=0.25, pick_elite=True)
    assert set(values) == set(LINKED)
    for name, value in values.items():
        assert getattr(cfg.plan, name) != value, name  # a new value, so a field left out shows
        setattr(cfg.plan, name, value)
    cfg.learn.discount = 0.9
    built = _planner_config(cfg.validate(), CPU)
    assert type(built) is cls
    for name, value in values.items():
        if hasattr(built, LINKED[name]):
            assert getattr(built, LINKED[name]) == value, name
    assert built.discount == 0.9
    assert hasattr(built, "temperature") == (planner == "mppi")


def test_bf16_not_given_is_resolved_for_the_device():
    from planners.precision import bf16_is_native

    cfg = RunConfig()
    assert cfg.plan.bf16 is None
    assert _planner_config(cfg, CPU).dtype_autocast is bf16_is_native(CPU)


def _probes(option: str) -> list[float]:
    """Values at, just inside and just outside the planner's bounds of ``option``, and non-finite ones."""
    accepts = PLANNER_FIELDS[option].metadata["accepts"]
    if accepts.kind is int:
        return [int(accepts.low) - 1, int(accepts.low), int(accepts.low) + 1]
    edges = [accepts.low] + ([accepts.high] if math.isfinite(accepts.high) else [])
    nudged = [e + d for e in edges for d in (-1e-6, 0.0, 1e-6)]
    return [*nudged, 1e6, -1e6, math.nan, math.inf, -math.inf]


NUMERIC = [(name, option) for name, option in LINKED.items() if PLANNER_FIELDS[option].type in ("int", "float")]


@pytest.mark.parametrize("section, name, option", [("plan", n, o) for n, o in NUMERIC] +
                         [("learn", "discount", "discount"), ("plan", "num_elites", "num_elites@num_samples")])
def test_the_agent_refuses_exactly_what_the_planner_refuses_in_the_same_words(section, name, option):
    if option == "num_elites@num_samples":  # the bound between two options
        probes, option = [RunConfig().plan.num_samples + d for d in (-1, 0, 1)], "num_elites"
    else:
        probes = _probes(option)
    assert probes
    for value in probes:
        cfg = RunConfig()  # planner mppi: it has every option the agent sets
        setattr(getattr(cfg, section), name, value)
        try:
            cfg.validate()
            agent_refusal = None
        except ConfigError as exc:
            agent_refusal = str(exc)
        try:
            planner_config("mppi", {**dataclasses.asdict(_planner_config(RunConfig(), CPU)), option: value})
            planner_refusal = None
        except ValueError as exc:
            planner_refusal = str(exc)
        assert (agent_refusal is None) == (planner_refusal is None), (name, value, agent_refusal, planner_refusal)
        if agent_refusal is not None:  # the same option (by the agent's name), value and accepted range
            refused, accepted = planner_refusal.split(".", 1)[1].split("; accepted: ")
            refused_option, refused_value = refused.removesuffix(" is invalid").split("=", 1)
            ours = {o: n for n, o in LINKED.items()}.get(refused_option, refused_option)
            assert agent_refusal == f"invalid {ours}={refused_value}: expected {accepted}"


def test_the_planner_names_the_option_it_refuses():
    with pytest.raises(ValueError, match=r"^MPPIConfig\.horizon=0 is invalid; accepted: an integer >= 1$"):
        planner_config("mppi", {"horizon": 0})
    with pytest.raises(TypeError, match="planner option 'horizn' is unknown"):
        planner_config("mppi", {"horizn": 3})  # a misspelt metadata["planner"] fails, it does not vanish
    with pytest.raises(ValueError, match="planner name 'ilqr' is invalid"):
        planner_config("ilqr", {})


def test_the_agents_planner_runs_with_the_config_built_from_the_run():
    cfg = RunConfig()
    cfg.model.latent_dim, cfg.model.hidden_dim = 16, 32
    cfg.plan.planner, cfg.plan.num_samples, cfg.plan.num_elites, cfg.plan.iterations = "cem", 16, 4, 2
    agent = WorldModelAgent((5,), 2, cfg.validate(), CPU)
    assert agent.planner.config == _planner_config(cfg, CPU)
    assert type(agent.planner).__name__ == "CEMPlanner"


def test_num_policy_samples_is_unused_without_a_policy_prior():
    """Why the agent carries --num-policy-samples as given even with --no-policy-prior: without a prior
    the planner rolls out only its Gaussian samples."""
    model = PointMass([0.5, 0.5])
    config = MPPIConfig(horizon=2, num_samples=10, num_elites=3, iterations=2, num_policy_samples=24,
                        dtype_autocast=False)
    make_planner("mppi", model, 2, config, policy_prior=None).plan(start(2))
    assert [a.shape[0] for a in model.seen_actions] == [10] * (2 * 2)
