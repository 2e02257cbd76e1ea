"""benchmarks/reacher_failures.py: poses set in real reacher physics, verdicts, the trainer's eval episodes."""

import json

import numpy as np
import pytest

from benchmarks import reacher_failures as rf
from envs import make_env


def test_poses_are_set_at_rest_and_the_finger_lands_inside_the_target_for_some_of_them():
    env = make_env("reacher-easy", seed=0)
    try:
        env.reset(seed=3)
        dmc = env.unwrapped
        grid = rf.pose_grid(40)
        observations, distances = rf.poses_at_rest(dmc, grid)
        physics = dmc._env.physics
        radius = physics.named.model.geom_size["target", 0] + physics.named.model.geom_size["finger", 0]
        # reacher's observation: joint positions, finger-to-target vector, joint velocities
        np.testing.assert_allclose(observations[:, :2], grid, atol=1e-6)
        np.testing.assert_allclose(observations[:, 4:], 0.0)
        np.testing.assert_allclose(np.linalg.norm(observations[:, 2:4], axis=1), distances, atol=1e-5)
        assert (distances <= radius).any() and (distances > 2 * radius).any()
        # the farthest pose is the arm stretched away from the target: farther than the target is from the base
        assert distances.max() > np.linalg.norm(physics.named.data.geom_xpos["target", :2])
    finally:
        env.close()


def test_the_target_distance_is_read_back_from_an_observation_alone():
    env = make_env("reacher-easy", seed=0)
    try:
        for seed in range(5):
            obs, _ = env.reset(seed=seed)
            physics = env.unwrapped._env.physics
            true = float(np.linalg.norm(physics.named.data.geom_xpos["target", :2]))
            assert rf.target_from_base(physics, obs) == pytest.approx(true, abs=1e-5)
    finally:
        env.close()


def test_episodes_are_counted_per_band_of_target_distance():
    rows = rf.by_distance_table([(0.06, 0.0), (0.07, 950.0), (0.12, 10.0), (0.20, 0.0)], fail_below=600)
    assert rows[2:] == ["| 0.05-0.10 | 2 | 1 | 50% |", "| 0.10-0.15 | 1 | 1 | 100% |", "| 0.15-0.20 | 1 | 1 | 100% |"]


@pytest.mark.parametrize("believed, v_stop, v_target, peak_distance, rise, expected", [
    (900.0, 60.0, 50.0, 0.30, 1.0, "believed-solved"),  # the model's reward along the path says it succeeded
    (0.0, 10.0, 50.0, 0.03, 5.0, "value-right"),        # the peak is at the target, the value rises from the stop
    (0.0, 10.0, 50.0, 0.03, -0.5, "local-optimum"),     # ... but nothing near the stop is valued higher
    (0.0, 60.0, 50.0, 0.30, 1.0, "value-elsewhere"),    # the peak is far from the target
    (0.0, 10.0, 50.0, 0.13, 1.0, "value-elsewhere"),    # just beyond twice the radius (0.06) is elsewhere
    (0.0, 50.0, 50.0, 0.05, 1.0, "value-flat"),         # the peak is at the target, but the stop is valued as high
])
def test_a_failure_is_told_by_what_the_model_believed_and_where_its_value_points(believed, v_stop, v_target,
                                                                                  peak_distance, rise, expected):
    assert rf.verdict(believed, 600.0, v_stop, v_target, peak_distance, radius=0.06, rise=rise) == expected


def test_the_targets_two_arm_solutions_are_valued_apart_by_wrist_side():
    poses = np.array([[0.0, 1.0], [0.5, 2.0], [2.0, -1.0], [1.0, -0.5], [3.0, 2.5]])
    value = np.array([150.0, 155.0, 200.0, 300.0, 999.0])
    inside = np.array([True, True, True, False, False])  # the 300 and 999 poses are not at the target
    assert rf.best_by_wrist_side(value, poses, inside) == (155.0, 200.0)
    positive, negative = rf.best_by_wrist_side(value, poses, inside & (poses[:, 1] > 0))
    assert positive == 155.0 and np.isnan(negative)


def test_a_local_maximum_of_the_value_is_found_across_the_shoulders_wrap():
    size = 96
    grid = rf.pose_grid(size)
    # one hill at the target (shoulder 0, wrist 2) and a lower one at shoulder ~pi, which wraps round to -pi
    value = 100 * np.exp(-((grid[:, 0]) ** 2 + (grid[:, 1] - 2) ** 2)) + 30 * np.exp(
        -4 * ((np.abs(grid[:, 0]) - np.pi) ** 2 + grid[:, 1] ** 2))
    hill = np.array([np.pi - 0.01, 0.0])
    v_hill = 30.0
    assert rf.local_rise(value, grid, hill, v_hill) <= 0.05  # top of the lower hill, seen across the wrap
    slope = np.array([0.5, 1.5])
    v_slope = float(100 * np.exp(-(0.25 + 0.25)))
    assert rf.local_rise(value, grid, slope, v_slope) > 5  # on the target's hill: higher poses within 0.3 rad


def test_the_diagnosed_episodes_are_the_trainers_evaluation_episodes(reacher_run, tmp_path, monkeypatch):
    from agent.run.evaluate import evaluate_restored

    monkeypatch.setattr(rf, "RESULTS_DIR", tmp_path)
    assert rf.main([str(reacher_run), "--episodes", "1", "--grid", "8", "--tag", "t", "--fail-below", "1e9",
                    "--training-after", "0"]) == 0
    data = json.loads((tmp_path / "reacher_failures_t.json").read_text())
    rows = data["episodes"]
    assert data["env_steps"] == 500 and len(rows) == 1
    done = evaluate_restored(reacher_run, 1, 0, "cpu", with_llm=False, threads=1)
    assert [r["ret"] for r in rows] == pytest.approx(done.result.returns)
    assert all(np.isfinite(r["predicted_return"]) for r in rows)
    # the probe's constant plans span the action box (11 actions a joint)
    assert all(-1.0 <= r["probe_wrist"] <= 1.0 and np.isfinite(r["probe_gain"]) for r in rows)
    for r in rows:  # every episode failed (--fail-below 1e9), so each has a verdict from its maps
        assert r["verdict"] in {"believed-solved", "value-right", "local-optimum", "value-elsewhere", "value-flat",
                                "target-unreachable"}
        assert r["min_distance"] <= r["final_distance"] and r["radius"] == pytest.approx(0.05 + 0.01)
        assert 0.05 - 1e-6 <= r["target_from_base"] <= 0.20 + 1e-6  # reacher draws the target's radius in [.05, .20]
        sides = [v for v in (r["v_target_wrist_pos"], r["v_target_wrist_neg"]) if np.isfinite(v)]
        assert max(sides) == pytest.approx(r["v_target_best"])  # the best target pose is on one side or the other
    (distance, ret), = data["training"]  # the run's one training episode (500 steps)
    episode, = (reacher_run / "episodes").glob("*.npz")
    assert ret == pytest.approx(float(np.load(episode)["reward"].sum())) and 0.05 - 1e-6 <= distance <= 0.20 + 1e-6
    table = (tmp_path / "reacher_failures_t.md").read_text()
    assert "Training episodes (with exploration) ending after 0 env steps" in table
    maps = sorted(p.name for p in (tmp_path / "reacher_failures_t").iterdir())
    assert maps == ["episode_00.png"]  # one figure per failed episode
    assert data["command"] in table and "1 below 1e+09" in table and "Failed episodes' targets at" in table


def test_a_run_of_another_env_is_refused_in_one_line(robot_run, tmp_path, monkeypatch):
    monkeypatch.setattr(rf, "RESULTS_DIR", tmp_path)
    with pytest.raises(SystemExit, match="this diagnosis reads dm_control reacher's physics"):
        rf.main([str(robot_run), "--episodes", "1", "--tag", "x"])
    with pytest.raises(SystemExit, match="--grid 2: expected at least 4"):
        rf.main([str(robot_run), "--grid", "2", "--tag", "x"])


def test_one_step_rollouts_agree_with_the_model_return_along_the_path(reacher_run):
    """rollout_errors at horizon 1 is the model's reward on each real (state, action) minus the real reward."""
    from agent.run.restore import restore_run

    restored = restore_run(reacher_run, rf.torch.device("cpu"), with_llm=False)
    try:
        env, agent = restored.env, restored.agent
        obs, _ = env.reset(seed=5)
        observations, actions, rewards = [obs], [], []
        rng = np.random.default_rng(0)
        for _ in range(40):
            actions.append(agent.act(obs, explore=False, rng=rng))
            obs, reward, *_ = env.step(actions[-1])
            observations.append(obs)
            rewards.append(reward)
        observations, actions, rewards = np.stack(observations), np.stack(actions), np.asarray(rewards)
        bias, finger = rf.rollout_errors(agent, observations, actions, rewards, horizon=1)
        believed = rf.predicted_return(agent, observations[:-1], actions)
        assert bias == pytest.approx((believed - rewards.sum()) / 40, abs=1e-4)
        assert 0.0 <= finger < 1.0  # metres: decoded from the latent, no farther off than the workspace allows
        bias3, _ = rf.rollout_errors(agent, observations, actions, rewards, horizon=3)
        assert np.isfinite(bias3)
    finally:
        restored.close()
