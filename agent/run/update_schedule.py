"""When an env step's model updates run: after the planner (serial) or beside it (overlap).

``--schedule serial`` runs them in line, one after the other with planning, and a run reproduces
bit for bit. ``--schedule overlap`` hands them to one learner thread and returns at once, so the
next action is planned while they run, each side on its own core. The learner trains its own
copies of the networks (``WorldModelAgent`` builds them); ``finish`` waits for the updates in
flight and copies their weights into the networks the planner uses, so the planner acts with
weights at most one update old. Batches are drawn by the caller's thread in both schedules: the
replay and its RNG never cross threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import torch

from agent.learn.profiling import PhaseTimer

Batch = dict[str, torch.Tensor]


@dataclass
class UpdateTally:
    """What the updates of one episode cost and returned, for its perf/ and loss/ scalars."""

    seconds: float = 0.0
    count: int = 0
    losses_sum: dict[str, float] = field(default_factory=dict)

    def add(self, losses: dict[str, float]) -> None:
        for key, value in losses.items():
            self.losses_sum[key] = self.losses_sum.get(key, 0.0) + value
        self.count += 1


class UpdateSchedule:
    """Runs ``count`` updates per call of ``run``: in line, or in a learner thread with ``overlap``.

    ``update(batch)`` is one model update (its losses); ``sample()`` draws a batch; ``handover()``
    gives the planner the learner's weights (a no-op when they share networks).
    """

    def __init__(self, overlap: bool, update: Callable[[Batch], dict[str, float]], sample: Callable[[], Batch],
                 handover: Callable[[], None], timer: PhaseTimer) -> None:
        self.overlap = overlap
        self._update, self._sample, self._handover, self.timer = update, sample, handover, timer
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="learner") if overlap else None
        self._pending: Future | None = None

    def run(self, count: int, tally: UpdateTally) -> None:
        """This step's ``count`` updates: done on return (serial), or started in the learner thread (overlap)."""
        if not count:
            return
        if self._thread is None:
            self._updates([None] * count, tally)  # each draws its batch just before it runs, as always
            return
        self.finish()  # one batch of updates in flight at a time
        batches = []
        for _ in range(count):
            with self.timer("sample"):
                batches.append(self._sample())
        self._pending = self._thread.submit(self._updates, batches, tally)

    def _updates(self, batches: list[Batch | None], tally: UpdateTally) -> None:
        start = time.perf_counter()
        with self.timer("update"):
            for batch in batches:
                if batch is None:
                    with self.timer("sample"):
                        batch = self._sample()
                tally.add(self._update(batch))
        tally.seconds += time.perf_counter() - start

    def finish(self) -> None:
        """Wait for the updates in flight (re-raising their error), then hand their weights to the planner."""
        if self._pending is None:
            return
        self._pending.result()
        self._handover()
        # cleared last: a SIGTERM landing in between leaves it set, and the next finish() waits and hands over again
        self._pending = None

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True)
