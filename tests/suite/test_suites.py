"""Suite definitions, summary statistics, the summary table and the plots, on made-up results."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from scipy.stats import trim_mean
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agent.cli import main
from agent.suite.reference import METHODS, REFERENCE_DIR, load_reference
from agent.suite.report import markdown, summarise, write_report
from agent.suite.results import RunResult
from agent.suite.stats import bootstrap_mean, iqm, stratified_bootstrap
from agent.suite.definitions import SUITES, UnknownSuiteError, get_suite, score_range, select_tasks
from envs import make_env, resolve_env_name


def test_every_suite_task_is_a_real_env_with_the_agents_contract():
    tasks = sorted({t for s in SUITES.values() for t in s.tasks})
    for name in ("dmc-easy", "dmc-hard", "gym-mujoco", "manipulation"):
        assert name in SUITES
    assert SUITES["dmc-easy"].tasks == ("reacher-easy", "cartpole-swingup", "finger-spin", "ball_in_cup-catch",
                                        "walker-walk", "cheetah-run")
    for task in tasks:  # each made once: the cost is a reset and a step
        assert resolve_env_name(task).name == task  # canonical names only, no aliases
        env = make_env(task)
        try:
            obs, _ = env.reset(seed=0)
            assert np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1), task
            obs, reward, *_ = env.step(env.action_space.sample())
            assert np.all(np.isfinite(obs)) and np.isfinite(reward), task
        finally:
            env.close()


def test_unknown_suite_or_task_is_one_line_naming_the_accepted_ones(capsys):
    with pytest.raises(UnknownSuiteError, match="expected one of dmc-easy, dmc-hard, gym-mujoco, manipulation"):
        get_suite("dmc-eazy")
    assert select_tasks(get_suite("dmc-easy"), ["cheetah-run", "reacher-easy"]) == ("reacher-easy", "cheetah-run")
    assert main(["eval", "--suite", "dmc-eazy"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'dmc-eazy'" in err and "gym-mujoco" in err
    assert main(["eval", "--suite", "dmc-easy", "--tasks", "walker-run"]) == 2
    assert "walker-run" in capsys.readouterr().err
    assert main(["eval", "--suite", "dmc-easy", "--", "--seed", "3"]) == 2
    assert "--seed" in capsys.readouterr().err
    assert main(["suites"]) == 0
    out = capsys.readouterr().out
    assert "dmc-easy" in out and "  manipulator-bring_ball" in out


def test_score_ranges_put_dm_control_on_0_1000_and_leave_unbounded_gym_tasks_out():
    assert score_range("walker-walk") == (0.0, 1000.0)
    assert score_range("InvertedPendulum-v5") == (0.0, 1000.0)
    assert score_range("Reacher-v5") is None


def test_iqm_is_the_mean_of_the_middle_half():
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)  # drops 1,2 and 7,8: mean(3,4,5,6)
    assert iqm([0, 0, 0, 100]) == pytest.approx(0.0)   # one outlier in four is cut
    x = np.random.default_rng(1).normal(size=(7, 5))
    assert iqm(x) == pytest.approx(trim_mean(x.ravel(), 0.25))  # what rliable computes


def test_bootstrap_mean_interval_brackets_the_mean_within_the_data():
    rng = np.random.default_rng(0)
    ci = bootstrap_mean([100.0, 200.0, 300.0, 400.0], rng)
    assert ci.value == pytest.approx(250.0)
    assert 100.0 <= ci.low < 250.0 < ci.high <= 400.0
    assert bootstrap_mean([100.0, 200.0, 300.0, 400.0], np.random.default_rng(0)) == ci  # fixed rng: same interval
    one = bootstrap_mean([7.0], rng)
    assert (one.value, one.low, one.high) == (7.0, 7.0, 7.0)


def test_stratified_bootstrap_resamples_within_each_task():
    rng = np.random.default_rng(0)
    # Every task keeps its seeds' count in every replicate: two constant tasks give a point interval.
    ci = stratified_bootstrap([np.zeros(2), np.ones(2)], np.mean, rng)
    assert (ci.value, ci.low, ci.high) == (0.5, 0.5, 0.5)
    tasks = [np.array([0.1, 0.2]), np.array([0.3, 0.4]), np.array([0.5, 0.6]), np.array([0.7, 0.8])]
    ci = stratified_bootstrap(tasks, iqm, rng)
    assert ci.value == pytest.approx(0.45)  # IQM of 0.1..0.8 pooled: mean(0.3, 0.4, 0.5, 0.6)
    assert 0.1 <= ci.low <= 0.45 <= ci.high <= 0.8 and ci.low < ci.high


def made_up(task: str, seed: int, finals: float, steps: int = 20_000) -> RunResult:
    curve = [(s, finals * s / steps, 5.0) for s in range(0, steps + 1, 10_000)]
    return RunResult(task=task, seed=seed, env_steps=steps, return_mean=finals, return_std=5.0, episodes=5,
                     wall_seconds=600.0 * seed, plan_ms_per_action=20.0 + seed, run_dir=f"/x/{task}-s{seed}",
                     curve=curve)


REFERENCE = {"reacher-easy": {"TD-MPC2": {0: [50.0, 70.0], 20_000: [800.0, 900.0], 100_000: [950.0, 970.0]}},
             "walker-walk": {"TD-MPC2": {0: [30.0, 40.0], 100_000: [900.0, 910.0]}}}


def test_summary_rows_and_suite_iqm_match_hand_computed_values():
    tasks = ("reacher-easy", "walker-walk")
    results = [made_up("reacher-easy", 1, 400.0), made_up("reacher-easy", 2, 600.0),
               made_up("walker-walk", 1, 200.0), made_up("walker-walk", 2, 1000.0)]
    summary = summarise("dmc-easy", tasks, results, REFERENCE)
    reacher, walker = summary.rows
    assert (reacher.task, reacher.env_steps, reacher.seeds) == ("reacher-easy", 20_000, [1, 2])
    assert reacher.ours.value == pytest.approx(500.0) and 400.0 <= reacher.ours.low <= reacher.ours.high <= 600.0
    assert reacher.wall_minutes == pytest.approx(15.0) and reacher.plan_ms_per_action == pytest.approx(21.5)
    assert reacher.published["TD-MPC2"].value == pytest.approx(850.0)  # published at the same env step
    assert walker.published == {}  # walker-walk: nothing published at 20k, and nothing interpolated
    # Normalised scores 0.4, 0.6, 0.2, 1.0 -> sorted 0.2 0.4 0.6 1.0 -> IQM = mean(0.4, 0.6)
    assert summary.iqm.value == pytest.approx(0.5)
    assert 0.2 <= summary.iqm.low <= 0.5 <= summary.iqm.high <= 1.0
    assert "TD-MPC2" not in summary.published_iqm  # not published on every task at that step


def test_summary_leaves_out_missing_tasks_and_says_so():
    summary = summarise("dmc-easy", SUITES["dmc-easy"].tasks, [made_up("finger-spin", 1, 500.0)], {})
    assert [r.task for r in summary.rows] == ["finger-spin"]
    assert "cheetah-run" in summary.missing and "1 of 6 tasks" in summary.iqm_note


def test_report_writes_table_plots_and_tensorboard_images(tmp_path):
    tasks = SUITES["dmc-easy"].tasks
    results = [made_up(t, s, 100.0 * (i + s)) for i, t in enumerate(tasks) for s in (1, 2)]
    summary, table = write_report(tmp_path, "dmc-easy", tasks, results, "wm-agent eval --suite dmc-easy",
                                  reference=load_reference())
    assert table.splitlines()[0].startswith("| task | seeds | env steps |")
    assert len(summary.rows) == 6 and summary.iqm is not None
    text = (tmp_path / "summary.md").read_text()
    assert "wm-agent eval --suite dmc-easy" in text and "![dmc-easy](plots/dmc-easy.png)" in text
    assert json.loads((tmp_path / "summary.json").read_text())["tasks"][0]["task"] == "reacher-easy"
    for task in tasks:
        with Image.open(tmp_path / "plots" / f"{task}.png") as im:
            assert im.size == (600, 400)
    with Image.open(tmp_path / "plots" / "dmc-easy.png") as im:
        assert im.size == (3 * 400, 2 * 300)  # 3 columns x 2 rows of 400 x 300 cells
    ea = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0})
    ea.Reload()
    assert "suite/dmc-easy" in ea.Tags()["images"] and "task/cheetah-run" in ea.Tags()["images"]
    image = ea.Images("suite/dmc-easy")[0]
    assert (image.width, image.height, image.step) == (1200, 600, 20_000)


def test_markdown_shows_only_methods_published_at_the_rows_step_and_names_the_others():
    reference = {"reacher-easy": {"TD-MPC2": {0: [50.0], 100_000: [950.0]},
                                  "TD-MPC": {10_000: [500.0], 20_000: [700.0]}},
                 "walker-walk": {"TD-MPC2": {0: [30.0], 100_000: [900.0]}}}
    results = [made_up("reacher-easy", 1, 400.0), made_up("walker-walk", 1, 200.0)]
    table = markdown(summarise("dmc-easy", ("reacher-easy", "walker-walk"), results, reference), reference)
    head, _, reacher, walker, *_ = table.splitlines()
    assert head.endswith("| plan ms/action | TD-MPC |")  # TD-MPC2 has nothing at 20k: no column of '-'
    assert reacher.endswith("| 700.0 [700.0, 700.0] |") and walker.endswith("| - |")
    assert "no value for that task at that env step" in table
    assert "Not shown, no published value at these env steps: TD-MPC2 (published every 100,000 steps)" in table



def test_our_intervals_do_not_move_when_reference_data_changes():
    tasks = SUITES["dmc-easy"].tasks
    results = [made_up(t, s, 100.0 * (i + s)) for i, t in enumerate(tasks) for s in (1, 2)]
    alone, beside = summarise("dmc-easy", tasks, results, {}), summarise("dmc-easy", tasks, results, load_reference())
    assert [r.ours for r in alone.rows] == [r.ours for r in beside.rows] and alone.iqm == beside.iqm
    assert beside.published_iqm and not alone.published_iqm

def test_a_method_published_as_a_mean_only_has_no_interval_and_no_iqm():
    reference = {"reacher-easy": {"BMPC": {20_000: [800.0]}, "TD-MPC": {20_000: [700.0, 720.0]}}}
    summary = summarise("dmc-easy", ("reacher-easy",), [made_up("reacher-easy", 1, 400.0)], reference)
    table = markdown(summary, reference)
    assert "| 800.0 (mean) |" in table and "BMPC: its published mean over seeds" in table
    assert "TD-MPC" in summary.published_iqm and "BMPC" not in summary.published_iqm

# What each source's step counts (agent/suite/published/README.md) decides where its points fall in ours:
# file -> (source named in its header, method -> spacing of its points in our unit).
SOURCES = {"dmc_tdmpc2_dreamerv3_sac.csv": ("nicklashansen/tdmpc2 commit",
                                            {"TD-MPC2": 50_000, "DreamerV3": 50_000, "SAC": 50_000}),
           "dmc_tdmpc.csv": ("nicklashansen/tdmpc commit", {"TD-MPC": 10_000}),
           "dmc_dreamerv3.csv": ("danijar/dreamerv3 commit", {"DreamerV3 (authors)": 5_000}),
           "dmc_mrq.csv": ("facebookresearch/MRQ commit", {"MR.Q": 5_000}),
           "dmc_simbav2_bro.csv": ("DAVIAN-Robotics/SimbaV2 commit", {"SimbaV2": 50_000, "BRO": 12_500}),
           "dmc_drq.csv": ("dmksjfl/DR.Q commit", {"DR.Q": 25_000}),
           "dmc_bmpc.csv": ("wertyuilife2/bmpc commit", {"BMPC": 50_000})}


def test_reference_files_name_their_source_and_cover_dmc_easy_in_our_step_unit(tmp_path):
    assert sorted(p.name for p in REFERENCE_DIR.glob("*.csv")) == sorted(SOURCES)
    for name, (source, methods) in SOURCES.items():
        header = (REFERENCE_DIR / name).read_text().splitlines()[:2]
        assert source in header[0] and "action repeat 2" in header[1], name
        (tmp_path / name).mkdir()
        shutil.copy(REFERENCE_DIR / name, tmp_path / name)
        reference = load_reference(tmp_path / name)  # this file alone
        for task in SUITES["dmc-easy"].tasks:
            for method, every in methods.items():
                steps = sorted(reference[task][method])
                assert max(steps) <= 1_000_000 and min(b - a for a, b in zip(steps, steps[1:])) == every, (name, task)
                assert all(s % every == 0 for s in steps), (name, task, method)
                assert (20_000 in steps) == (20_000 % every == 0), (name, task, method)
                assert all(0 <= r <= 1000 for rs in reference[task][method].values() for r in rs)
    assert set(m for task in load_reference().values() for m in task) == set(METHODS)


def test_reference_with_an_unknown_method_is_refused(tmp_path):
    (tmp_path / "x.csv").write_text("# source\n# unit\ntask,method,seed,env_steps,return\nreacher-easy,PPO,1,0,1.0\n")
    with pytest.raises(ValueError, match="'PPO' is not one of TD-MPC2"):
        load_reference(tmp_path)


def fake_run(run_dir, task: str, seed: int, evals: list[tuple[int, float]]) -> None:
    """A run directory as the trainer leaves it, as far as results read it."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"env": {"name": task}, "seed": seed}))
    (run_dir / "eval.csv").write_text("env_steps,return_mean,return_std,episodes,wall_seconds\n" + "".join(
        f"{s},{r},1.0,5,{s / 10}\n" for s, r in evals))
    (run_dir / "train.log").write_text("".join(f"2026-01-01 00:00:00 eval at {s} env steps: return {r} +- 1.0 over "
                                               f"5 episodes (12.5 ms/action)\n" for s, r in evals))


def test_existing_runs_are_summarised_without_training(tmp_path, capsys):
    runs = tmp_path / "runs"
    fake_run(runs / "a", "reacher-easy", 1, [(10_000, 100.0), (20_000, 300.0)])
    fake_run(runs / "b", "reacher-easy", 1, [(10_000, 90.0)])  # same task and seed, shorter: not counted
    fake_run(runs / "deeper" / "c", "reacher-easy", 2, [(10_000, 200.0), (20_000, 500.0)])
    fake_run(runs / "d", "walker-run", 1, [(20_000, 50.0)])  # not in dmc-easy
    assert main(["eval", "--runs", str(runs), "--suite", "dmc-easy", "--suite-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "| reacher-easy | 1,2 | 20000 | 400.0 [300.0, 500.0] |" in out and "walker-run" not in out
    result = json.loads((tmp_path / "out" / "results" / "reacher-easy-s1.json").read_text())
    assert (result["env_steps"], result["return_mean"], result["plan_ms_per_action"]) == (20_000, 300.0, 12.5)
    assert (tmp_path / "out" / "plots" / "reacher-easy.png").is_file()
    assert main(["eval", "--runs", str(tmp_path / "nowhere")]) == 2
    assert "not a directory" in capsys.readouterr().err


@pytest.mark.parametrize("cores, jobs", [(None, 1), (1, 1), (2, 2), (16, 16)])
def test_the_suite_trains_one_run_per_core_by_default(monkeypatch, cores, jobs):
    """Two one-thread runs on 2 cores sum about twice one run's pace (concurrent_runs_amx.md)."""
    from agent.suite import command

    monkeypatch.setattr(command.os, "cpu_count", lambda: cores)
    assert command.default_jobs() == jobs
