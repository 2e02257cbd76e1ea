"""``wm-agent eval --suite``: train and evaluate every (task, seed) of a suite, then summarise.

Also ``wm-agent eval --runs DIR``: summarise runs that already exist, trained by any
means (``wm-agent train``, an earlier suite), without training anything.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from agent.layout import CONFIG_FILE, EXIT_INTERRUPTED
from agent.suite.report import write_report
from agent.suite.results import RunResult, find_runs, read_run, write_result
from agent.suite.runner import Job, Outcome, SuitePlan, is_finished, run_dir_of, run_local, run_ray
from agent.suite.definitions import get_suite, select_tasks

# Options the suite sets per job; given after '--' they would contradict it.
OWNED_TRAIN_OPTIONS = ("--env", "--seed", "--steps", "--logdir", "--run-name", "--resume", "--threads")


class SuiteUsageError(ValueError):
    """Bad suite options; the CLI prints the one-line message and exits with status 2."""


@dataclass(frozen=True)
class SuiteOptions:
    suite: str
    seeds: int
    steps: int
    jobs: int
    suite_dir: Path | None = None
    tasks: tuple[str, ...] = ()
    ray_address: str | None = None
    train_args: tuple[str, ...] = ()
    progress: bool = True
    command: str = ""  # the command line, recorded in summary.md


def default_jobs() -> int:
    """One job per core, each on one torch thread: a run does not keep two cores busy (env, planner and
    updates take turns), so on 2 cores two runs at once summed 2.08x one run's pace and four 1.72x
    (benchmarks/results/concurrent_runs_amx.md)."""
    return max(1, os.cpu_count() or 1)


def make_plan(opts: SuiteOptions) -> SuitePlan:
    suite = get_suite(opts.suite)
    tasks = select_tasks(suite, list(opts.tasks))
    for value, name in ((opts.seeds, "--seeds"), (opts.steps, "--steps"), (opts.jobs, "--jobs")):
        if value < 1:
            raise SuiteUsageError(f"{name} {value}: expected an integer >= 1")
    owned = [a for a in opts.train_args if a.split("=")[0] in OWNED_TRAIN_OPTIONS]
    if owned:
        raise SuiteUsageError(f"train option {owned[0]} after '--': the suite sets it per job; "
                              f"pass train options other than {', '.join(OWNED_TRAIN_OPTIONS)}")
    suite_dir = (opts.suite_dir or Path("runs") / "suites" / suite.name).resolve()
    return SuitePlan(suite.name, tasks, tuple(range(1, opts.seeds + 1)), opts.steps, suite_dir, opts.train_args)


def run_suite(opts: SuiteOptions) -> int:
    """Train what is missing, write results and the summary; 1 if any job failed, else 0."""
    plan = make_plan(opts)
    jobs = plan.jobs()
    todo = [j for j in jobs if not is_finished(run_dir_of(plan.suite_dir, j), plan.steps)]
    resumed = sum((run_dir_of(plan.suite_dir, j) / CONFIG_FILE).is_file() for j in todo)
    print(f"suite {plan.suite}: {len(plan.tasks)} tasks x {len(plan.seeds)} seeds at {plan.steps} env steps in "
          f"{plan.suite_dir}; {len(jobs) - len(todo)} finished (kept), {resumed} to resume, "
          f"{len(todo) - resumed} to start", flush=True)
    try:
        outcomes = _run(plan, todo, opts) if todo else []
    except KeyboardInterrupt:  # the children have checkpointed; the same command continues them
        _report_finished(plan, jobs, opts.command)  # a suite longer than a sitting shows what it has so far
        print("interrupted; continue with the same command (finished jobs are kept, the others resume)",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    _report_finished(plan, jobs, opts.command)
    return _report_failures(outcomes)


def report_suite(opts: SuiteOptions) -> None:
    """The summary of the suite's finished jobs as they stand, training nothing (e.g. after new reference data)."""
    plan = make_plan(opts)
    _report_finished(plan, plan.jobs(), opts.command)


def _report_finished(plan: SuitePlan, jobs: list[Job], command: str) -> None:
    """Results and summary of the jobs that reached the step budget (the summary names missing tasks)."""
    results = []
    for job in jobs:
        result = read_run(run_dir_of(plan.suite_dir, job))
        if result is not None and result.env_steps >= plan.steps:
            write_result(result, plan.suite_dir / "results")
            results.append(result)
    _, table = write_report(plan.suite_dir, plan.suite, plan.tasks, results, command)
    print(table)
    print(f"written: {plan.suite_dir / 'summary.md'}, results/, plots/, tensorboard/")


def _run(plan: SuitePlan, todo: list, opts: SuiteOptions) -> list[Outcome]:
    if not opts.ray_address:
        return run_local(plan, todo, opts.jobs, opts.progress)
    try:
        import ray  # noqa: F401
    except ImportError:
        raise SuiteUsageError(f"--ray {opts.ray_address}: Ray is not installed; "
                              "install the extra: pip install -e '.[ray]'") from None
    return run_ray(plan, todo, opts.ray_address, opts.progress)


def _report_failures(outcomes: list[Outcome]) -> int:
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        print(f"FAILED {o.job.name}: {o.message}; log: {o.log}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} of {len(outcomes)} jobs failed; rerun the same command to retry them "
              f"(finished jobs are kept)", file=sys.stderr)
    return 1 if failed else 0


def summarise_runs(runs_dir: Path, suite_name: str | None, out_dir: Path | None, tasks: tuple[str, ...] = ()) -> int:
    """Results and summary of every run found under ``runs_dir``; trains nothing."""
    if not runs_dir.is_dir():
        raise SuiteUsageError(f"--runs {runs_dir}: not a directory")
    newest: dict[tuple[str, int], RunResult] = {}
    for run_dir in find_runs(runs_dir):  # several runs of one task and seed: the longest counts
        r = read_run(run_dir)
        if r is not None and ((r.task, r.seed) not in newest or r.env_steps > newest[r.task, r.seed].env_steps):
            newest[r.task, r.seed] = r
    results = list(newest.values())
    if suite_name:
        wanted = select_tasks(get_suite(suite_name), list(tasks))
        results = [r for r in results if r.task in wanted]
    else:
        wanted = tuple(sorted({r.task for r in results}))
    if not results:
        raise SuiteUsageError(f"--runs {runs_dir}: no evaluated runs (config.json and eval.csv) "
                              + (f"of suite {suite_name} " if suite_name else "") + "under it")
    out_dir = (out_dir or runs_dir).resolve()
    for result in results:
        write_result(result, out_dir / "results")
    _, table = write_report(out_dir, suite_name or runs_dir.name, wanted, results)
    print(table)
    print(f"written: {out_dir / 'summary.md'}, results/, plots/, tensorboard/")
    return 0
