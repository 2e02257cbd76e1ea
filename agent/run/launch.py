"""Starting a run: every check that can refuse it, then the Trainer. Shared by ``wm-agent train``
and the Python API (`agent.train`), so both refuse the same things in the same one line.

A refused or failed start leaves no run directory behind; a resumed run's config is written only
once the Trainer accepted its episodes and checkpoint, so a refused resume changes nothing on disk.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from agent.layout import CONFIG_FILE
from agent.config import RunConfig


class UserError(Exception):
    """Bad input from the user: reported as one line (the CLI exits with status 2)."""


def new_run_directory(cfg: RunConfig, logdir: Path, run_name: str | None = None) -> Path:
    """Check a new run's config against this machine and pick its directory (not yet created).

    Raises `UserError` (or the env's and config's own one-line errors) for anything that would fail later.
    """
    from agent.run.runtime import pick_device
    from agent.run.trainer import new_run_dir

    _check_env(cfg)
    pick_device(cfg.device)  # refuse 'cuda' without CUDA before a run directory exists
    if not run_name:
        return new_run_dir(logdir, cfg)
    _check_run_name(run_name)
    run_dir = logdir / run_name
    if run_dir.is_symlink():
        raise UserError(f"--run-name {run_name}: {run_dir} is a symlink; expected the name of a new directory")
    if run_dir.exists():
        raise UserError(f"--run-name {run_name}: {run_dir} exists; continue it with --resume {run_dir}")
    return run_dir


def start_training(cfg: RunConfig, run_dir: Path, *, logdir: Path | None, progress: bool = True,
                   trust_checkpoint: bool = False, changes: list[str] | None = None) -> int:
    """Train ``cfg`` in ``run_dir``: a new run when ``logdir`` is given (the directory is created under
    it), else a resume of ``run_dir``. Returns the Trainer's exit status."""
    from agent.run.trainer import Trainer

    resume = logdir is None
    _check_llm_extra(cfg)
    _check_pixel_rendering(cfg)
    # Every check that can refuse a new run is above: from here on this start owns the directory.
    created = [] if resume else _create_run_dir(run_dir, logdir)
    print(f"run directory: {run_dir}", flush=True)
    try:
        trainer = Trainer(cfg, run_dir, resume=resume, progress=progress, trust_checkpoint=trust_checkpoint)
    except BaseException as exc:
        _remove_created(created)  # a start that fails before training leaves no run directory behind
        if _out_of_memory(exc):
            raise UserError(f"cannot build the model (hidden_dim={cfg.model.hidden_dim}, latent_dim="
                            f"{cfg.model.latent_dim}, num_q={cfg.model.num_q}): out of memory; expected smaller "
                            "--hidden-dim, --latent-dim or --num-q") from None
        raise
    if resume:  # written only now, under the lock, once the run's episodes and checkpoint were accepted
        cfg.save(run_dir / CONFIG_FILE)
        if changes:
            from agent.run.logger import append_log

            append_log(run_dir, "resumed with a changed config: " + ", ".join(changes))
    return trainer.train()


def _check_run_name(name: str) -> None:
    """A plain directory name: anything else would put the run outside --logdir or through a link."""
    if name in ("", ".", "..") or any(c in name for c in ("/", "\\", "\0")):
        raise UserError(f"--run-name {name!r}: expected a plain directory name (no '/' or '\\', not '.' or '..'); "
                        "use --logdir for the parent directory")


def _create_run_dir(run_dir: Path, logdir: Path) -> list[Path]:
    """Create the run directory; returns the directories this made, deepest first."""
    missing, path = [], run_dir
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    try:
        run_dir.mkdir(parents=True)
    except OSError as exc:
        raise UserError(f"--logdir {logdir}: cannot create the run directory {run_dir} ({exc.strerror or exc}); "
                        "expected a writable directory") from None
    return missing


def _remove_created(created: list[Path]) -> None:
    """Remove the run directory this start made, and parents it made only if they stayed empty
    (a parallel run may have started in a shared --logdir meanwhile)."""
    if created:
        shutil.rmtree(created[0], ignore_errors=True)
    for parent in created[1:]:
        try:
            parent.rmdir()
        except OSError:
            break


def _out_of_memory(exc: BaseException) -> bool:
    """An allocation that failed (torch raises RuntimeError on CPU, OutOfMemoryError on CUDA)."""
    return isinstance(exc, MemoryError) or isinstance(exc, RuntimeError) and (
        "can't allocate memory" in str(exc) or "out of memory" in str(exc).lower())



def _check_env(cfg: RunConfig) -> None:
    """The env exists, and a custom one (or a custom safety cost) is usable, before a run directory exists."""
    from envs import make_env, resolve_env_name
    from envs.safety import load_cost_function

    spec = resolve_env_name(cfg.env.name)  # raises UnknownEnvError with the closest names
    if cfg.env.safety_cost:
        load_cost_function(cfg.env.safety_cost)
    if spec.suite != "custom":
        return
    if cfg.learns_safety and not (cfg.env.safety_cost or cfg.env.safety_limits):
        raise UserError(f"--env {cfg.env.name}: a safety head or --safety-budget needs a safety cost, and a custom "
                        "env has none of its own; expected --safety-cost module:function (or --safety-limits on a "
                        "MuJoCo env)")
    make_env(cfg.env.name, obs=cfg.env_obs_mode, action_repeat=cfg.env.action_repeat or None,
             image_size=cfg.env.image_size, safety=cfg.env.safety()).close()  # spaces, time limit, rendering


def _check_pixel_rendering(cfg: RunConfig) -> None:
    """Pixel observations cannot fall back to proprioception (the model reads frames), so a
    renderer that cannot start is refused up front, in one line, before a run directory exists."""
    if cfg.env.obs != "pixels":
        return
    from envs import make_env

    env = make_env(cfg.env.name, obs="state", action_repeat=cfg.env.action_repeat or None,
                   image_size=cfg.env.image_size)
    try:
        env.reset(seed=0)
        env.render()
    except Exception as exc:  # noqa: BLE001 - GL backends fail with many exception types
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise UserError(f"--obs pixels: cannot render with MUJOCO_GL={os.environ.get('MUJOCO_GL', '')!r} ({reason}); "
                        "accepted: MUJOCO_GL=egl (headless), osmesa (software) or glfw (a display), "
                        "or train from proprioception with --obs state") from None
    finally:
        env.close()


def _check_llm_extra(cfg: RunConfig) -> None:
    """Refuse --llm-backend transformers up front without its package or model directory."""
    if cfg.plan.proposer == "llm" and cfg.plan.llm_backend == "transformers":
        from planners.llm import MissingExtraError, require_transformers

        try:
            require_transformers()
        except MissingExtraError as exc:
            raise UserError(f"--proposer llm {exc}") from None
        if not Path(cfg.plan.llm_model).is_dir():
            raise UserError(f"--llm-model {cfg.plan.llm_model}: not a directory; expected a Hugging Face "
                            "model directory with --llm-backend transformers")
