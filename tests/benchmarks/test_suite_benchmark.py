"""benchmarks/suite.py: the wm-agent command line it runs and records."""

from pathlib import Path

from agent.cli import build_parser as cli_parser
from benchmarks.suite import build_parser, eval_argv


def test_tasks_and_train_options_reach_the_suite_command_the_cli_accepts():
    args = build_parser().parse_args(["--suite", "dmc-easy", "--tasks", "reacher-easy", "--seeds", "3",
                                      "--steps", "50000", "--jobs", "3", "--", "--eval-episodes", "20"])
    argv = eval_argv(args, Path("/tmp/suite"))
    assert argv[argv.index("--tasks") + 1] == "reacher-easy"
    assert argv[argv.index("--jobs") + 1] == "3" and argv[-2:] == ["--eval-episodes", "20"]
    parsed = cli_parser().parse_args(argv[:argv.index("--")])
    assert (parsed.suite, parsed.tasks, parsed.seeds, parsed.steps) == ("dmc-easy", "reacher-easy", 3, 50000)


def test_without_tasks_the_whole_suite_runs():
    argv = eval_argv(build_parser().parse_args(["--seeds", "2"]), Path("/tmp/suite"))
    assert "--tasks" not in argv and "--" not in argv
