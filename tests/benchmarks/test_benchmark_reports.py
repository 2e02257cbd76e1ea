"""The safety benchmark's table and verdict, and the shared benchmark helpers, on made-up runs."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
from benchmarks.train_runs import needs_final_eval, threads_per_run, training_command


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


safety = load_script("safety")


def fake_safety_run(run_dir: Path, evals: list[tuple[int, float, float]]) -> Path:
    """eval.csv and eval_safety.csv as the trainer writes them: (env steps, return, violations per episode)."""
    run_dir.mkdir(parents=True)
    (run_dir / "eval.csv").write_text("env_steps,return_mean,return_std,episodes,wall_seconds\n" + "".join(
        f"{s},{r},1.0,5,10.0\n" for s, r, _ in evals))
    (run_dir / "eval_safety.csv").write_text("env_steps,episode_cost_mean,violation_rate,head_precision,head_recall\n"
                                             + "".join(f"{s},{c},{c / 500},0.5,nan\n" for s, _, c in evals))
    return run_dir


def test_seeds_are_compared_at_one_env_step(tmp_path):
    a = fake_safety_run(tmp_path / "a", [(10_000, 100.0, 8.0), (20_000, 300.0, 4.0)])
    b = fake_safety_run(tmp_path / "b", [(10_000, 200.0, 6.0)])  # interrupted at 10k
    row = safety.summarise([a, b], steps=20_000)  # only a finished: a alone, at 20k
    assert (row["seeds_done"], row["env_steps"], row["return"], row["violations"]) == (1, 20_000, 300.0, 4.0)
    row = safety.summarise([a, b], steps=30_000)  # none finished: both at the last step both reached
    assert (row["seeds_done"], row["env_steps"], row["return"], row["violations"]) == (2, 10_000, 150.0, 7.0)
    assert row["precision"] == 0.5 and row["recall"] is None  # NaN recall (no positives) is left out, not 0
    missing = safety.summarise([tmp_path / "nothing"], steps=20_000)
    assert missing["seeds_done"] == 0 and missing["return"] is None


def fake_final_eval(run_dir: Path, steps: int, returns: list[float], costs: list[float]) -> None:
    """A checkpoint at ``steps`` and the report 'wm-agent eval' writes on it."""
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    (run_dir / "checkpoints" / f"ckpt_{steps:09d}.pt").write_bytes(b"")
    (run_dir / f"eval_{steps}.json").write_text(json.dumps(
        {"episodes": len(returns), "returns": returns, "costs": costs, "safety_head_precision": 0.8,
         "safety_head_recall": float("nan")}))


def test_final_evaluations_replace_the_periodic_ones_once_every_seed_has_one(tmp_path):
    a = fake_safety_run(tmp_path / "a", [(20_000, 300.0, 4.0)])
    b = fake_safety_run(tmp_path / "b", [(20_000, 100.0, 2.0)])
    fake_final_eval(a, 20_000, returns=[0.0, 1000.0, 500.0, 500.0], costs=[1.0, 3.0, 2.0, 2.0])
    assert not needs_final_eval(a, 20_000, episodes=4) and needs_final_eval(a, 20_000, episodes=8)
    assert not needs_final_eval(b, 20_000, episodes=4)  # no checkpoint at 20k: nothing to evaluate
    row = safety.summarise([a, b], steps=20_000, final_episodes=4)  # b lacks one: both periodic
    assert (row["episodes"], row["return"], row["violations"]) == (5, 200.0, 3.0)
    fake_final_eval(b, 20_000, returns=[100.0, 300.0, 200.0, 200.0], costs=[0.0, 0.0, 1.0, 1.0])
    row = safety.summarise([a, b], steps=20_000, final_episodes=4)
    assert (row["episodes"], row["return"], row["violations"], row["precision"]) == (4, 350.0, 1.25, 0.8)
    assert row["recall"] is None
    row = safety.summarise([a, b], steps=20_000, final_episodes=8)  # too few episodes: periodic ones
    assert row["episodes"] == 5 and row["return"] == 200.0


def summary(seeds: int, steps: int, ret: float, violations: float, episodes: int = 5) -> dict:
    return {"seeds_done": seeds, "env_steps": steps, "episodes": episodes, "return": ret, "violations": violations}


def test_verdict_against_the_target():
    free = summary(3, 20_000, 100.0, 10.0)
    assert safety.verdict(free, summary(3, 20_000, 95.0, 1.0)) == "10.0x fewer violations, return -5.0%: met"
    assert safety.verdict(free, summary(3, 20_000, 80.0, 1.0)).endswith("return -20.0%: not met")
    assert safety.verdict(free, summary(3, 20_000, 100.0, 4.0)).startswith("2.5x fewer violations")
    assert safety.verdict(free, summary(3, 20_000, 100.0, 0.0)) == "no violations left, return +0.0%: met"
    assert safety.verdict(free, summary(2, 20_000, 100.0, 0.0)).startswith("pending")  # unequal seeds
    assert safety.verdict(free, summary(3, 10_000, 100.0, 0.0)).startswith("pending")  # unequal steps
    assert safety.verdict(free, summary(3, 20_000, 100.0, 0.0, episodes=20)).startswith("pending")  # unequal evals
    assert "not measurable" in safety.verdict(summary(3, 20_000, 100.0, 0.0), summary(3, 20_000, 90.0, 0.0))


def test_training_command_and_threads():
    script = str(ROOT / "benchmarks" / "safety.py")
    assert training_command(script, ["--report-only", "--envs", "Pusher-v5", "--", "--hidden-dim", "64"]) == \
        "python benchmarks/safety.py --envs Pusher-v5 -- --hidden-dim 64"
    assert threads_per_run(10_000) == 1


def test_verdict_without_results_is_pending():
    assert safety.verdict(summary(0, None, None, None), summary(3, 20_000, 90.0, 0.0)) == "pending"


learning = load_script("learning")


def test_learning_table_puts_published_means_beside_ours_at_the_same_steps():
    curves = {1: [{"env_steps": 10_000, "return_mean": 100.0, "wall_seconds": 60.0},
                  {"env_steps": 20_000, "return_mean": 300.0, "wall_seconds": 120.0}],
              2: [{"env_steps": 10_000, "return_mean": 200.0, "wall_seconds": 120.0}]}
    reference = {"reacher-easy": {"TD-MPC": {20_000: [600.0, 800.0]}, "TD-MPC2": {100_000: [900.0]}}}
    header, rows = learning.table(curves, "reacher-easy", reference)
    assert header == ["env_steps", "seed1", "seed2", "seeds", "median", "wall_min_median", "TD-MPC"]
    assert rows[0] == {"env_steps": 10_000, "seed1": 100.0, "seed2": 200.0, "seeds": 2, "median": 150.0,
                       "wall_min_median": 1.5, "TD-MPC": None}
    assert (rows[1]["seed2"], rows[1]["median"], rows[1]["TD-MPC"]) == (None, 300.0, 700.0)
    assert "At 100,000 env steps on reacher-easy: TD-MPC2 900.0." in learning.published_note(
        reference, "reacher-easy", "state", 100_000)
    assert "At 20,000 env steps on reacher-easy: TD-MPC 700.0." in learning.published_note(
        reference, "reacher-easy", "state", 20_000)
    assert "none is shown beside a run from pixels" in learning.published_note(reference, "reacher-easy", "pixels", 0)
    text = learning.markdown(header, rows)
    ours, published = text.split("Published at the same env steps")
    assert "TD-MPC" not in ours and "| env_steps | wm-agent median | TD-MPC |" in published
    assert "| 20000 | 300.0 | 700.0 |" in published and "| 10000 |" not in published  # no row of '-' only


def test_learning_table_regenerated_from_its_json_keeps_ours_and_recomputes_the_published_columns():
    # A table published when TD-MPC2 was misplaced at 20k; the run directories are gone.
    rows = [{"env_steps": 10_000, "seed1": 100.0, "seeds": 1, "median": 100.0, "wall_min_median": 1.0,
             "TD-MPC2": None},
            {"env_steps": 20_000, "seed1": 300.0, "seeds": 1, "median": 300.0, "wall_min_median": 2.0,
             "TD-MPC2": 950.0}]
    reference = {"reacher-easy": {"TD-MPC2": {10_000: [500.0, 700.0]}, "MR.Q": {20_000: [800.0]}}}
    header, fresh = learning.with_published(rows, "reacher-easy", reference)
    assert header == ["env_steps", "seed1", "seeds", "median", "wall_min_median", "TD-MPC2", "MR.Q"]
    assert [(r["median"], r["TD-MPC2"], r["MR.Q"]) for r in fresh] == [(100.0, 600.0, None), (300.0, None, 800.0)]
    assert rows[1]["TD-MPC2"] == 950.0  # the input is not changed


def test_benchmark_limits_reach_the_runs_and_a_run_with_other_limits_is_refused(tmp_path):
    assert safety.env_options("Pusher-v5") == ["--safety-limits", safety.BENCHMARK_LIMITS["Pusher-v5"]]
    assert safety.env_options("reacher-hard") == []
    old = tmp_path / "Pusher-v5-budget" / "seed1"
    old.mkdir(parents=True)
    (old / "config.json").write_text('{"env": {"name": "Pusher-v5", "safety_limits": ""}}')
    with pytest.raises(SystemExit, match="family default"):
        safety.check_limits(old, "Pusher-v5")
    (old / "config.json").write_text(f'{{"env": {{"safety_limits": "{safety.BENCHMARK_LIMITS["Pusher-v5"]}"}}}}')
    safety.check_limits(old, "Pusher-v5")  # same limits: resumed
    safety.check_limits(tmp_path / "never-started", "Pusher-v5")


def test_update_speed_builds_what_the_trainer_builds_and_rates_against_state():
    update_speed = load_script("update_speed")
    # The pixel default reconstructs a quarter of the batch; '-recon-all' every sub-sequence.
    assert update_speed.build("pixels", None)[2] == 64 and update_speed.build("pixels", 0)[2] == 256
    agent, batch, rows = update_speed.build("state", None)
    assert rows == 256 and batch["obs"].shape == (4, 256, 6) and "reconstruction" in agent.update(batch)
    text = update_speed.table({"state": {"median_ms": 100.0, "min_ms": 90.0, "recon_batch": 256},
                               "pixels": {"median_ms": 1250.0, "min_ms": 1200.0, "recon_batch": 64}})
    assert "| pixels | 64 | 1250.0 | 1200.0 | 12.5 |" in text
    # several devices: 'x state' within a device, then the first device over this one, same setting
    text = update_speed.table({f"{s}@{d}": {"median_ms": ms, "min_ms": ms, "recon_batch": 64}
                               for (s, d), ms in {("state", "cpu"): 90.0, ("pixels", "cpu"): 720.0,
                                                  ("state", "cuda"): 30.0, ("pixels", "cuda"): 36.0}.items()})
    assert "| pixels@cpu | 64 | 720.0 | 720.0 | 8.0 | 1.0 |" in text
    assert "| pixels@cuda | 64 | 36.0 | 36.0 | 1.2 | 20.0 |" in text


def test_train_speed_times_the_trainers_own_episodes_after_the_seed_phase(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    train_speed = load_script("train_speed")

    def fake_run(name: str, device: str, rates: list[tuple[int, float]]) -> Path:
        run = tmp_path / name
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"env": {"name": "reacher-easy", "obs": "state"},
                                                     "device": device, "seed_steps": 500}))
        with SummaryWriter(str(run)) as writer:
            for step, rate in rates:
                writer.add_scalar("perf/env_steps_per_s", rate, step)
                if step > 500:
                    writer.add_scalar("perf/update_ms", 1000 / rate / 2, step)
        return run

    # the random seed episode (ending at step 500) is thousands of steps/s: left out
    cpu = train_speed.run_row(fake_run("cpu", "cpu", [(500, 5000.0), (1000, 10.0), (1500, 12.5), (2000, 8.0)]))
    gpu = train_speed.run_row(fake_run("gpu", "cuda", [(500, 4000.0), (1000, 25.0)]))
    assert (cpu["episodes"], cpu["env_steps_per_s"], cpu["s_per_env_step"], cpu["update_ms"]) == (3, 10.0, 0.1, 50.0)
    text = train_speed.table([cpu, gpu])
    assert "| reacher-easy | state | cuda | 1 | 25.0 | 0.04 | None | 20.0 | - | 2.5 |" in text


def test_another_budget_trains_in_its_own_directory_and_shares_the_unconstrained_runs():
    assert safety.run_dir_name("Pusher-v5", "budget", 0.3, "chance") == "Pusher-v5-budget"
    assert safety.run_dir_name("Pusher-v5", "budget", 1.0, "chance") == "Pusher-v5-budget1-chance"
    assert safety.run_dir_name("Pusher-v5", "budget", 0.3, "penalty") == "Pusher-v5-budget0.3-penalty"
    for budget, mode in ((0.3, "chance"), (1.0, "penalty")):
        assert safety.run_dir_name("Pusher-v5", "unconstrained", budget, mode) == "Pusher-v5-unconstrained"


@pytest.mark.parametrize("script", ["train_speed", "update_speed"])
def test_speed_benchmarks_refuse_a_device_they_cannot_time_in_one_line(script):
    import subprocess

    done = subprocess.run([sys.executable, f"benchmarks/{script}.py", "--devices", "cpu", "gpu"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith("invalid --devices value 'gpu': use 'cpu', 'cuda' or 'cuda:N'")
