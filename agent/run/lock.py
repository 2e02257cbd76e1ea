"""One writer per run directory: an advisory ``flock`` on ``RUN/.lock``.

The kernel releases the lock when its process dies, however it dies (kill -9 included),
so no stale lock is ever left to clean up. Readers (``wm-agent eval``) do not take it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = ".lock"


class RunLockedError(RuntimeError):
    """Another process is writing this run directory (message is one line)."""


class RunLock:
    """Held from ``acquire`` until ``release`` (or the process's end)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RunLockedError(f"{self.path.parent} is being trained by process {holder} (it holds {self.path}); "
                                 f"wait for it to finish or stop it, then --resume again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)  # read by the next writer's error line
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
