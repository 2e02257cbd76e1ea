import json

import pytest
import torch

from agent.run.checkpoint import CheckpointError, list_checkpoints, load_checkpoint, save_checkpoint
from agent.config import ConfigError, RunConfig


def test_checkpoints_are_pruned_to_the_last_k_and_round_trip(tmp_path):
    for steps in (100, 200, 300):
        save_checkpoint(tmp_path, steps, {"weights": torch.full((3,), float(steps))}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt_000000200.pt", "ckpt_000000300.pt"]
    state = load_checkpoint(list_checkpoints(tmp_path)[-1])
    assert torch.equal(state["weights"], torch.full((3,), 300.0))
    assert not list(tmp_path.glob("*.tmp"))


def test_truncated_checkpoint_is_a_one_line_error(tmp_path):
    path = save_checkpoint(tmp_path, 1, {"weights": torch.zeros(1000)}, keep=1)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_checkpoint_of_another_format_is_refused(tmp_path):
    path = tmp_path / "ckpt_000000001.pt"
    torch.save({"format_version": 999}, path)
    with pytest.raises(CheckpointError, match="format 999"):
        load_checkpoint(path)


def test_config_round_trips_through_json(tmp_path):
    cfg = RunConfig()
    cfg.env.name, cfg.plan.planner, cfg.model.use_value, cfg.learn.utd = "cheetah-run", "cem", False, 0.5
    cfg.save(tmp_path / "config.json")
    assert RunConfig.load(tmp_path / "config.json") == cfg


def test_configs_saved_before_an_option_existed_keep_the_behaviour_they_were_trained_with():
    saved = RunConfig().to_dict()
    del saved["model"]["q_dropout"], saved["learn"]["update_bf16"]  # what config.json of an older run holds
    del saved["learn"]["recon_batch"]
    saved["env"]["obs"] = "pixels"
    restored = RunConfig.from_saved(saved)
    assert restored.model.q_dropout == 0.0 and restored.learn.update_bf16 is False
    assert restored.reconstruction_batch == restored.learn.batch_size  # reconstructed every frame
    assert RunConfig().model.q_dropout > 0  # new runs use dropout


@pytest.mark.parametrize("obs, given, batch_size, expected", [
    ("state", None, 256, 256), ("pixels", None, 256, 64), ("pixels", None, 32, 32),
    ("pixels", 0, 256, 256), ("state", 16, 256, 16), ("pixels", 128, 256, 128),
])
def test_reconstruction_batch_defaults_by_observation_and_follows_the_option(obs, given, batch_size, expected):
    cfg = RunConfig()
    cfg.env.obs, cfg.learn.recon_batch, cfg.learn.batch_size = obs, given, batch_size
    assert cfg.validate().reconstruction_batch == expected


@pytest.mark.parametrize("data, message", [
    ({"stepz": 5}, "unknown config key 'stepz'"),
    ({"plan": {"horizon": 3}}, "unknown config key plan.'horizon'"),
])
def test_unknown_config_keys_are_refused(data, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("'", "'")):
        RunConfig.from_dict(json.loads(json.dumps(data)))


@pytest.mark.parametrize("section, name, value", [
    ("plan", "plan_horizon", 0), ("plan", "num_elites", 1000), ("learn", "discount", 1.5),
    ("env", "action_repeat", -1), ("env", "image_size", 48), ("model", "simnorm_dim", 7), (None, "steps", 0),
    ("model", "q_dropout", 1.0), ("learn", "recon_batch", 257), ("learn", "recon_batch", -1),
])
def test_out_of_range_values_name_the_field_and_what_is_accepted(section, name, value):
    cfg = RunConfig()
    setattr(getattr(cfg, section) if section else cfg, name, value)
    with pytest.raises(ConfigError) as err:
        cfg.validate()
    assert f"invalid {name}={value!r}: expected" in str(err.value)
