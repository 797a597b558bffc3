"""The fair order of the queue, kept in memory by the dispatcher.

Queue positions (every submit's reply, every /jobs) and the next batch are read from here
instead of from the jobs table. The table stays the system of record: the order is loaded
from it (`records.queue_snapshot`) when first needed and again when it may have changed
behind our back (at each sweep, or when this bot has nothing known to run and polls for
jobs another bot queued), and changed in place as this bot's own jobs arrive, start,
finish or are cancelled. A stale entry costs nothing worse than a claim that gets fewer
jobs than asked: claiming is a conditional UPDATE on the table.
"""

from __future__ import annotations

import time

from bot.jobs.fairness import Waiting
from bot.jobs.records import QueueSnapshot


class QueueOrder:
    def __init__(self) -> None:
        self._waiting: dict[int, Waiting] = {}
        self._running: dict[int, int] = {}
        self._served: dict[int, int] = {}
        self._order: list[Waiting] | None = None
        self.loaded_at: float | None = None  # time.monotonic() of the last load

    @property
    def loaded(self) -> bool:
        return self.loaded_at is not None

    def load(self, snapshot: QueueSnapshot) -> None:
        self._waiting = {w.id: w for w in snapshot.waiting}
        self._running = dict(snapshot.running)
        self._served = dict(snapshot.served)
        self._order = None
        self.loaded_at = time.monotonic()

    def mark_stale(self) -> None:
        """The table changed in a way we did not follow (jobs requeued): read it again
        before the next claim."""
        if self.loaded_at is not None:
            self.loaded_at = float("-inf")

    def age(self) -> float:
        return float("inf") if self.loaded_at is None else time.monotonic() - self.loaded_at

    def add(self, job: Waiting) -> None:
        self._waiting[job.id] = job
        self._order = None

    def remove(self, job_id: int) -> None:
        if self._waiting.pop(job_id, None) is not None:
            self._order = None
            self._backlog_check()

    def started(self, jobs: list[Waiting]) -> None:
        """Claimed by us: running now, and served in this backlog."""
        for job in jobs:
            if self._waiting.pop(job.id, None) is not None:
                self._running[job.user] = self._running.get(job.user, 0) + 1
                self._served[job.user] = self._served.get(job.user, 0) + 1
        self._order = None
        self._backlog_check()

    def ended(self, user: int) -> None:
        """One of the user's running jobs ended."""
        if self._running.get(user, 0) > 0:
            self._running[user] -= 1
            self._order = None

    def _backlog_check(self) -> None:
        if not self._waiting:
            self._served.clear()  # "served" counts from the oldest waiting job: none left

    def order(self) -> list[Waiting]:
        if self._order is None:
            self._order = QueueSnapshot(
                sorted(self._waiting.values(), key=lambda w: w.id), self._running, self._served
            ).order()
        return self._order

    def positions(self) -> dict[int, int]:
        return {w.id: i for i, w in enumerate(self.order(), 1)}

    def __len__(self) -> int:
        return len(self._waiting)
