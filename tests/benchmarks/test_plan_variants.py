"""benchmarks/plan_variants.py: variants parsed as PlanConfig changes, paired episodes, resumable json."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import plan_variants

ROOT = Path(plan_variants.__file__).resolve().parent.parent


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
            "--variant", "again:num_samples=32", "--variant", "prior:prior_margin=1e9", "--fail-below=-1e9",
            "--variant", "explore:explore=True"]
    assert plan_variants.main(args) == 0
    data = json.loads((tmp_path / "plan_variants_t.json").read_text())
    cells = {name: data["results"][f"{robot_run}|{name}"] for name in ("default", "again", "prior")}
    assert all(len(c["returns"]) == 2 and c["env_steps"] == 100 for c in cells.values())
    # the robot run plans with 32 samples already: the same episodes and seeds give the same returns
    assert cells["again"]["returns"] == cells["default"]["returns"]
    assert cells["prior"]["prior_kept_fraction"] == 1.0 and "prior_kept_fraction" not in cells["default"]
    # acting as while training (drawn elites, the planner's noise) changes the episodes
    explored = data["results"][f"{robot_run}|explore"]
    assert len(explored["returns"]) == 2 and explored["returns"] != cells["default"]["returns"]
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


def _spawned_workers(parent: int) -> list[int]:
    """Pids of the multiprocessing workers whose parent is ``parent`` (read from /proc)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"spawn_main" in cmdline:
            pids.append(int(stat.parent.name))
    return pids


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_sigterm_to_a_parallel_run_ends_its_workers_too(robot_run, tmp_path):
    """A stopped --jobs run must not leave its workers computing cells whose results nobody will write."""
    code = ("import sys; from pathlib import Path; from benchmarks import plan_variants as pv; "
            "pv.RESULTS_DIR = Path(sys.argv[1]); sys.exit(pv.main(sys.argv[2:]))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(robot_run), "--episodes", "500",
                             "--tag", "stop", "--jobs", "2", "--variant", "a", "--variant", "b"], cwd=ROOT)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(workers := _spawned_workers(proc.pid)) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before its workers started"
            time.sleep(0.2)
        assert len(workers) == 2
        time.sleep(2)  # into their cells
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 15
        while not all(map(_gone, workers)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(map(_gone, workers)), f"workers {workers} outlived their stopped parent"
        assert not (tmp_path / "plan_variants_stop.json").exists()  # no cell finished: nothing written
    finally:
        proc.kill()
        for pid in (pid for pid in workers if not _gone(pid)):  # a failed run of this test cleans up after itself
            os.kill(pid, signal.SIGKILL)
