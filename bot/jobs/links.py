"""Links: the dispatcher's handle on a place that runs batches — a local worker process
(bot/jobs/worker.py) or RQ workers on other machines (bot/jobs/rq.py).

Both share `LinkBase`: messages arrive on a thread of the link, are stamped with the link's
`generation` (bumped at each (re)start, so messages of a replaced run are told apart) and
handed to the attached sink (the engine re-posts them onto its event loop).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from bot.jobs.wire import FromWorker, ToWorker

Sink = Callable[["WorkerLink", FromWorker], None]
# Makes the links a queue dispatches to, given the queue's owner name (unique per bot).
LinkFactory = Callable[[str], Awaitable[list["WorkerLink"]]]


class WorkerLink(Protocol):
    """What the dispatcher needs of a place that runs one batch at a time."""

    generation: int

    @property
    def alive(self) -> bool: ...

    @property
    def pid(self) -> int | None: ...

    def start(self) -> None: ...

    def send(self, message: ToWorker) -> bool: ...

    def attach(self, sink: Sink | None) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...

    # Started with the engine rather than on first use (links whose results may wait).
    eager: bool
    # When its worker dies, the batch's jobs go back to the queue (another worker may run
    # them) instead of failing.
    retries: bool
    # A cancel sent through it reaches every worker of the class, whichever bot's batch
    # runs the job (RQ workers listen on Redis): a bot may forward a cancel for a job
    # another bot claimed.
    cancels_anywhere: bool

    @property
    def live_jobs(self) -> frozenset[int]: ...

    def has_room(self) -> bool: ...

    def ack(self, job_ids: Iterable[int]) -> None: ...


class LinkBase:
    """The sink, generation and emit plumbing every link shares."""

    def __init__(self) -> None:
        self.generation = 0
        self._sink: Sink | None = None
        self._lock = threading.Lock()

    eager = False
    retries = False
    cancels_anywhere = False

    @property
    def live_jobs(self) -> frozenset[int]:
        """Running jobs this link knows to be alive wherever they run (a heartbeat), whoever
        claimed them; their leases are kept."""
        return frozenset()

    def has_room(self) -> bool:
        """Whether a batch may go to this link now (capacity that comes and goes)."""
        return True

    def ack(self, job_ids: Iterable[int]) -> None:
        """The engine recorded the results of these jobs (a durable channel drops them)."""

    def attach(self, sink: Sink | None) -> None:
        with self._lock:
            self._sink = sink

    def _next_generation(self) -> int:
        with self._lock:
            self.generation += 1
            return self.generation

    def _emit(self, generation: int, message: FromWorker) -> None:
        message["generation"] = generation
        with self._lock:
            sink = self._sink
        if sink is not None:
            # RuntimeError: the engine's event loop closed under us; nobody is listening.
            with contextlib.suppress(RuntimeError):
                sink(self, message)  # type: ignore[arg-type]  # subclasses are WorkerLinks
