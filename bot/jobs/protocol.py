"""What commands see of the job queue, whichever backend runs the jobs.

The jobs table is the system of record; a backend (embedded worker processes, or RQ on
Redis) only decides where the work runs. Commands submit a `JobRequest` (made by a job
kind's declaration, bot/jobs/kinds/), reply at once with the ticket's queue position, and the
relay delivers progress and the result to the stored destination later, through
`outboxes[platform].send(..., key=f"job:{id}")`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from bot.config import Settings
from bot.delivery import Destination, Outbox
from bot.store import Store

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
ACTIVE_STATES: tuple[JobState, ...] = ("queued", "running")
FINISHED_STATES: tuple[JobState, ...] = ("succeeded", "failed", "cancelled")

CancelOutcome = Literal["cancelled", "cancelling", "finished", "not_found", "not_allowed"]

WORKER_STOPPED = "The model worker stopped — try again, maybe with a smaller model or fewer tokens."


@dataclass(frozen=True)
class DailyCap:
    """How many jobs a class, and each of its students, may have created since `since` (0:
    no cap). Checked in the statement that inserts the job, so two submissions at once
    cannot both take the last one (bot/jobs/hosted/budget.py sets it for hosted jobs)."""

    since: datetime
    per_class: int = 0
    per_student: int = 0


@dataclass(frozen=True)
class JobRequest:
    kind: str
    params: dict[str, Any]
    guild_pk: int
    user_pk: int
    destination: Destination
    # Instructors' jobs go first (1); students' are 0.
    priority: int = 0
    # Jobs with the same batch key may run as one batched call; cost (e.g. new tokens)
    # keeps a short job's batch from being held back by a much longer one.
    batch_key: str | None = None
    cost: float = 1.0
    # One line for /jobs ("generate: Once upon a time…").
    summary: str = ""
    daily: DailyCap | None = None


@dataclass(frozen=True)
class Ticket:
    """A submitted job: where it stands in the queue right now."""

    job_id: int
    position: int  # 1 = next to start
    running: int  # jobs running now (on this bot's workers)
    can_start: bool  # next in line and a worker is free


@dataclass(frozen=True)
class JobView:
    """A job as the relay and the renderers see it (a detached copy of the row)."""

    id: int
    kind: str
    state: str
    params: dict[str, Any]
    destination: Destination
    result: dict[str, Any] | None = None
    error: str | None = None
    progress_step: int = 0
    progress_total: int = 0
    progress_label: str = ""
    user_pk: int = 0
    guild_pk: int = 0
    created_at: datetime | None = None


class JobEnv(Protocol):
    """What the job engine needs of the bot around it (the bot's Services has it all)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def outboxes(self) -> Mapping[str, Outbox]: ...


class QueueFull(Exception):
    def __init__(self, active: int, limit: int) -> None:
        super().__init__(f"{active} jobs waiting (limit {limit})")
        self.active = active
        self.limit = limit


class CapReached(Exception):
    """The day's jobs are used: the class's (`per_class`) or the student's."""

    def __init__(self, whose: Literal["class", "student"], cap: int) -> None:
        super().__init__(f"the {whose}'s {cap} jobs for the day are used")
        self.whose = whose
        self.cap = cap


class JobQueue(Protocol):
    async def submit(self, request: JobRequest) -> Ticket:
        """Record the job (raises QueueFull over the per-user limit, CapReached over its
        daily cap). The job is held until `release(job_id)`, so the command's first reply
        goes out before any progress."""
        ...

    def release(self, job_id: int) -> None:
        """The command has replied: the job may start."""
        ...

    async def cancel(
        self, job_id: int, *, user_pk: int, guild_pk: int, instructor: bool
    ) -> CancelOutcome:
        """Cancel a queued job at once, or ask a running one to stop after its current step."""
        ...

    async def positions(self) -> dict[int, int]:
        """Queue position (1 = next) of every queued job."""
        ...
