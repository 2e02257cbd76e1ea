"""benchmarks/plan_variants.py: variants parsed as PlanConfig changes, paired episodes, resumable json."""

import json

import pytest

from benchmarks import plan_variants


def test_a_variant_is_a_name_and_typed_plan_config_changes():
    assert plan_variants.parse_variant("default") == ("default", {})
    assert plan_variants.parse_variant("pop:num_samples=512, iterations=6,planner=cem") == (
        "pop", {"num_samples": 512, "iterations": 6, "planner": "cem"})
    assert plan_variants.parse_variant("m:prior_margin=1e9")[1]["prior_margin"] == 1e9
    with pytest.raises(SystemExit, match="'num_samples' is not field=value"):
        plan_variants.parse_variant("x:num_samples")


def test_checkpoint_files_of_different_runs_get_different_columns():
    assert plan_variants.label("/r/seed1/checkpoints/ckpt_000050000.pt") == "seed1/ckpt_000050000.pt"
    assert plan_variants.label("/r/seed2/checkpoints/ckpt_000050000.pt") == "seed2/ckpt_000050000.pt"
    assert plan_variants.label("/r/seed2") == "seed2"


def test_variants_are_evaluated_on_the_same_episodes_and_a_rerun_skips_what_is_done(robot_run, tmp_path,
                                                                                   monkeypatch, capsys):
    monkeypatch.setattr(plan_variants, "RESULTS_DIR", tmp_path)
    args = [str(robot_run), "--episodes", "2", "--tag", "t", "--variant", "default",
            "--variant", "again:num_samples=32", "--variant", "prior:prior_margin=1e9", "--fail-below=-1e9"]
    assert plan_variants.main(args) == 0
    data = json.loads((tmp_path / "plan_variants_t.json").read_text())
    cells = {name: data["results"][f"{robot_run}|{name}"] for name in ("default", "again", "prior")}
    assert all(len(c["returns"]) == 2 and c["env_steps"] == 100 for c in cells.values())
    # the robot run plans with 32 samples already: the same episodes and seeds give the same returns
    assert cells["again"]["returns"] == cells["default"]["returns"]
    assert cells["prior"]["prior_kept_fraction"] == 1.0 and "prior_kept_fraction" not in cells["default"]
    table = (tmp_path / "plan_variants_t.md").read_text()
    assert "| prior | prior_margin=1000000000.0 |" in table and "0 of 2" in table
    capsys.readouterr()
    assert plan_variants.main(args) == 0  # everything is in the json: nothing runs again
    assert "mean" not in capsys.readouterr().out.split("# Planner variants")[0]


def test_cells_run_in_parallel_processes_give_the_same_paired_episodes(robot_run, tmp_path, monkeypatch):
    monkeypatch.setattr(plan_variants, "RESULTS_DIR", tmp_path)
    variants = ["--variant", "default", "--variant", "prior:prior_margin=1e9"]
    assert plan_variants.main([str(robot_run), "--episodes", "2", "--tag", "one", *variants]) == 0
    assert plan_variants.main([str(robot_run), "--episodes", "2", "--tag", "two", "--jobs", "2", *variants]) == 0
    one, two = (json.loads((tmp_path / f"plan_variants_{t}.json").read_text())["results"] for t in ("one", "two"))
    assert one.keys() == two.keys()
    for key in one:
        assert two[key]["returns"] == one[key]["returns"]
    with pytest.raises(SystemExit, match="--jobs 0: expected at least 1"):
        plan_variants.main([str(robot_run), "--tag", "x", "--jobs", "0"])
