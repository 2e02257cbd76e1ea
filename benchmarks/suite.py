"""Suite benchmark: ``wm-agent eval --suite`` into benchmarks/runs/, its summary into benchmarks/results/.

The runs (episodes, checkpoints) stay in ``benchmarks/runs/suites/<suite>`` (not committed);
the table, per-run results and plots are copied to ``benchmarks/results/suite_<suite>/``
to be committed. Rerunning the same command keeps finished jobs and resumes the others,
and a larger ``--steps`` continues every run further, so a suite spans sittings.

    python benchmarks/suite.py --suite dmc-easy --seeds 2 --steps 20000 --jobs 2
    python benchmarks/suite.py --suite dmc-easy --seeds 2 --steps 100000 --jobs 2   # later: continue to 100k
    python benchmarks/suite.py --suite dmc-easy --seeds 2 --steps 20000 --report-only  # re-summarise, no training
    python benchmarks/suite.py --suite dmc-easy --tasks reacher-easy --seeds 3 --steps 50000 --jobs 3  # one task first

``--report-only`` without the runs (a checkout has only what is committed) re-summarises the
published per-run results in ``benchmarks/results/suite_<suite>/results/`` instead.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.cli import PROG  # noqa: E402
from agent.cli import main as wm_agent  # noqa: E402
from agent.suite.command import SuiteOptions, report_suite  # noqa: E402
from agent.suite.report import write_report  # noqa: E402
from agent.suite.results import load_results  # noqa: E402
from agent.suite.definitions import get_suite, task_names  # noqa: E402


def publish(suite_dir: Path, out: Path) -> None:
    """Copy the small outputs (no runs) where they are committed."""
    out.mkdir(parents=True, exist_ok=True)
    for name in ("summary.md", "summary.json"):
        if (suite_dir / name).is_file():
            shutil.copy2(suite_dir / name, out / name)
    for folder in ("results", "plots"):
        if (suite_dir / folder).is_dir():
            shutil.copytree(suite_dir / folder, out / folder, dirs_exist_ok=True)


def report_published(suite: str, out: Path) -> None:
    """Summary and plots again from the per-run results published in ``out`` (when the runs are not here: they
    are not committed), e.g. after new reference data; the command that trained them is kept."""
    previous = (out / "summary.md").read_text() if (out / "summary.md").is_file() else ""
    command = match[1] if (match := re.search(r"^Command: `([^`]*)`", previous, re.MULTILINE)) else ""
    with tempfile.TemporaryDirectory() as tmp:
        _, table = write_report(Path(tmp), suite, get_suite(suite).tasks, load_results(out / "results"), command)
        publish(Path(tmp), out)
    print(table)
    print(f"written from the published results: {out / 'summary.md'}, plots/")


def eval_argv(args: argparse.Namespace, suite_dir: Path) -> list[str]:
    """The ``wm-agent eval --suite`` command line this benchmark runs (and records in the summary)."""
    return ["eval", "--suite", args.suite, *(["--tasks", args.tasks] if args.tasks else []),
            "--seeds", str(args.seeds), "--steps", str(args.steps), "--jobs", str(args.jobs),
            "--suite-dir", str(suite_dir), *(["--ray", args.ray] if args.ray else []),
            *(["--", *args.train_args] if args.train_args else [])]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="dmc-easy")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tasks", metavar="T1,T2", help="only these tasks of the suite (comma-separated), e.g. to "
                        "carry one task's seeds to the end first; the others keep their runs")
    parser.add_argument("--ray", metavar="ADDRESS")
    parser.add_argument("--report-only", action="store_true",
                        help="summarise the finished jobs again (current reference data) and publish; train nothing")
    parser.add_argument("train_args", nargs="*", help="extra 'wm-agent train' options after --")
    return parser


def main() -> int:
    args = build_parser().parse_args()

    suite_dir = ROOT / "benchmarks" / "runs" / "suites" / args.suite
    argv = eval_argv(args, suite_dir)
    published = ROOT / "benchmarks" / "results" / f"suite_{args.suite}"
    if args.report_only and not (suite_dir / "runs").is_dir() and (published / "results").is_dir():
        report_published(args.suite, published)
        return 0
    if args.report_only:  # the summary names the command that trained the runs
        report_suite(SuiteOptions(args.suite, args.seeds, args.steps, args.jobs, suite_dir,
                                  tasks=task_names(args.tasks), train_args=tuple(args.train_args),
                                  command=shlex.join([PROG, *argv])))
        code = 0
    else:
        code = wm_agent(argv)
    publish(suite_dir, ROOT / "benchmarks" / "results" / f"suite_{args.suite}")
    return code


if __name__ == "__main__":
    sys.exit(main())
