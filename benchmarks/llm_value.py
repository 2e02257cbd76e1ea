"""Does the LLM channel earn its place? Eval return with proposers of known quality, early in training.

No model weights can be downloaded here, so the "language model" is a scripted planner of known
quality (``benchmarks/scripted_llm.py``) behind a local OpenAI-compatible chat server on
127.0.0.1 that this script starts and stops; it reads the real prompt the agent sends and
answers with JSON plans (and judge scores). The agent runs unchanged through the CLI::

    wm-agent train --env reacher-easy --proposer llm --llm-base-url http://127.0.0.1:PORT/v1 \\
        --llm-model scripted-informed ...

Variants (``--variants``): ``none`` (no proposer); ``informed``, ``noisy``, ``random``,
``adversarial`` (the proposer kinds); each of those with ``-judge`` (the same model also judges,
``--llm-judge-weight``); ``none-budget`` and ``adversarial-budget`` (``--safety-budget``: does
a proposer that drives into the safety limits add violations the budget lets through?).
Every (task, variant, seed) is one real ``wm-agent train`` run in
``<runs>/<task>/<variant>/seed<k>``, trained in stages: to each of ``--stages`` env steps
(default 2k, 5k, 10k) in turn, all runs to one stage before any goes on to the next, with
the trainer's evaluation at the end of each stage (``--eval-every`` is set beyond reach: the
evaluations are exactly the stage ends). Rerunning the same command resumes every run from
its checkpoint (the server's new port is passed with ``--override llm_base_url``); a run
that already has its evaluation at a stage is skipped; ``--report-only`` prints the table
from what exists. ``--parallel N`` trains N runs at once (cores/N torch threads each).

Settings, and why: ``--seed-steps 500`` (one random episode instead of the default 2,500, during
which no proposer acts; proposals are meant to matter early, where the model is weak; keep it a
multiple of the 500-step episode: the trainer pretrains at an episode's end, so the steps between
the seed steps and that end plan with an untrained model);
``--eval-episodes 5``; no videos; a checkpoint every 1,000 env steps (an interrupted sitting loses
at most that). The LLM options are the agent's defaults (a request every 10 steps for 4 plans of
10 steps, deadline 0: an answer serves from the step after it was asked for, shifted), so the
measurement is of the channel as users run it. The judge's weight is 0.5, the budget 0.3 (chance).

Reported per task and variant, over seeds: eval return at each stage (mean, population sd,
each seed in the JSON), the change against ``none`` (the budget variants against ``none-budget``)
at ``--verdict-step``, eval violations per episode (``eval_safety.csv``), and the TensorBoard
scalars ``llm/in_elites_rate``, ``llm/chosen_rate`` and ``llm/elite_weight_mean`` (per plan made
with LLM candidates: one was among the elites / was the elite acted on / their share of the elite
weights, i.e. how far they move the mean plan; counters restart with each sitting, so each stage's
value is over the sitting that ended there, normally that stage).
``--final-episodes N`` then evaluates every run's checkpoint at ``--verdict-step`` on N episodes with the
same reset seeds for all runs (5 trainer episodes are a noisy verdict), in two ways for LLM runs: the
planner alone (``--no-llm-follow-eval``: proposals only compete in its ranking, so this shows what acting on
proposals while training did to the model) and as the agent acts by default (on the plans of a proposer
that proved itself while training, ``planners/llm/follow.py``); written as ``final_eval_<step>_<mode>_<N>ep.json``
in the run directory and tabled beside the stages.
Verdicts (the issue's targets): with spread = the larger population sd over seeds of the two
variants compared, ``raises``/``lowers`` when the mean changes by more than the spread,
``within spread`` otherwise; for violations the same with their own spread.

    python benchmarks/llm_value.py --parallel 2                       # reacher-easy, 11 variants x 3 seeds
    python benchmarks/llm_value.py --tasks reacher-easy cartpole-swingup --parallel 2
    python benchmarks/llm_value.py --report-only

Machine time, reacher-easy, default model sizes, the 11 variants x 3 seeds = 33 runs: each run is
500 random steps, 1,000 pretraining updates, 9,500 planned steps with one update each and
3 x 5 x 500 = 7,500 evaluation actions. At ~0.35 s per training step and ~0.13 s per evaluation
action (this 2-core machine while shared) that is ~1.3 h per run, **~42 h** in all; at the idle
machine's 84 ms / 32 ms (``results/learning_reacher-easy-state-full.md``) ~0.3 h per run, ~10 h.
The scripted server costs ~10 ms per answer, one answer per 10 steps. Smoke test of the pipeline
(tiny model, 2 sittings, 1,000 env steps, the port changing between them)::

    python benchmarks/llm_value.py --variants informed-judge --seeds 1 --stages 500 1000 --verdict-step 500 \
        --seed-steps 250 --eval-episodes 1 --runs /tmp/smoke/runs --out /tmp/smoke/out -- --latent-dim 16 \
        --hidden-dim 32 --num-samples 32 --num-elites 4 --iterations 2 --num-policy-samples 4 --batch-size 16 \
        --pretrain-updates 5
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import multiprocessing
import json
import os
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.scripted_llm import KINDS, MODEL_PREFIX, ScriptedLLMServer  # noqa: E402
from benchmarks.train_runs import TrainRun, threads_per_run, train_all, training_command  # noqa: E402
from agent.config import PlanConfig  # noqa: E402
from agent.layout import CONFIG_FILE, EVAL_CSV, EVAL_SAFETY_CSV  # noqa: E402
from planners.llm.proposer import AGE_BUCKET_LAST  # noqa: E402

NEVER = 10**9  # --eval-every: no periodic evaluation, only the one at each stage's end
LLM_TAGS = ("in_elites_rate", "chosen_rate", "elite_weight_mean", "requests", "answers", "plans_with_candidates",
            "judge_verdicts", "judge_overruled",
            # acting on proposals while training (planners/llm/follow.py): the share after the reward check
            "follow_share", "follow_segments", "follow_steps", "follow_reward_mean", "own_reward_mean", "follow_noise",
            # by the answer's age in steps (planners/llm/proposer.py): in the json, to see whether plans go stale
            *(f"in_elites_rate_age{age}" for age in range(AGE_BUCKET_LAST + 1)))


@dataclass(frozen=True)
class Variant:
    name: str
    kind: str | None  # scripted proposer kind, None = no proposer
    judge: bool = False
    budget: bool = False

    @property
    def baseline(self) -> str:
        return "none-budget" if self.budget else "none"


VARIANTS = {v.name: v for v in [
    Variant("none", None),
    *(Variant(k, k) for k in KINDS),
    *(Variant(f"{k}-judge", k, judge=True) for k in KINDS),
    Variant("none-budget", None, budget=True),
    Variant("adversarial-budget", "adversarial", budget=True),
]}


def run_options(variant: Variant, args: argparse.Namespace, base_url: str) -> list[str]:
    """'wm-agent train' options of a new run of ``variant``."""
    options = ["--seed-steps", str(args.seed_steps), "--eval-every", str(NEVER), "--eval-episodes",
               str(args.eval_episodes), "--video-every", "0", "--checkpoint-every", "1000"]
    if variant.kind is not None:
        options += ["--proposer", "llm", "--llm-base-url", base_url, "--llm-model", MODEL_PREFIX + variant.kind,
                    "--llm-follow", str(args.follow)]
    if variant.judge:
        options += ["--llm-judge-weight", str(args.judge_weight)]
    if variant.budget:
        options += ["--safety-budget", str(args.budget)]
    return options + list(args.train_args)


def expected_config(variant: Variant, args: argparse.Namespace, task: str, seed: int) -> dict[str, object]:
    """Config values a run of ``variant`` must have: an existing run with others is another experiment."""
    expected = {"env.name": task, "seed": seed, "seed_steps": args.seed_steps,
                "plan.proposer": "none" if variant.kind is None else "llm",
                "plan.llm_judge_weight": args.judge_weight if variant.judge else 0.0,
                "plan.safety_budget": args.budget if variant.budget else -1.0}
    if variant.kind is not None:
        expected["plan.llm_model"] = MODEL_PREFIX + variant.kind
        expected["plan.llm_follow"] = args.follow
    return expected


def config_value(config: dict, key: str) -> object:
    value: object = config
    for part in key.split("."):
        value = value[part]  # type: ignore[index]
    return value


def check_config(run_dir: Path, expected: dict[str, object]) -> dict | None:
    """The run's config.json (None for a new run); exits when it was started with other settings."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return None
    config = json.loads(path.read_text())
    wrong = [f"{k}={config_value(config, k)!r} (wanted {v!r})" for k, v in expected.items()
             if config_value(config, k) != v]
    if wrong:
        raise SystemExit(f"{run_dir} was started with other settings: {', '.join(wrong)}; move it aside to "
                         f"start it again, or use another --runs")
    return config


def resume_options(config: dict | None, base_url: str) -> list[str]:
    """A resumed LLM run talks to this sitting's server (a new port each time)."""
    if config is None or config["plan"]["proposer"] != "llm" or config["plan"]["llm_base_url"] == base_url:
        return []
    return ["--llm-base-url", base_url, "--override", "llm_base_url"]


# ------------------------------------------------------------------ reading the runs

def read_csv(path: Path) -> dict[int, dict[str, float]]:
    """eval.csv or eval_safety.csv as env steps -> row (empty before the first evaluation)."""
    if not path.is_file():
        return {}
    with open(path) as f:
        return {int(float(r["env_steps"])): {k: float(v) for k, v in r.items()} for r in csv.DictReader(f)}


def llm_scalars(run_dir: Path, stages: list[int]) -> dict[int, dict[str, float]]:
    """Per stage, the last value of each ``llm/`` scalar logged in (previous stage, stage]."""
    if not any(run_dir.glob("events.out.tfevents.*")):
        return {}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 1, "tensors": 1})
    ea.Reload()
    tags = set(ea.Tags()["scalars"])
    out: dict[int, dict[str, float]] = {}
    for previous, stage in zip([0, *stages], stages):
        values = {}
        for name in LLM_TAGS:
            if f"llm/{name}" in tags:
                events = [e for e in ea.Scalars(f"llm/{name}") if previous < e.step <= stage]
                if events:
                    values[name] = float(events[-1].value)
        if values:
            out[stage] = values
    return out


def read_run(run_dir: Path, stages: list[int], final_step: int = 0, final_episodes: int = 0) -> dict[str, dict]:
    evals, safety = read_csv(run_dir / EVAL_CSV), read_csv(run_dir / EVAL_SAFETY_CSV)
    return {"return": {s: evals[s]["return_mean"] for s in stages if s in evals},
            "wall_seconds": {s: evals[s]["wall_seconds"] for s in stages if s in evals},
            "violations": {s: safety[s]["episode_cost_mean"] for s in stages if s in safety},
            # rates only for stages evaluated: a stage still running has logged part of its sitting
            "llm": {s: v for s, v in llm_scalars(run_dir, stages).items() if s in evals},
            "final": read_final(run_dir, final_step, final_episodes) if final_episodes else {}}


# ------------------------------------------------------------------ the final evaluation

FINAL_SEED = 0  # eval seed of the final evaluations: the same reset seeds (targets) for every run and mode
# How the final evaluation of an LLM run acts: "alone" = the planner ranks the proposals with its own samples
# (--no-llm-follow-eval); "follow" = the agent's default: it acts on a proposer that has proven itself while
# training, and does not ask one disproven there.
FINAL_MODES = {"alone": {"llm_follow_eval": False}, "follow": {}}


def final_eval_path(run_dir: Path, step: int, mode: str, episodes: int) -> Path:
    return run_dir / f"final_eval_{step}_{mode}_{episodes}ep.json"


def write_final(run_dir: Path, step: int, mode: str, episodes: int, result: dict) -> None:
    final_eval_path(run_dir, step, mode, episodes).write_text(json.dumps(result, indent=1) + "\n")


def final_evaluate(run_dir: str, step: int, mode: str, episodes: int, base_url: str, threads: int) -> dict:
    """Evaluate ``run_dir``'s checkpoint at ``step`` (``episodes`` episodes, eval seed FINAL_SEED) and write the
    result beside it; LLM runs ask this sitting's server."""
    from agent.run.checkpoint import checkpoint_path
    from agent.run.evaluate import evaluate_restored

    run = Path(run_dir)
    config = json.loads((run / CONFIG_FILE).read_text())
    plan: dict[str, object] = {}
    if config["plan"]["proposer"] == "llm":
        plan = {"llm_base_url": base_url, **FINAL_MODES[mode]}
    done = evaluate_restored(checkpoint_path(run / "checkpoints", step), episodes, FINAL_SEED, "cpu", plan=plan,
                             with_llm=True, threads=threads)
    result = {"env_steps": done.env_steps, "mode": mode, "episodes": episodes, "seed": FINAL_SEED,
              "returns": [float(r) for r in done.result.returns], "return_mean": float(done.result.mean),
              "violations": [float(c) for c in (done.result.costs or [])], **done.plan_stats}
    write_final(run, step, mode, episodes, result)
    return result


def final_evaluations(paths: list[tuple[Path, bool]], step: int, episodes: int, base_url: str, parallel: int) -> None:
    """The missing final evaluations of (run, is an LLM run) at ``step``, ``parallel`` at once.

    An LLM run is evaluated as the agent acts by default first; when its proposer was neither proven nor
    disproven, the agent acted exactly as with --no-llm-follow-eval (the follower draws nothing and changes
    nothing; same seeds), so that result is written for both modes, marked, instead of running the same
    episodes twice."""
    def missing(path: Path, mode: str) -> bool:
        return not final_eval_path(path, step, mode, episodes).is_file()

    ready = [(path, llm) for path, llm in paths if (path / EVAL_CSV).is_file() and step in read_csv(path / EVAL_CSV)]
    jobs = [(str(path), "follow" if llm and missing(path, "follow") else "alone") for path, llm in ready
            if missing(path, "alone") or (llm and missing(path, "follow"))]
    if not jobs:
        return
    print(f"final evaluations at {step}: {len(jobs)} runs ({episodes} episodes each)", flush=True)
    context = multiprocessing.get_context("spawn")  # no forked copies of torch's thread pools
    with concurrent.futures.ProcessPoolExecutor(parallel, mp_context=context) as pool:
        def submit(path: str, mode: str) -> concurrent.futures.Future:
            future = pool.submit(final_evaluate, path, step, mode, episodes, base_url, threads_per_run(parallel))
            pending[future] = (path, mode)
            return future

        pending: dict[concurrent.futures.Future, tuple[str, str]] = {}
        for path, mode in jobs:
            submit(path, mode)
        while pending:
            done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                path, mode = pending.pop(future)
                result = future.result()
                print(f"  {path} {mode}: {result['return_mean']:.1f}", flush=True)
                if mode == "follow" and missing(Path(path), "alone"):
                    if result.get("llm_follow_proven", 0.0) > 0 or result.get("llm_follow_disproven", 0.0) > 0:
                        submit(path, "alone")
                    else:
                        write_final(Path(path), step, "alone", episodes, {
                            **result, "mode": "alone", "same_as": "follow (proposer neither proven nor disproven)"})


def read_final(run_dir: Path, step: int, episodes: int) -> dict[str, dict]:
    out = {}
    for mode in FINAL_MODES:
        path = final_eval_path(run_dir, step, mode, episodes)
        if path.is_file():
            out[mode] = json.loads(path.read_text())
    return out


# ------------------------------------------------------------------ the table

def stats(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"mean": None, "sd": None, "n": 0}
    return {"mean": round(statistics.fmean(values), 1), "sd": round(statistics.pstdev(values), 1), "n": len(values)}


def compare(variant: dict, baseline: dict) -> str:
    """'raises' / 'lowers' / 'within spread' of ``variant`` against ``baseline`` (``stats`` dicts)."""
    if not variant["n"] or not baseline["n"]:
        return "pending"
    delta, spread = variant["mean"] - baseline["mean"], max(variant["sd"], baseline["sd"])
    word = "raises" if delta > spread else "lowers" if delta < -spread else "within spread"
    return f"{word} ({delta:+.1f}, spread {spread:.1f})"


def summarise(runs: dict[str, dict[int, dict]], stages: list[int], verdict_step: int) -> list[dict]:
    """One row per variant: per-stage return and violation stats, LLM rates, and the verdicts at ``verdict_step``."""
    rows = []
    for name, seeds in runs.items():
        row: dict = {"variant": name, "seeds": sorted(seeds)}
        for stage in stages:
            row[f"return_{stage}"] = stats([r["return"][stage] for r in seeds.values() if stage in r["return"]])
            row[f"violations_{stage}"] = stats([r["violations"][stage] for r in seeds.values()
                                                if stage in r["violations"]])
            for rate in ("in_elites_rate", "chosen_rate", "elite_weight_mean", "follow_share"):
                values = [r["llm"][stage][rate] for r in seeds.values() if rate in r["llm"].get(stage, {})]
                row[f"{rate}_{stage}"] = round(statistics.fmean(values), 3) if values else None
        for mode in FINAL_MODES:
            finals = [r["final"][mode] for r in seeds.values() if mode in r.get("final", {})]
            row[f"final_{mode}"] = stats([f["return_mean"] for f in finals])
            row[f"final_{mode}_violations"] = stats([statistics.fmean(f["violations"]) for f in finals
                                                     if f.get("violations")])
        for verdict in ("proven", "disproven"):
            row[f"final_{verdict}"] = sum(r["final"]["follow"].get(f"llm_follow_{verdict}", 0.0) > 0
                                          for r in seeds.values() if "follow" in r.get("final", {}))
        row["per_seed"] = {seed: {"return": r["return"], "violations": r["violations"], "llm": r["llm"],
                                  "final": r.get("final", {})} for seed, r in seeds.items()}
        rows.append(row)
    by_name = {r["variant"]: r for r in rows}
    for row in rows:
        base = by_name.get(VARIANTS[row["variant"]].baseline)
        if base is row:
            row["vs_baseline"] = row["violations_vs_baseline"] = ""
            row["final_alone_vs_baseline"] = row["final_follow_vs_baseline"] = row["final_violations_vs_baseline"] = ""
            continue
        if base is None:
            row["vs_baseline"] = row["violations_vs_baseline"] = f"no {VARIANTS[row['variant']].baseline} runs"
            row["final_alone_vs_baseline"] = row["final_follow_vs_baseline"] = row["vs_baseline"]
            row["final_violations_vs_baseline"] = row["vs_baseline"]
            continue
        key, vkey = f"return_{verdict_step}", f"violations_{verdict_step}"
        for mode in FINAL_MODES:  # against the baseline's planner alone (it has no proposer to follow)
            row[f"final_{mode}_vs_baseline"] = compare(row[f"final_{mode}"], base["final_alone"])
        row["final_violations_vs_baseline"] = compare(row[f"final_{acting_mode(row)}_violations"],
                                                      base["final_alone_violations"])
        row["vs_baseline"] = compare(row[key], base[key]) if key in row else "pending"
        row["violations_vs_baseline"] = compare(row[vkey], base[vkey]) if vkey in row else "pending"
    return rows


def _cell(s: dict) -> str:
    return "-" if not s["n"] else f"{s['mean']} ± {s['sd']}" + ("" if s["n"] == 3 else f" (n={s['n']})")


def _rates(row: dict, rate: str, stages: list[int]) -> str:
    values = [row.get(f"{rate}_{s}") for s in stages]
    return "-" if all(v is None for v in values) else " / ".join("-" if v is None else f"{v:.0%}" for v in values)


def markdown(rows: list[dict], stages: list[int], verdict_step: int) -> str:
    header = ["variant", *[f"return @{s}" for s in stages], f"vs baseline @{verdict_step}",
              f"violations/ep @{verdict_step}", "violations vs baseline", "LLM plan in elites", "LLM plan chosen",
              "LLM elite weight", "follow share"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [r["variant"], *[_cell(r[f"return_{s}"]) for s in stages], r["vs_baseline"] or "(baseline)",
                 _cell(r.get(f"violations_{verdict_step}", {"n": 0})), r["violations_vs_baseline"] or "(baseline)",
                 _rates(r, "in_elites_rate", stages), _rates(r, "chosen_rate", stages),
                 _rates(r, "elite_weight_mean", stages), _rates(r, "follow_share", stages)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def acting_mode(row: dict) -> str:
    """The final evaluation that is the agent as it acts by default: 'follow' for LLM runs, else 'alone'."""
    return "follow" if VARIANTS[row["variant"]].kind is not None else "alone"


def final_markdown(rows: list[dict], step: int, episodes: int) -> str:
    """The final evaluations: the planner alone, and acting on a proposer proven while training."""
    header = ["variant", f"planner alone @{step}", "vs baseline", f"as the agent acts @{step}",
              "vs baseline", "violations/ep as it acts", "violations vs baseline", "proposer proven / disproven (seeds)"]
    lines = [f"Final evaluation: {episodes} episodes per run on the same reset seeds (eval seed {FINAL_SEED}) for "
             f"every run, of each run's checkpoint at {step} env steps; the baseline is `none` (`none-budget`). "
             f"Planner alone: `--no-llm-follow-eval` (the proposals compete in the planner's ranking). As the agent "
             f"acts (its default): on the plans of a proposer proven while training, without one disproven there, "
             f"else as the planner alone. Violations: eval steps over the safety limits per episode (mean per run), "
             f"as the agent acts, against the baseline's.\n",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        llm = acting_mode(r) == "follow"
        lines.append("| " + " | ".join([
            r["variant"], _cell(r["final_alone"]), r["final_alone_vs_baseline"] or "(baseline)",
            _cell(r["final_follow"]) if llm else "-", (r["final_follow_vs_baseline"] or "(baseline)") if llm else "-",
            _cell(r[f"final_{acting_mode(r)}_violations"]), r["final_violations_vs_baseline"] or "(baseline)",
            f"{r['final_proven']} / {r['final_disproven']} of {r['final_follow']['n']}"
            if llm and r["final_follow"]["n"] else "-"]) + " |")
    return "\n".join(lines)


def status(rows: list[dict], stages: list[int], seeds: list[int]) -> str:
    missing = [f"{r['variant']} @{s}" for r in rows for s in stages if r[f"return_{s}"]["n"] < len(seeds)]
    return "complete" if not missing else f"partial (rerun the command to resume): missing seeds at {', '.join(missing[:8])}" + (
        f" and {len(missing) - 8} more" if len(missing) > 8 else "")


# ------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["reacher-easy"], help="dm_control tasks the scripted "
                        "proposers know: reacher-*, cartpole-* (default: reacher-easy)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--stages", type=int, nargs="+", default=[2000, 5000, 10000],
                        help="env steps at which every run is evaluated (it trains to each in turn)")
    parser.add_argument("--verdict-step", type=int, default=5000, help="stage the verdicts compare at (default 5000)")
    parser.add_argument("--seed-steps", type=int, default=500, help="random env steps before the agent (and the "
                        "proposer) acts (default: 500, one reacher episode; the trainer's default is 2500)")
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument("--judge-weight", type=float, default=0.5, help="--llm-judge-weight of the -judge variants")
    parser.add_argument("--follow", type=float, default=PlanConfig().llm_follow, help="--llm-follow of the LLM "
                        "variants (default: the agent's, %(default)s); 0 = proposals only compete in the planner")
    parser.add_argument("--budget", type=float, default=0.3, help="--safety-budget of the -budget variants")
    parser.add_argument("--parallel", type=int, default=1, help="runs trained at once (cores/N torch threads each)")
    parser.add_argument("--max-hours", type=float, default=72.0, help="the chat server stops after this long at the "
                        "latest (it stops when this script ends anyway)")
    parser.add_argument("--runs", type=Path, default=ROOT / "benchmarks" / "runs" / "llm_value")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="where llm_value.md/.json go")
    parser.add_argument("--final-episodes", type=int, default=0, help="after training, evaluate every run's "
                        "checkpoint at --verdict-step on this many episodes, the same reset seeds for all, LLM runs "
                        "with the planner alone and acting on a proven proposer (default 0: none)")
    parser.add_argument("--report-only", action="store_true", help="only print and write the table of what exists")
    parser.add_argument("train_args", nargs="*", help="extra 'wm-agent train' options of new runs, after --")
    args = parser.parse_args(argv)
    stages = sorted(set(args.stages))
    if args.verdict_step not in stages:
        parser.error(f"--verdict-step {args.verdict_step} is not one of --stages {stages}")
    variants = [VARIANTS[v] for v in args.variants]

    def run_dir(task: str, variant: Variant, seed: int) -> Path:
        return args.runs / task / variant.name / f"seed{seed}"

    server_counts: dict[str, int] = {}
    if not args.report_only:
        with ScriptedLLMServer(max_seconds=3600 * args.max_hours) as server:
            for stage in stages:  # stage-major: every sitting leaves whole columns of the table
                todo = []
                for task in args.tasks:
                    for seed in args.seeds:
                        for variant in variants:
                            path = run_dir(task, variant, seed)
                            config = check_config(path, expected_config(variant, args, task, seed))
                            done = read_csv(path / EVAL_CSV)
                            if stage in done or (done and max(done) > stage):
                                continue  # evaluated there already (or past it: cannot go back)
                            todo.append(TrainRun(path, task, seed, run_options(variant, args, server.base_url),
                                                 resume_options(config, server.base_url)))
                if todo:
                    print(f"stage {stage}: {len(todo)} runs", flush=True)
                    train_all(todo, stage, args.parallel)
            if args.final_episodes > 0:
                final_evaluations([(run_dir(t, v, s), v.kind is not None) for t in args.tasks for v in variants
                                   for s in args.seeds], args.verdict_step, args.final_episodes, server.base_url,
                                  args.parallel)
            server_counts = dict(server.counts)

    previous = args.out / "llm_value.json"
    results = {"command": training_command(__file__, sys.argv[1:] if argv is None else argv), "stages": stages,
               "seeds": args.seeds, "verdict_step": args.verdict_step, "seed_steps": args.seed_steps,
               "eval_episodes": args.eval_episodes, "judge_weight": args.judge_weight, "budget": args.budget,
               "follow": args.follow, "final_episodes": args.final_episodes,
               "parallel": args.parallel, "threads_per_run": threads_per_run(args.parallel),
               "train_args": args.train_args, "server_counts_last_sitting": server_counts, "tasks": {}}
    if args.report_only and previous.is_file():  # a table regenerated without training keeps how the runs were made
        before = json.loads(previous.read_text())
        results.update({k: before[k] for k in ("command", "seed_steps", "eval_episodes", "judge_weight", "budget", "follow",
                                                "parallel", "threads_per_run", "train_args", "server_counts_last_sitting")
                        if k in before})
    text = ["# LLM proposers of known quality: does the channel help, and do bad ones cost nothing?\n",
            f"Command: `{results['command']}`\n", _setup_note(results)]
    for task in args.tasks:
        runs = {v.name: {s: read_run(run_dir(task, v, s), stages, args.verdict_step, args.final_episodes)
                         for s in args.seeds} for v in variants}
        rows = summarise(runs, stages, args.verdict_step)
        wall = [r["wall_seconds"][max(r["wall_seconds"])] for seeds in runs.values() for r in seeds.values()
                if r["wall_seconds"]]
        table = markdown(rows, stages, args.verdict_step)
        print(f"{task}\n{table}")
        results["tasks"][task] = {"status": status(rows, stages, args.seeds), "rows": rows,
                                  "wall_hours_summed": round(sum(wall) / 3600, 2)}
        text += [f"## {task}\n", f"**Status: {results['tasks'][task]['status']}.** Training wall-clock summed "
                 f"over runs: {sum(wall) / 3600:.1f} h.\n", table, ""]
        if args.final_episodes > 0:
            final = final_markdown(rows, args.verdict_step, args.final_episodes)
            print(final)
            text += [final, ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "llm_value.md").write_text("\n".join(text) + "\n")
    (args.out / "llm_value.json").write_text(json.dumps(results, indent=2) + "\n")


def _setup_note(results: dict) -> str:
    return (f"Each cell: eval return (mean ± population sd over seeds {results['seeds']}, {results['eval_episodes']} "
            f"evaluation episodes each, no exploration noise) at the env steps shown; runs trained in stages to "
            f"{', '.join(map(str, results['stages']))} env steps with `--seed-steps {results['seed_steps']}`, "
            f"{results['parallel']} at once on a {os.cpu_count()}-core machine with {results['threads_per_run']} torch "
            f"thread(s) each; extra options: `{' '.join(results['train_args']) or 'none'}`. Proposers are the scripted "
            f"models of `benchmarks/scripted_llm.py` behind a local OpenAI-compatible server, with the agent's default "
            f"LLM options and `--llm-follow {results.get('follow', 0.0)}` (the share of answers acted on while "
            f"training); `-judge`: the same model judges with `--llm-judge-weight {results['judge_weight']}`; `-budget`: "
            f"`--safety-budget {results['budget']}`, compared with `none-budget`. `vs baseline`: the change in mean "
            f"return against `none` (or `none-budget`) at that step, `raises`/`lowers` when it exceeds the spread (the "
            f"larger population sd of the two), else `within spread`; violations (eval steps over the safety limits per "
            f"episode) compared the same way. LLM plan in elites / chosen / elite weight: `llm/in_elites_rate` / "
            f"`llm/chosen_rate` / `llm/elite_weight_mean` over each stage's sitting (per plan made with LLM candidates: "
            f"one was among the elites / was the elite acted on / their share of the elite weights, which is how far "
            f"they move the mean plan acted on in evaluation), mean over seeds, one value per stage; follow share: "
            f"`llm/follow_share` at the stage's end (`--llm-follow`, or a tenth of it while the followed steps earned "
            f"less reward than the agent's own).\n")


if __name__ == "__main__":
    main()
