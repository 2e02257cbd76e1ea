"""TensorBoard scalars, videos and images, plus a plain-text log in the run directory.

Logging never stops a run: on a full disk (ENOSPC from TensorBoard's writer thread, from
``train.log`` or a CSV append) the fault is one warning line, what could not be written waits
in memory, and it is written when the disk has room again (tried at each flush).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tensorboard.summary.writer.event_file_writer import _AsyncWriterThread
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm
from agent.layout import TRAIN_LOG

MAX_PENDING_EVENTS = 100_000  # scalars/texts kept while TensorBoard cannot be written (~10 MB); older ones go
FLUSH_EVERY_EVENTS = 10_000  # a healthy writer is flushed this often, so the kept events stay few
MAX_PENDING_LINES = 1_000  # train.log lines kept while the disk is full

# (kind, tag, value, step, walltime): what a new event file needs to repeat what the old one may have lost
_Event = tuple[str, str, Any, int, float]


class RunLogger:
    """Tags are namespaced like CleanRL's: ``train/``, ``eval/``, ``loss/``, ``perf/``."""

    def __init__(self, run_dir: Path, purge_step: int | None = None) -> None:
        """``purge_step``: on resume, TensorBoard hides every earlier event at a step >= it.

        The resumed run logs again from the checkpoint on, so the killed process's later
        events would otherwise show up twice (or beside a different history).
        """
        self.run_dir = run_dir
        self.log_path = run_dir / TRAIN_LOG
        self.writer: SummaryWriter | None = None
        self.write_error: OSError | None = None  # why TensorBoard is not being written, while it is not
        self.dropped = 0  # events TensorBoard will never show: images/videos while it was down, overflow
        # Scalars and texts since the last flush the writer confirmed: the ones a dead writer may
        # have lost. A new event file purges every step after the confirmed ones and repeats these.
        self._unconfirmed: list[_Event] = []
        self._confirmed_step = -1 if purge_step is None else purge_step - 1
        self._rows: dict[str, tuple[str, list[str]]] = {}  # file name -> (header, rows waiting for disk space)
        self._row_errors: set[str] = set()  # files whose last append failed (warned once)
        _quiet_writer_threads()
        self._open(purge_step)

    # --- TensorBoard -------------------------------------------------------------------------
    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        for key, value in values.items():
            self._event("scalar", f"{prefix}/{key}", value, step)

    def video(self, tag: str, frames: np.ndarray, step: int, fps: int = 15) -> None:
        """(T, H, W, 3) uint8 -> one TensorBoard video (GIF)."""
        tensor = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).unsqueeze(0)
        self._large(lambda w: w.add_video(tag, tensor, step, fps=fps))

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        self._large(lambda w: w.add_image(tag, image, step, dataformats="HWC"))

    def config(self, config: dict) -> None:
        self._event("text", "config", "```\n" + json.dumps(config, indent=2) + "\n```", 0)

    def flush(self) -> bool:
        """Events and CSV rows to disk; while TensorBoard is down, try a new event file. True if all is written."""
        self._write_rows()
        if self.writer is None and not self._open(self._confirmed_step + 1):
            return False
        if not self._call(lambda w: w.flush()):
            return False
        self._confirmed_step = max([self._confirmed_step] + [e[3] for e in self._unconfirmed])
        self._unconfirmed.clear()
        return not self._rows

    def close(self) -> None:
        """Flush (a last try after a full disk), close, and say in one line what could not be written."""
        self.flush()
        if self.writer is not None:
            self._call(lambda w: w.close())
        lost = [f"{len(self._unconfirmed)} TensorBoard events ({self.write_error})"] \
            if self.writer is None and self._unconfirmed else []
        lost += [f"{len(rows)} rows of {name}" for name, (_, rows) in self._rows.items()]
        if lost:
            self.warning(f"not written when the run ended, lost: {', '.join(lost)}")
        self.writer = None

    def _event(self, kind: str, tag: str, value: Any, step: int) -> None:
        event = (kind, tag, value, step, time.time())
        if len(self._unconfirmed) >= MAX_PENDING_EVENTS:
            del self._unconfirmed[0]
            self.dropped += 1
        self._unconfirmed.append(event)
        if self.writer is not None:
            self._call(lambda w: _add(w, event))
            if len(self._unconfirmed) >= FLUSH_EVERY_EVENTS:
                self.flush()

    def _large(self, add: Callable[[SummaryWriter], None]) -> None:
        """Videos and images are not kept for later: too big to hold while the disk is full."""
        if self.writer is None or not self._call(add):
            self.dropped += 1

    def _call(self, fn: Callable[[SummaryWriter], None]) -> bool:
        """Run ``fn`` on the writer; a disk error (raised here from the writer's thread) closes the writer."""
        assert self.writer is not None
        try:
            fn(self.writer)
            return True
        except OSError as exc:
            self._lost_writer(exc)
            return False

    def _open(self, purge_step: int | None) -> bool:
        """A new event file (a new SummaryWriter), repeating the unconfirmed events into it."""
        try:
            self.writer = SummaryWriter(str(self.run_dir), purge_step=purge_step)  # writes and flushes a header
        except OSError as exc:
            self._lost_writer(exc)
            return False
        for event in self._unconfirmed:
            if not self._call(lambda w: _add(w, event)):
                return False
        if self.write_error is not None:
            self.message(f"TensorBoard written again (a new event file from step {purge_step} on: "
                         f"{len(self._unconfirmed)} events kept in memory; dropped so far: {self.dropped} images, "
                         f"videos or events beyond {MAX_PENDING_EVENTS})")
            self.write_error = None
        return True

    def _lost_writer(self, exc: OSError) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except Exception:  # the dead thread's error again: the file is abandoned anyway
                pass
        self.writer = None
        if self.write_error is None:
            self.warning(f"TensorBoard events not written ({exc}); training goes on, events kept in memory "
                         f"and written to a new event file at the next flush with room on the disk")
        self.write_error = exc

    # --- text files ----------------------------------------------------------------------
    def csv_row(self, name: str, header: str, row: str) -> None:
        """Append ``row`` to ``<run>/<name>`` (``header`` first in a new file); waits in memory on a full disk."""
        self._rows.setdefault(name, (header, []))[1].append(row)
        self._write_rows()

    def _write_rows(self) -> None:
        for name, (header, rows) in list(self._rows.items()):
            try:
                append_text(self.run_dir / name, "".join(rows), header=header)
            except OSError as exc:
                if name not in self._row_errors:  # one line per outage, not one per try
                    self._row_errors.add(name)
                    self.warning(f"{name}: row not written ({exc}); kept in memory, written at the next flush "
                                 f"with room on the disk")
                continue
            del self._rows[name]
            self._row_errors.discard(name)

    def message(self, text: str) -> None:
        """Print above the progress bar and append to train.log."""
        tqdm.write(text)
        append_log(self.run_dir, text)

    def warning(self, text: str) -> None:
        """A fault the run survived: one line on stderr and in train.log."""
        tqdm.write(f"warning: {text}", file=sys.stderr)
        append_log(self.run_dir, f"warning: {text}")


def _quiet_writer_threads() -> None:
    """No traceback when TensorBoard's writer thread dies of a disk error (it re-raises it as it ends).

    The same error is raised to the logger at its next call, which makes it one warning line.
    """
    previous = threading.excepthook
    if getattr(previous, "_wm_agent", False):
        return

    def hook(args: Any) -> None:
        if not (isinstance(args.thread, _AsyncWriterThread) and issubclass(args.exc_type, OSError)):
            previous(args)

    hook._wm_agent = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def _add(writer: SummaryWriter, event: _Event) -> None:
    kind, tag, value, step, walltime = event
    if kind == "scalar":
        writer.add_scalar(tag, value, step, walltime=walltime)
    else:
        writer.add_text(tag, value, step, walltime=walltime)


def append_text(path: Path, text: str, header: str = "") -> None:
    """Append ``text`` (``header`` first if the file is empty); on failure the file is left as it was.

    A write cut short by a full disk is truncated away: the next append must not glue onto half a line.
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        data = memoryview(((header if size == 0 else "") + text).encode())
        try:
            while data:
                data = data[os.write(fd, data):]
        except OSError:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


_unwritten_lines: dict[Path, list[str]] = {}  # run dir -> train.log lines waiting for disk space


def append_log(run_dir: Path, text: str) -> None:
    """Append one time-stamped line to ``train.log``; a full disk keeps it (the last 1000) for the next one."""
    lines = _unwritten_lines.setdefault(run_dir, [])
    lines.append(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")
    del lines[:-MAX_PENDING_LINES]
    try:
        append_text(run_dir / TRAIN_LOG, "".join(lines))
    except OSError:
        return
    del _unwritten_lines[run_dir]
