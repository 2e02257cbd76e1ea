"""benchmarks/reacher_targets.py: training episodes per window, split by how far the target is from the base."""

import json

import pytest

from benchmarks import reacher_targets as rt


def test_episodes_count_in_the_window_where_they_end_and_by_target_band():
    episodes = [(500, 0.07, 950.0), (5000, 0.18, 900.0), (5500, 0.16, 10.0), (6000, 0.10, 0.0),
                (10000, 0.149, 700.0)]
    rows = rt.window_table(episodes, window=5000, solved_from=600)
    assert rows == [{"window_end": 5000, "near": 1, "near_solved": 1, "far": 1, "far_solved": 1},
                    {"window_end": 10000, "near": 2, "near_solved": 1, "far": 1, "far_solved": 0}]
    lines = rt.markdown({"s1": rows}, 5000)
    assert lines[2:] == ["| 0-5000 | 1/1 | 1/1 |", "| 5000-10000 | 1/2 | 0/1 |"]


def test_a_real_run_has_every_episode_counted_with_a_reacher_target(reacher_run, tmp_path, monkeypatch):
    monkeypatch.setattr(rt, "RESULTS_DIR", tmp_path)
    assert rt.main([str(reacher_run), "--tag", "t", "--window", "100"]) == 0
    data = json.loads((tmp_path / "reacher_targets_t.json").read_text())
    rows = data["runs"][str(reacher_run)]
    files = list((reacher_run / "episodes").glob("episode_*.npz"))
    assert sum(r["near"] + r["far"] for r in rows) == len(files) > 0
    assert "Command: `python benchmarks/reacher_targets.py" in (tmp_path / "reacher_targets_t.md").read_text()


def test_a_folder_without_episodes_is_refused_in_one_line(tmp_path):
    with pytest.raises(SystemExit, match="no episodes/ folder"):
        rt.main([str(tmp_path), "--tag", "t"])


def test_an_earlier_results_file_is_shown_beside_without_joining_the_measured_runs(reacher_run, tmp_path,
                                                                                  monkeypatch):
    monkeypatch.setattr(rt, "RESULTS_DIR", tmp_path)
    baseline_rows = [{"window_end": 100, "near": 3, "near_solved": 2, "far": 1, "far_solved": 0}]
    baseline = tmp_path / "reacher_targets_base.json"
    baseline.write_text(json.dumps({"tag": "base", "window": 100, "runs": {"/gone/seed1": baseline_rows}}))
    assert rt.main([str(reacher_run), "--beside", str(baseline), "--tag", "t", "--window", "100"]) == 0
    data = json.loads((tmp_path / "reacher_targets_t.json").read_text())
    assert list(data["runs"]) == [str(reacher_run)] and data["beside"] == [str(baseline)]
    lines = (tmp_path / "reacher_targets_t.md").read_text().splitlines()
    header = next(line for line in lines if line.startswith("| env steps"))
    assert header.index("base: seed1: near") < header.index(f"{reacher_run.name}: near")
    assert next(line for line in lines if line.startswith("| 0-100 |")).startswith("| 0-100 | 2/3 | 0/1 |")


@pytest.mark.parametrize("content, expected", [("not json", "not a reacher_targets results file"),
                                               ('{"tag": "b", "window": 5000, "runs": {}}', "its window is 5000")])
def test_an_unusable_earlier_file_is_refused_in_one_line(tmp_path, content, expected):
    path = tmp_path / "earlier.json"
    path.write_text(content)
    with pytest.raises(SystemExit, match=expected):
        rt.main([str(tmp_path), "--beside", str(path), "--tag", "t", "--window", "100"])
