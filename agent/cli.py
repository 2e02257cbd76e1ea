"""The ``wm-agent`` command: ``train``, ``eval``, ``envs`` and ``suites``.

Options of ``train`` are generated from the config dataclasses (``agent/config.py``),
so every option's help is the field's documentation. User errors print one line and
exit with status 2; tracebacks are for bugs only.
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning. Read once, when torch loads libgomp, so it is set
# before the first torch import; a value in the environment wins. With several runs on the same
# cores, spinning threads steal the cores the others compute on: two runs at once summed 0.22 env
# steps/s with libgomp's default spinning against 3.81 passive (benchmarks/results/concurrent_runs.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402 - after the OpenMP setting
import dataclasses
import json
import shlex
import sys
from pathlib import Path
from typing import Any, NoReturn, Sequence

from agent.layout import CONFIG_FILE
from agent.run.checkpoint import CheckpointError
from agent.run.launch import UserError, new_run_directory, start_training
from agent.config import (ConfigError, EnvConfig, LearnConfig, ModelConfig, PlanConfig, RunConfig, is_device_name,
                          read_json)
from agent.run.lock import RunLockedError
from agent.learn.replay import ReplayFileError

from envs import CustomEnvError, UnknownEnvError
from envs.safety import CostFunctionError

PROG = "wm-agent"
# Config fields whose option name reads better shortened.
OPTION_NAMES = {"name": "env", "use_value": "value", "use_policy_prior": "policy-prior", "world_model": "model"}
# On --resume these may change; anything else would silently make a different run.
RESUMABLE_OVERRIDES = {"steps", "eval_every", "eval_episodes", "video_every", "checkpoint_every", "threads", "device"}
SECTIONS = {"env": EnvConfig, "model": ModelConfig, "learn": LearnConfig, "plan": PlanConfig}
# Checkpoints load as plain data (torch weights_only); this opt-in unpickles older ones, which can run code.
TRUST_HELP = ("read a checkpoint written before wm-agent's safe format (format 1) by unpickling it, which can "
              "run code from the file: only for checkpoints from a source you trust; a resumed run then "
              "writes its next checkpoint in the safe format")


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see '{self.prog} --help')")


def _option(name: str) -> str:
    return "--" + OPTION_NAMES.get(name, name).replace("_", "-")


def _add_field(group: argparse._ActionsContainer, f: dataclasses.Field) -> None:
    """The option of one config field; its default stays None = 'not given'."""
    # a None default is explained by the help itself ("not given = ...")
    help_text = f.metadata["help"] if f.default is None else f"{f.metadata['help']} (default: {f.default})"
    kwargs: dict[str, Any] = {"dest": f.name, "default": None, "help": help_text}
    if f.type in ("bool", bool, "bool | None"):
        kwargs["action"] = argparse.BooleanOptionalAction
    else:
        kwargs["type"] = {"int": int, "float": float, "str": str, "int | None": int}[str(f.type)]
        kwargs["metavar"] = str(f.type).split(" ")[0].upper()
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
            kwargs.pop("metavar")
    group.add_argument(_option(f.name), **kwargs)


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per config field, grouped by section."""
    run_group = parser.add_argument_group("run")
    for f in dataclasses.fields(RunConfig):
        if f.name not in SECTIONS:
            _add_field(run_group, f)
    for section, cls in SECTIONS.items():
        group = parser.add_argument_group(section)
        for f in dataclasses.fields(cls):
            _add_field(group, f)


def _plan_overrides(options: list[str]) -> dict[str, Any]:
    """Planner options after 'eval RUN --' (train's own flags, e.g. --prior-margin 5), as PlanConfig changes."""
    parser = argparse.ArgumentParser(prog=f"{PROG} eval RUN --", add_help=False, allow_abbrev=False,
                                     exit_on_error=False)
    for f in dataclasses.fields(PlanConfig):
        _add_field(parser, f)
    try:
        args, unknown = parser.parse_known_args(options)
    except argparse.ArgumentError as exc:
        raise UserError(f"eval: after '--': {exc}") from None
    if unknown:
        raise UserError(f"eval: after '--' only planner options are accepted (e.g. --prior-margin 5, --num-samples "
                        f"512; see 'wm-agent train --help', group plan), not {' '.join(unknown)}")
    return {name: value for name, value in vars(args).items() if value is not None}


def _given(args: argparse.Namespace) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(RunConfig) if f.name not in SECTIONS}
    for cls in SECTIONS.values():
        names |= {f.name for f in dataclasses.fields(cls)}
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def apply_overrides(cfg: RunConfig, values: dict[str, Any]) -> RunConfig:
    for name, value in values.items():
        target = cfg
        for section in SECTIONS:
            if name in {f.name for f in dataclasses.fields(SECTIONS[section])}:
                target = getattr(cfg, section)
        setattr(target, name, value)
    return cfg


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="Model-based RL on MuJoCo: latent world models planned with CEM/MPPI.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser, metavar="COMMAND")

    train = sub.add_parser("train", help="train an agent (or continue one with --resume)",
                           description="Train a world-model agent. Writes a run directory with config.json, "
                                       "episodes/, checkpoints/, train.log, eval.csv and TensorBoard event files. "
                                       "Ctrl-C or SIGTERM writes a checkpoint and exits with status 130 (continue "
                                       "with --resume); 0 means --steps was reached.")
    train.add_argument("--logdir", type=Path, default=Path("runs"), help="parent of the run directory (default: runs)")
    train.add_argument("--run-name", help="name of the run directory under --logdir (default: env-obs-planner-seed-time)")
    train.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    train.add_argument("--override", metavar="KEY[,KEY]", default="",
                       help="with --resume: config keys the given options may change (others are refused, "
                            "since they would silently make a different run); e.g. --override lr,utd")
    train.add_argument("--config", type=Path, metavar="FILE.json",
                       help="settings from a JSON file shaped like a run's config.json (any subset of it); "
                            "options on the command line override it")
    train.add_argument("--no-progress", action="store_true", help="no progress bar (for logs and CI)")
    train.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    _add_config_options(train)

    ev = sub.add_parser("eval", help="evaluate a run directory or a checkpoint file, or a whole suite",
                        description="Evaluate a trained agent without exploration noise; prints returns and "
                                    "writes eval_<steps>.json next to the checkpoint's run. With --suite: train "
                                    "and evaluate every task and seed of a suite (rerun to continue it); with "
                                    "--runs: summarise existing runs. Extra train options go after '--': with --suite, "
                                    "for every run; with a run, its planner options (e.g. -- --prior-margin 5 "
                                    "--num-samples 512) change how it plans, not what it learned.")
    ev.add_argument("path", type=Path, nargs="?", help="run directory (uses its newest checkpoint) or checkpoint file")
    ev.add_argument("--episodes", type=int, default=10, help="episodes to run (default: 10)")
    ev.add_argument("--seed", type=int, default=0, help="seed of the evaluation episodes (default: 0)")
    ev.add_argument("--device", default="auto",
                    help="torch device to evaluate on, whatever the run was trained on: 'auto' (CUDA when this "
                         "machine has it), 'cpu', 'cuda' or 'cuda:N' (default: auto)")
    ev.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    _add_suite_options(ev)

    sub.add_parser("suites", help="list benchmark suites and their tasks",
                   description="List the suites 'wm-agent eval --suite' accepts, with their tasks.")

    sub.add_parser("envs", help="list environment names and aliases",
                   description="List every environment name the agent accepts, grouped by suite, and the aliases.")
    return parser


def _add_suite_options(ev: argparse.ArgumentParser) -> None:
    from agent.suite.command import default_jobs

    group = ev.add_argument_group("suite (see 'wm-agent suites')")
    group.add_argument("--suite", metavar="NAME", help="train and evaluate every task of this suite")
    group.add_argument("--tasks", metavar="T1,T2", help="only these tasks of the suite (comma-separated)")
    group.add_argument("--seeds", type=int, default=2, metavar="N", help="seeds 1..N per task (default: 2)")
    group.add_argument("--steps", type=int, default=100_000, help="env steps per run (default: 100000)")
    group.add_argument("--jobs", type=int, default=default_jobs(),
                       help=f"runs trained at once, one torch thread each (default: one per core, {default_jobs()})")
    group.add_argument("--suite-dir", type=Path, metavar="DIR",
                       help="runs, logs, results, plots and summary (default: runs/suites/NAME)")
    group.add_argument("--ray", metavar="ADDRESS", help="run each task and seed as a task on this Ray cluster "
                                                        "(e.g. 127.0.0.1:6379 or auto); needs the 'ray' extra")
    group.add_argument("--runs", type=Path, metavar="DIR", help="summarise the runs found under DIR (no training); "
                                                                "with --suite, only that suite's tasks")
    group.add_argument("--no-progress", action="store_true", help="no progress bars")


def cmd_train(args: argparse.Namespace) -> int:
    from agent.run.runtime import pick_device

    given = _given(args)
    if args.override and args.resume is None:
        raise UserError(f"--override {args.override}: only with --resume (a new run takes any option)")
    if args.resume is not None:
        run_dir = args.resume
        if args.config is not None:
            raise UserError(f"--config {args.config} with --resume: a resumed run keeps its {CONFIG_FILE}; "
                            "change values with options and --override KEY")
        if not (run_dir / CONFIG_FILE).is_file():
            raise UserError(f"--resume {run_dir}: not a run directory (no {CONFIG_FILE} in it); expected a "
                            "directory written by 'wm-agent train'")
        cfg = RunConfig.load(run_dir / CONFIG_FILE)
        changes = _resume_changes(cfg, given, _override_keys(args.override))
        apply_overrides(cfg, given).validate()
        try:
            pick_device(cfg.device)
        except ConfigError as exc:  # e.g. a run trained on a GPU machine, resumed on a laptop
            raise UserError(f"--resume {run_dir}: {exc}; to continue it on this machine's CPU add "
                            "--override device --device cpu") from None
        return start_training(cfg, run_dir, logdir=None, progress=not args.no_progress,
                              trust_checkpoint=args.trust_checkpoint, changes=changes)
    base = _read_config_file(args.config) if args.config is not None else RunConfig()
    cfg = apply_overrides(base, given).validate()
    run_dir = new_run_directory(cfg, args.logdir, args.run_name)
    return start_training(cfg, run_dir, logdir=args.logdir, progress=not args.no_progress,
                          trust_checkpoint=args.trust_checkpoint)


def _read_config_file(path: Path) -> RunConfig:
    try:
        return RunConfig.from_dict(read_json(path))
    except ConfigError as exc:
        raise UserError(f"--config {path}: {exc}") from None


def _override_keys(text: str) -> set[str]:
    """``lr,plan-horizon`` -> {"lr", "plan_horizon"}; option spellings and config names both work."""
    fields = {f.name for cls in SECTIONS.values() for f in dataclasses.fields(cls)}
    fields |= {f.name for f in dataclasses.fields(RunConfig) if f.name not in SECTIONS}
    by_option = {_option(name)[2:]: name for name in fields}
    keys = set()
    for word in filter(None, (w.strip() for w in text.split(","))):
        key = by_option.get(word, word.replace("-", "_"))
        if key not in fields:
            raise UserError(f"--override {word}: not a config key; expected config keys such as "
                            f"lr, utd, plan_horizon (see 'wm-agent train --help')")
        keys.add(key)
    return keys


def _resume_changes(cfg: RunConfig, given: dict[str, Any], overrides: set[str]) -> list[str]:
    """'key: old -> new' for each changed value; refuses changes that neither may change nor are overridden."""
    changed = {k: (getattr(getattr(cfg, _section_of(k), cfg), k), v) for k, v in given.items()}
    changed = {k: olds_news for k, olds_news in changed.items() if olds_news[0] != olds_news[1]}
    refused = sorted(k for k in changed if k not in RESUMABLE_OVERRIDES | overrides)
    if refused:
        what = ", ".join(f"{k} ({changed[k][0]!r} -> {changed[k][1]!r})" for k in refused)
        raise UserError(f"--resume keeps the run's config; cannot change {what} without --override "
                        f"{','.join(refused)} (may change without it: {', '.join(sorted(RESUMABLE_OVERRIDES))})")
    unused = sorted(overrides - set(changed))
    if unused:
        raise UserError(f"--override {','.join(unused)}: no option given changes it; give the new value too, "
                        f"e.g. {_option(unused[0])} VALUE")
    return [f"{k}: {old!r} -> {new!r}" for k, (old, new) in sorted(changed.items())]


def _section_of(name: str) -> str:
    for section, cls in SECTIONS.items():
        if name in {f.name for f in dataclasses.fields(cls)}:
            return section
    return ""


def cmd_eval(args: argparse.Namespace) -> int:
    from agent.run.evaluate import evaluate_checkpoint

    if args.suite or args.runs:
        return _cmd_eval_suite(args)
    if args.path is None:
        raise UserError("eval: expected a run directory, a checkpoint file, --suite NAME or --runs DIR")
    plan = _plan_overrides(args.train_args)
    if args.episodes < 1:
        raise UserError(f"--episodes {args.episodes}: expected an integer >= 1")
    if not 0 <= args.seed < 2**32:
        raise UserError(f"--seed {args.seed}: expected an integer in [0, 2**32)")
    if not is_device_name(args.device):
        raise UserError(f"--device {args.device}: expected 'auto', 'cpu', 'cuda' or 'cuda:N'")
    report = evaluate_checkpoint(args.path, args.episodes, args.seed, args.device, trust=args.trust_checkpoint,
                                 plan=plan)
    print(json.dumps(report, indent=2))
    return 0


def _cmd_eval_suite(args: argparse.Namespace) -> int:
    from agent.suite.command import SuiteOptions, SuiteUsageError, run_suite, summarise_runs
    from agent.suite.definitions import UnknownSuiteError, task_names

    if args.path is not None:
        raise UserError(f"eval {args.path}: give a run directory or checkpoint, or --suite/--runs, not both")
    tasks = task_names(args.tasks)
    try:
        if args.runs:
            return summarise_runs(args.runs, args.suite, args.suite_dir, tasks)
        return run_suite(SuiteOptions(args.suite, args.seeds, args.steps, args.jobs, args.suite_dir, tasks, args.ray,
                                      tuple(args.train_args), not args.no_progress, args.command_line))
    except (SuiteUsageError, UnknownSuiteError) as exc:
        raise UserError(str(exc)) from None


def cmd_suites(args: argparse.Namespace) -> int:
    from agent.suite.definitions import format_suite_list

    print(format_suite_list())
    return 0


def cmd_envs(args: argparse.Namespace) -> int:
    from envs import format_env_list

    print(format_env_list())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after '--' is passed through to each 'train' of a suite run.
    own, train_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    try:
        args = build_parser().parse_args(own)
        if train_args and args.command != "eval":
            raise UserError(f"unexpected arguments after '--': {' '.join(train_args)}")
        args.train_args, args.command_line = train_args, shlex.join([PROG, *argv])
        commands = {"train": cmd_train, "eval": cmd_eval, "envs": cmd_envs, "suites": cmd_suites}
        return commands[args.command](args)
    except UserError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except (ConfigError, CheckpointError, UnknownEnvError, CustomEnvError, CostFunctionError, RunLockedError,
            ReplayFileError) as exc:
        print(f"{PROG}: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
