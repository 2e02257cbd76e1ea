"""Suite runs end to end: real 'wm-agent train' children, a crashed job, an interrupted suite, Ray."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from agent.suite import runner
from agent.run.checkpoint import list_checkpoints
from agent.cli import main
from agent.suite.command import SuiteOptions, report_suite
from agent.suite.results import RunResult, steps_done
from agent.suite.runner import Job, Outcome, SuitePlan, gather, ray_resources
from tests.support import ROOT

TWO_TASKS = ["--suite", "gym-mujoco", "--tasks", "Reacher-v5,InvertedPendulum-v5", "--seeds", "1"]
# A tiny but complete training run (Reacher-v5 episodes are 50 steps, InvertedPendulum's shorter).
TINY = ["--", "--seed-steps", "50", "--eval-every", "50", "--pretrain-updates", "5", "--hidden-dim", "32",
        "--latent-dim", "16", "--num-samples", "16", "--num-elites", "4", "--iterations", "1",
        "--num-policy-samples", "4", "--batch-size", "16", "--eval-episodes", "1", "--video-every", "0"]


def results_of(suite_dir: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (suite_dir / "results").glob("*.json")}


def test_a_crashed_job_is_reported_with_its_log_and_the_others_complete(tmp_path, monkeypatch, capsys):
    real_command = runner.child_command

    def crash_the_pendulum(job, plan, run_dir):  # the injected failure: its child exits 3 with a message
        if job.task == "InvertedPendulum-v5":
            return [sys.executable, "-c", "import sys; print('simulated crash in training'); sys.exit(3)"]
        return real_command(job, plan, run_dir)

    monkeypatch.setattr(runner, "child_command", crash_the_pendulum)
    code = main(["eval", *TWO_TASKS, "--steps", "100", "--jobs", "2", "--suite-dir", str(tmp_path), "--no-progress",
                 *TINY])
    assert code == 1
    err = capsys.readouterr().err
    log = tmp_path / "logs" / "InvertedPendulum-v5-s1.log"
    assert f"FAILED InvertedPendulum-v5-s1: exit 3: simulated crash in training; log: {log}" in err
    assert "simulated crash in training" in log.read_text()
    results = results_of(tmp_path)
    assert list(results) == ["Reacher-v5-s1"]  # the other job finished and was evaluated
    reacher = results["Reacher-v5-s1"]
    assert reacher["env_steps"] == 100 and reacher["episodes"] == 1 and reacher["plan_ms_per_action"] > 0
    assert [p[0] for p in reacher["curve"]] == [50, 100]
    assert "missing: InvertedPendulum-v5" in (tmp_path / "summary.md").read_text()
    # Re-summarising what is there (as after new reference data) trains nothing and writes the same rows.
    (tmp_path / "summary.md").unlink()
    report_suite(SuiteOptions("gym-mujoco", 1, 100, 1, tmp_path, ("Reacher-v5", "InvertedPendulum-v5"),
                              command="the training command"))
    summary = (tmp_path / "summary.md").read_text()
    assert "Command: `the training command`" in summary and "| Reacher-v5 | 1 | 100 |" in summary
    assert "missing: InvertedPendulum-v5" in summary
    assert log.read_text().count("simulated crash in training") == 1  # the failed job was not tried again

    # The same command again: the finished job is kept as it is, the failed one is tried again.
    reacher_log = (tmp_path / "runs" / "Reacher-v5-s1" / "train.log").read_text()
    assert main(["eval", *TWO_TASKS, "--steps", "100", "--suite-dir", str(tmp_path), "--no-progress", *TINY]) == 1
    assert "1 finished (kept), 0 to resume, 1 to start" in capsys.readouterr().out
    assert (tmp_path / "runs" / "Reacher-v5-s1" / "train.log").read_text() == reacher_log
    assert log.read_text().count("simulated crash in training") == 2


def wait_for(condition, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "suite exited early"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_an_interrupted_suite_continues_with_the_same_command(tmp_path):
    command = [sys.executable, "-m", "agent.cli", "eval", "--suite", "gym-mujoco", "--tasks", "Reacher-v5",
               "--seeds", "1", "--steps", "150", "--suite-dir", str(tmp_path), "--no-progress", *TINY]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run_dir = tmp_path / "runs" / "Reacher-v5-s1"
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:  # stop the suite once its job has finished an episode (generous: CI machines may be busy)
        wait_for(lambda: steps_done(run_dir) > 0, 600, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 130, out
    assert "continue with the same command" in out
    assert list_checkpoints(run_dir / "checkpoints")  # the stopped child checkpointed
    assert "missing: Reacher-v5" in (tmp_path / "summary.md").read_text()  # what the sitting finished, so far nothing
    assert steps_done(run_dir) < 150
    first_episode = sorted((run_dir / "episodes").iterdir())[0].read_bytes()

    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 finished (kept), 1 to resume, 0 to start" in again.stdout
    assert "resumed" in (run_dir / "train.log").read_text()
    assert sorted((run_dir / "episodes").iterdir())[0].read_bytes() == first_episode  # kept, not recollected
    assert results_of(tmp_path)["Reacher-v5-s1"]["env_steps"] == 150


def test_ray_resources_and_gathering_a_remote_jobs_files(tmp_path):
    plan = SuitePlan("gym-mujoco", ("Reacher-v5",), (1,), 100, tmp_path)
    assert ray_resources(plan) == {"num_cpus": 1, "num_gpus": 0}
    assert ray_resources(SuitePlan("x", (), (), 1, tmp_path, ("--device", "cuda:0")))["num_gpus"] == 1
    assert ray_resources(SuitePlan("x", (), (), 1, tmp_path, ("--device=cuda",)))["num_gpus"] == 1
    # A worker on another machine returns its run's small files; they land in the local suite dir.
    result = RunResult("Reacher-v5", 1, 100, -5.0, 1.0, 1, 12.0, 3.0, "/elsewhere/runs/Reacher-v5-s1", [(100, -5.0, 1.0)])
    files = {"config.json": b"{}", "eval.csv": b"env_steps\n", "train.log": b"eval\n", "log": b"child output\n"}
    outcome = gather(Outcome(Job("Reacher-v5", 1), True, Path("/elsewhere/logs/x.log"), "", result, files), plan)
    run_dir = tmp_path / "runs" / "Reacher-v5-s1"
    assert (run_dir / "eval.csv").read_bytes() == b"env_steps\n" and (run_dir / "config.json").read_bytes() == b"{}"
    assert outcome.log == tmp_path / "logs" / "Reacher-v5-s1.log" and outcome.log.read_bytes() == b"child output\n"
    assert outcome.result.run_dir == str(run_dir)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_head():
    """A Ray head on 127.0.0.1 for this test only, stopped by its own process id."""
    pytest.importorskip("ray")
    port, client_port, agent_port = free_port(), free_port(), free_port()  # no fixed port another head may hold
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # its workers import agent.suite.runner
    head = subprocess.Popen([sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
                             "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2",
                             "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp,
                             "--ray-client-server-port", str(client_port),
                             "--dashboard-agent-listen-port", str(agent_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert head.poll() is None and time.monotonic() < deadline, "Ray head did not start"
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)  # 'ray start --block' stops the processes it started
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            head.kill()
        shutil.rmtree(temp, ignore_errors=True)


def test_a_tiny_suite_runs_through_a_ray_head(tmp_path, ray_head, capsys):
    code = main(["eval", *TWO_TASKS, "--steps", "100", "--ray", ray_head, "--suite-dir", str(tmp_path),
                 "--no-progress", *TINY])
    assert code == 0, capsys.readouterr().err
    results = results_of(tmp_path)
    assert sorted(results) == ["InvertedPendulum-v5-s1", "Reacher-v5-s1"]
    assert all(r["env_steps"] >= 100 for r in results.values())
    for name in results:  # gathered into the local suite directory
        assert (tmp_path / "runs" / name / "eval.csv").is_file() and (tmp_path / "logs" / f"{name}.log").is_file()
    assert (tmp_path / "plots" / "gym-mujoco.png").is_file() and "Reacher-v5" in (tmp_path / "summary.md").read_text()
