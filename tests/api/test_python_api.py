"""The Python API: the README's example runs as written and prints what it says; load/act/imagine
and WorldModelEnv behave as documented (agent/api/)."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import agent
from agent.config import ConfigError
from agent.run.checkpoint import CheckpointError
from agent.run.launch import UserError
from tests.support import only_run_dir
from tests.support import ROOT

ROBOT = "tests.custom_envs.my_robot:MyRobot-v0"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- python-api-example -->\n```python\n(.*?)```", text, re.S)
    assert match, "README.md lost its marked Python example"
    return match.group(1)


def test_the_readme_example_runs_and_prints_what_it_promises(tmp_path):
    script = tmp_path / "example.py"
    script.write_text(readme_example())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=400)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    ret = next(line for line in lines if line.startswith("return "))
    value = float(ret.split()[1])
    assert -100.0 < value < 0.0 and ret.endswith("after 200 env steps of training")  # Reacher-v5: -distance - effort
    assert "batch of actions: (3, 2)" in lines
    assert "imagined: (11, 10) (10,)" in lines  # T+1 decoded 10-dim Reacher states, T rewards
    assert any(line.startswith("WorldModelEnv passes check_env: Box(") for line in lines)
    assert len(list((tmp_path / "runs").iterdir())) == 1 and (only_run_dir(tmp_path / "runs") / "config.json").is_file()


def test_load_acts_on_one_observation_and_on_a_batch(robot_run):
    with agent.load(robot_run) as policy:
        assert policy.env_steps == 100 and policy.checkpoint.name == "ckpt_000000100.pt"
        assert str(policy.device) == "cpu"
        env = policy.make_env(seed=0)
        obs, _ = env.reset(seed=0)
        action = policy.act(obs)
        assert action.shape == (2,) and np.all(np.abs(action) <= 1.0)
        batch = np.stack([obs, obs * 0.5, obs])
        planned = policy.act(batch)
        assert planned.shape == (3, 2) and np.all(np.abs(planned) <= 1.0)
        prior = policy.act(batch, plan=False)
        assert prior.shape == (3, 2) and np.allclose(prior[0], prior[2]) and not np.allclose(prior[0], prior[1])
        assert np.allclose(policy.act(obs, plan=False), prior[0], atol=1e-6)  # batched == one by one
        with pytest.raises(ValueError, match=r"observation of shape \(3,\): expected \(8,\) or a batch \(N, 8\)"):
            policy.act(np.zeros(3))
        env.close()


def test_imagine_matches_the_models_own_rollout(robot_run):
    import torch

    with agent.load(robot_run) as policy:
        obs, _ = policy.make_env(seed=1).reset(seed=1)
        actions = np.random.default_rng(0).uniform(-1, 1, (6, 2)).astype(np.float32)
        imagined = policy.imagine(obs, actions)
        assert imagined.observations.shape == (7, 8) and imagined.rewards.shape == (6,)
        assert imagined.p_unsafe is not None and imagined.p_unsafe.shape == (6,)
        assert np.all((imagined.p_unsafe >= 0) & (imagined.p_unsafe <= 1))
        with torch.no_grad():  # the same steps by hand, through the planner's interface
            z = policy.world_model.initial_latent(torch.as_tensor(obs)[None])
            for t, a in enumerate(torch.as_tensor(actions)):
                z, r = policy.world_model.next_latent_and_reward(z, a[None])
                assert float(r) == pytest.approx(float(imagined.rewards[t]), abs=1e-6)
            assert np.allclose(policy.decode(z)[0], imagined.observations[-1], atol=1e-5)
        with pytest.raises(ValueError, match=r"expected \(T, 2\)"):
            policy.imagine(obs, np.zeros(4))


def test_world_model_env_passes_check_env_and_resets_from_real_starts(robot_run):
    env = agent.WorldModelEnv.from_run(robot_run, horizon=5)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3)
    starts = env.start_observations.numpy()
    assert starts.shape == (2, 8)  # the first observation of each of the run's 2 episodes
    assert np.allclose(obs, env.policy.decode(env.policy.world_model.initial_latent(env.start_observations[info["start_index"]:][:1]))[0])
    for t in range(5):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert isinstance(reward, float) and not terminated and 0.0 <= info["cost"] <= 1.0
        assert truncated == (t == 4)  # the horizon
    latent = agent.WorldModelEnv.from_run(robot_run, observation="latent", starts="any")
    assert latent.observation_space.shape == (16,) and len(latent.start_observations) == 102  # 2 x (50 steps + reset)
    check_env(latent, skip_render_check=True)
    env.close()
    latent.close()


def test_train_from_python_refuses_what_the_cli_refuses_and_resume_continues(tmp_path):
    cfg = agent.RunConfig(env=agent.EnvConfig(name="tests.custom_envs.my_robot:MyRobotDiscrete-v0"))
    with pytest.raises(ValueError, match="is not continuous"):
        agent.train(cfg, logdir=tmp_path)
    cfg = agent.RunConfig(env=agent.EnvConfig(name=ROBOT), steps=50, seed_steps=50, eval_every=50, eval_episodes=1,
                          pretrain_updates=2, model=agent.ModelConfig(latent_dim=16, hidden_dim=32),
                          plan=agent.PlanConfig(num_samples=16, num_elites=4, iterations=1, num_policy_samples=2))
    run_dir = agent.train(cfg, logdir=tmp_path, run_name="arm", progress=False)
    assert run_dir == tmp_path / "arm" and (run_dir / "checkpoints" / "ckpt_000000050.pt").is_file()
    with pytest.raises(UserError, match="exists; continue it with --resume"):
        agent.train(cfg, logdir=tmp_path, run_name="arm")
    assert agent.resume(run_dir, steps=100, progress=False) == run_dir
    assert agent.load(run_dir).env_steps == 100
    assert "steps: 50 -> 100" in (run_dir / "train.log").read_text()


def test_training_stopped_by_ctrl_c_raises_keyboard_interrupt_and_resumes(tmp_path, monkeypatch):
    import agent.run.trainer

    real_evaluate = agent.run.trainer.evaluate

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(agent.run.trainer, "evaluate", ctrl_c)
    cfg = agent.RunConfig(env=agent.EnvConfig(name=ROBOT), steps=100, seed_steps=50, eval_every=50, eval_episodes=1,
                          pretrain_updates=2, model=agent.ModelConfig(latent_dim=16, hidden_dim=32),
                          plan=agent.PlanConfig(num_samples=16, num_elites=4, iterations=1, num_policy_samples=2))
    # Stopped, not finished: the caller stops too (it used to get the run directory back as if trained).
    with pytest.raises(KeyboardInterrupt, match=r"interrupted; its checkpoint is written: continue it with "
                                                r"agent\.resume\("):
        agent.train(cfg, logdir=tmp_path, run_name="arm", progress=False)
    assert (tmp_path / "arm" / "checkpoints" / "ckpt_000000050.pt").is_file()
    monkeypatch.setattr(agent.run.trainer, "evaluate", real_evaluate)
    assert agent.resume(tmp_path / "arm", progress=False) == tmp_path / "arm"
    assert agent.load(tmp_path / "arm").env_steps == 100


def test_load_refuses_what_is_not_a_run_in_one_line(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoints/ckpt_"):
        agent.load(tmp_path)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        agent.nothing  # noqa: B018 - the lazy exports name only what exists


def test_load_with_plan_options_changes_how_it_acts_and_refuses_bad_ones(robot_run):
    with agent.load(robot_run) as policy:
        obs, _ = policy.make_env(seed=0).reset(seed=0)
        planned, prior = policy.act(obs), policy.act(obs, plan=False)
    assert not np.allclose(planned, prior, atol=1e-3)  # the planner leaves the prior's action here
    # A margin no plan can beat: the agent keeps the prior's own plan, whose first action is the prior's mean
    with agent.load(robot_run, plan={"prior_margin": 1e9}) as policy:
        assert policy.config.plan.prior_margin == 1e9
        assert np.allclose(policy.act(obs), prior, atol=1e-5)
    with pytest.raises(ConfigError, match=r"unknown planner option 'num_sample'; accepted: .*num_samples"):
        agent.load(robot_run, plan={"num_sample": 8})
    with pytest.raises(ConfigError, match="num_samples"):
        agent.load(robot_run, plan={"num_samples": 0})
