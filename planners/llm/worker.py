"""One call at a time on a background thread, so the control loop only ever waits up to a deadline."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Outcome:
    """A finished call: its tag (what it was for), and its result or the exception it raised."""

    tag: Any
    result: Any = None
    error: BaseException | None = None


class SingleFlight:
    """Runs at most one call at a time on a daemon thread.

    Daemon threads, not a thread pool: a hung request must never keep the
    process from exiting (pool threads are joined at exit).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._outcome: Outcome | None = None

    @property
    def busy(self) -> bool:
        """A call is running or its outcome has not been taken yet."""
        return self._thread is not None

    def submit(self, fn: Callable[[], Any], tag: Any) -> bool:
        """Start ``fn()`` in the background; False (and nothing started) when busy."""
        if self.busy:
            return False
        self._done.clear()
        self._outcome = Outcome(tag)
        self._thread = threading.Thread(target=self._run, args=(fn, self._outcome), name=self.name, daemon=True)
        self._thread.start()
        return True

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the running call; True when it has finished."""
        return self._thread is not None and self._done.wait(timeout_s)

    def take(self) -> Outcome | None:
        """The finished call's outcome (once), or None while running or idle."""
        if self._thread is None or not self._done.is_set():
            return None
        outcome, self._outcome, self._thread = self._outcome, None, None
        return outcome

    def _run(self, fn: Callable[[], Any], outcome: Outcome) -> None:
        try:
            outcome.result = fn()
        except Exception as exc:  # noqa: BLE001 - reported to the caller; a thread must not die silently
            outcome.error = exc
        self._done.set()
