"""Fixtures shared by the benchmark tests."""

import pytest


@pytest.fixture(scope="session")
def reacher_run(tmp_path_factory):
    """One tiny reacher-easy CLI run (500 env steps, an eval at 500), shared by the reacher diagnosis tools' tests."""
    from agent.cli import main
    from tests.support import TINY_ONE_THREAD, only_run_dir

    logdir = tmp_path_factory.mktemp("reacher_runs")
    assert main(["train", "--env", "reacher-easy", "--steps", "500", "--seed-steps", "400", "--eval-every", "500",
                 "--logdir", str(logdir), *TINY_ONE_THREAD]) == 0
    return only_run_dir(logdir)
