"""Wall-clock per phase of the training loop, for `benchmarks/step_profile.py`.

The trainer and the learner wrap their phases in ``timer("name")``; the default timer is
off and costs one attribute test per phase. A benchmark switches it on to break an env
step into its parts (env, plan, sample, update forward/backward/optimizer, ...).
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator


class PhaseTimer:
    """Sums the seconds spent in each named phase while ``active``."""

    def __init__(self, sync: Callable[[], None] | None = None) -> None:
        """``sync`` waits for queued device work (``torch.cuda.synchronize``), so GPU phases are timed
        where they run rather than where they were launched."""
        self.active = False
        self.sync = sync
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if not self.active:
            yield
            return
        if self.sync is not None:
            self.sync()
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.sync is not None:
                self.sync()
            self.seconds[name] += time.perf_counter() - start
            self.calls[name] += 1

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()


OFF = PhaseTimer()  # the shared inactive timer: never switched on
