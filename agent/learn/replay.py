"""Replay of whole episodes, persisted one file per finished episode.

Each episode is written to ``<run>/episodes/`` the moment it ends (temp file, fsync,
rename), so a killed run loses at most the episode in progress. In memory the
episodes are concatenated into growable flat arrays so that sampling a batch of
sub-sequences is one vectorised gather, not a Python loop over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agent.layout import EPISODE_FILE, episode_file_name, write_atomically

EXTRA = "extra_"  # prefix of extras among the flat arrays
# The arrays every episode file holds (extras are optional).
EPISODE_ARRAYS = ("obs", "action", "reward", "terminated")


class ReplayFileError(ValueError):
    """An episode file a resume cannot use (message is one line and names the file)."""


@dataclass
class Episode:
    """One episode: ``obs`` has one more entry than ``action``/``reward``/``terminated``.

    ``extras`` holds optional per-observation arrays (e.g. the proprioceptive state of
    a pixel run, used for videos), each with ``len(obs)`` rows.
    """

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        steps = len(self.action)
        if not (len(self.obs) == steps + 1 and len(self.reward) == steps and len(self.terminated) == steps):
            raise ValueError(f"inconsistent episode: {len(self.obs)} obs, {steps} actions, "
                             f"{len(self.reward)} rewards, {len(self.terminated)} terminated flags")

    def __len__(self) -> int:
        return len(self.action)

    @property
    def total_reward(self) -> float:
        return float(self.reward.sum())


class EpisodeBuilder:
    """Collects one episode step by step."""

    def __init__(self, first_obs: np.ndarray, extras: dict[str, np.ndarray] | None = None) -> None:
        self.obs, self.action, self.reward, self.terminated = [first_obs], [], [], []
        self.extras = {k: [v] for k, v in (extras or {}).items()}

    def add(self, action: np.ndarray, reward: float, next_obs: np.ndarray, terminated: bool,
            extras: dict[str, np.ndarray] | None = None) -> None:
        self.action.append(action)
        self.reward.append(reward)
        self.obs.append(next_obs)
        self.terminated.append(terminated)
        for k, v in (extras or {}).items():
            self.extras[k].append(v)

    def __len__(self) -> int:
        return len(self.action)

    def build(self) -> Episode:
        return Episode(np.stack(self.obs), np.asarray(self.action, np.float32), np.asarray(self.reward, np.float32),
                       np.asarray(self.terminated, bool), {k: np.stack(v) for k, v in self.extras.items()})


def save_episode(ep: Episode, directory: Path, index: int) -> Path:
    """Write atomically; the file name carries the index and length so a resume can check both."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / episode_file_name(index, len(ep))
    write_atomically(path, lambda f: np.savez_compressed(
        f, obs=ep.obs, action=ep.action, reward=ep.reward, terminated=ep.terminated,
        **{f"extra_{k}": v for k, v in ep.extras.items()}))
    return path


def load_episode(path: Path) -> Episode:
    """Read one episode file; a truncated, foreign or incomplete file is a ReplayFileError naming it."""
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - damaged archives fail in many exception types
        raise _bad_file(path, f"cannot read it ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise _bad_file(path, "not an npz archive of episode arrays")
    with data:
        missing = [k for k in EPISODE_ARRAYS if k not in data.files]
        if missing:
            raise _bad_file(path, f"no {missing[0]!r} array in it (has {sorted(data.files)})")
        try:
            extras = {k[len("extra_"):]: data[k] for k in data.files if k.startswith("extra_")}
            return Episode(data["obs"], data["action"], data["reward"], data["terminated"], extras)
        except Exception as exc:  # noqa: BLE001 - a corrupt member (zlib, CRC, header) or mismatched lengths
            raise _bad_file(path, f"cannot read it ({type(exc).__name__}: {exc})") from None


def _bad_file(path: Path, why: str) -> ReplayFileError:
    # Refused, not skipped: dropping an episode would change the run's env-step count and the
    # indices of every later episode file, so the user decides which files to move away.
    return ReplayFileError(f"episode file {path}: {why}".splitlines()[0] + f"; move it (and any later episode "
                           f"files) out of {path.parent} to resume without them")


def check_episode(path: Path, ep: Episode, length: int, obs_space: Any, action_space: Any,
                  first: Episode | None) -> None:
    """Refuse an episode that does not fit the run: the length in its file name, the env's observation
    and action spaces (anything with ``shape`` and ``dtype``; without them, the run's first episode),
    the dtypes `EpisodeBuilder` writes, and the extras of the first episode. Loaded anyway, such an
    episode would be cast or broadcast silently into the replay."""
    if len(ep) != length:
        raise _bad_file(path, f"{len(ep)} steps, but its name says {length}")
    reference = ep if first is None else first
    expected = {"obs": (obs_space.dtype, obs_space.shape) if obs_space is not None else _row(reference.obs),
                "action": (np.dtype(np.float32), action_space.shape if action_space is not None
                           else _row(reference.action)[1]),
                "reward": (np.dtype(np.float32), ()), "terminated": (np.dtype(bool), ())}
    expected.update({EXTRA + k: _row(v) for k, v in reference.extras.items()})
    arrays = {"obs": ep.obs, "action": ep.action, "reward": ep.reward, "terminated": ep.terminated,
              **{EXTRA + k: v for k, v in ep.extras.items()}}
    for key, array in arrays.items():
        want = expected.get(key)
        if want is not None and _row(array) != (np.dtype(want[0]), tuple(want[1])):
            raise _bad_file(path, f"{key} is {array.dtype} {_row(array)[1]} per row; this run's is "
                                  f"{np.dtype(want[0])} {tuple(want[1])}")
    for key, array in ep.extras.items():
        if len(array) != len(ep.obs):
            raise _bad_file(path, f"{EXTRA}{key} has {len(array)} rows for {len(ep.obs)} observations")


def _row(array: np.ndarray) -> tuple[np.dtype, tuple[int, ...]]:
    """dtype and shape of one time step of ``array``."""
    return array.dtype, array.shape[1:]


def episode_files(directory: Path) -> list[Path]:
    """Complete episode files in index order (temp files of an interrupted write are ignored)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if EPISODE_FILE.match(p.name))


class _Growable:
    """A flat array that doubles its capacity as rows are appended."""

    def __init__(self, row_shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.data = np.empty((1024, *row_shape), dtype)
        self.size = 0

    def append(self, rows: np.ndarray) -> None:
        need = self.size + len(rows)
        if need > len(self.data):
            grown = np.empty((max(need, 2 * len(self.data)), *self.data.shape[1:]), self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size:need] = rows
        self.size = need


class EpisodeReplay:
    """All episodes of a run; samples time-major windows of ``horizon`` steps."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self.num_episodes = 0
        self.num_steps = 0
        self.episode_returns: list[float] = []
        self._arrays: dict[str, _Growable] = {}
        self._starts: list[np.ndarray] = []  # per episode: flat indices of its observations
        self._lengths: list[int] = []
        self._starts_cache: dict[int, np.ndarray] = {}
        self._extra_keys: list[str] = []
        # Episodes whose file could not be written (full disk): kept here in index order and
        # written before any later one, so the files on disk always stay contiguous.
        self.unsaved: list[tuple[int, Episode]] = []
        self.last_write_error: OSError | None = None

    def add(self, ep: Episode, persist: bool = True) -> None:
        """Add a finished episode; write it to disk first when the replay has a directory.

        A failed write (OSError, e.g. ENOSPC) does not lose the episode: it stays in memory and
        in ``unsaved``, and is written again before the next episode's file (see `write_unsaved`).
        """
        if persist and self.directory is not None:
            self.unsaved.append((self.num_episodes, ep))
            self.write_unsaved()
        # Flat layout per episode: T+1 observation rows; actions/rewards padded with one
        # trailing row so every array shares the observation's indexing.
        rows = {"obs": ep.obs, "action": _pad(ep.action), "reward": _pad(ep.reward),
                "terminated": _pad(ep.terminated)}
        if not self._arrays:
            # Extras (per-observation rows, e.g. the safety cost) are sampled beside obs;
            # the first episode fixes which ones.
            self._extra_keys = sorted(ep.extras)
            rows.update({EXTRA + k: ep.extras[k] for k in self._extra_keys})
            self._arrays = {k: _Growable(v.shape[1:], v.dtype) for k, v in rows.items()}
        else:
            # An episode lacking an extra (written before it existed) gets zeros.
            rows.update({EXTRA + k: ep.extras[k] if k in ep.extras else
                         np.zeros((len(ep.obs), *self._arrays[EXTRA + k].data.shape[1:]), self._arrays[EXTRA + k].data.dtype)
                         for k in self._extra_keys})
        offset = self._arrays["obs"].size
        for k, v in rows.items():
            self._arrays[k].append(v)
        self._starts.append(np.arange(offset, offset + len(ep) + 1))
        self._lengths.append(len(ep))
        self._starts_cache.clear()
        self.num_episodes += 1
        self.num_steps += len(ep)
        self.episode_returns.append(ep.total_reward)

    def write_unsaved(self) -> int:
        """Write pending episode files in order; returns how many were written.

        Stops at the first failure and keeps it in ``last_write_error`` (None after a full success).
        """
        assert self.directory is not None
        written = 0
        while self.unsaved:
            index, ep = self.unsaved[0]
            try:
                save_episode(ep, self.directory, index)
            except OSError as exc:
                self.last_write_error = exc
                return written
            self.unsaved.pop(0)
            written += 1
        self.last_write_error = None
        return written

    @classmethod
    def load(cls, directory: Path, obs_space: Any = None, action_space: Any = None) -> "EpisodeReplay":
        """Rebuild from the episode files of a run directory, each checked against the env's spaces
        when given (see `check_episode`); a file that does not fit is a ReplayFileError."""
        replay, first = cls(directory), None
        for index, path in enumerate(episode_files(directory)):
            match = EPISODE_FILE.match(path.name)
            assert match is not None
            if int(match.group(1)) != index:
                raise ReplayFileError(f"episode files in {directory} are not contiguous: expected index {index}, "
                                      f"found {path.name}; move it and later episode files away to resume "
                                      "without them")
            episode = load_episode(path)
            check_episode(path, episode, int(match.group(2)), obs_space, action_space, first)
            first = episode if first is None else first
            replay.add(episode, persist=False)
        return replay

    @property
    def episode_lengths(self) -> list[int]:
        return list(self._lengths)

    def observations(self) -> np.ndarray:
        """Every stored observation row (a view, no copy)."""
        return self._arrays["obs"].data[: self._arrays["obs"].size] if self._arrays else np.empty(0)

    def valid_starts(self, horizon: int) -> np.ndarray:
        """Flat indices where a window of ``horizon`` actions fits inside one episode."""
        if horizon in self._starts_cache:
            return self._starts_cache[horizon]
        parts = [s[: length - horizon + 1] for s, length in zip(self._starts, self._lengths) if length >= horizon]
        starts = np.concatenate(parts) if parts else np.empty(0, np.int64)
        self._starts_cache[horizon] = starts
        return starts

    def sample(self, batch_size: int, horizon: int, rng: np.random.Generator,
               device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """Time-major batch: obs (H+1, B, ...), action (H, B, A), reward (H, B), terminated (H, B),
        and each episode extra under its own name, aligned with obs (H+1, B, ...)."""
        starts = self.valid_starts(horizon)
        if len(starts) == 0:
            raise ValueError(f"no episode has {horizon} steps yet; cannot sample windows of that length")
        idx = rng.choice(starts, size=batch_size)[None, :] + np.arange(horizon + 1)[:, None]  # (H+1, B)
        a = self._arrays
        out = {"obs": a["obs"].data[idx], "action": a["action"].data[idx[:-1]],
               "reward": a["reward"].data[idx[:-1]], "terminated": a["terminated"].data[idx[:-1]]}
        out.update({k: a[EXTRA + k].data[idx] for k in self._extra_keys})
        return {k: torch.as_tensor(v).to(device) for k, v in out.items()}


def _pad(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x, np.zeros((1, *x.shape[1:]), x.dtype)])
