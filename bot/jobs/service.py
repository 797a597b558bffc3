"""The job service: what commands use of the queue — submit, release, cancel, the /jobs
listing and a finished job's lookup (re-roll) — so no command reads the jobs table itself."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.jobs import records
from bot.jobs.kinds.base import JobKind, P, R
from bot.jobs.protocol import CancelOutcome, JobQueue, JobRequest, JobView, Ticket
from bot.store import Store
from bot.store.models import Job, User


@dataclass(frozen=True)
class JobLine:
    """A queued or running job, as /jobs shows it."""

    id: int
    kind: str
    summary: str
    state: str
    cancel_requested: bool
    progress_step: int
    progress_total: int
    progress_label: str
    user_pk: int
    who: str  # the user's display name
    position: int | None  # in the queue (1 = next), for a queued job


class JobService:
    def __init__(self, queue: JobQueue, store: Store) -> None:
        self.queue = queue
        self.store = store

    async def submit(self, request: JobRequest) -> Ticket:
        return await self.queue.submit(request)

    def release(self, job_id: int) -> None:
        self.queue.release(job_id)

    async def cancel(
        self, job_id: int, *, user_pk: int, guild_pk: int, instructor: bool
    ) -> CancelOutcome:
        return await self.queue.cancel(
            job_id, user_pk=user_pk, guild_pk=guild_pk, instructor=instructor
        )

    async def positions(self) -> dict[int, int]:
        return await self.queue.positions()

    async def active(self, *, guild_pk: int, user_pk: int | None = None) -> list[JobLine]:
        """Queued and running jobs of a guild (of one user when user_pk is given), oldest
        first: one query, positions from the queue's own fair order."""
        query = (
            select(Job, User.display_name)
            .outerjoin(User, User.id == Job.user_id)
            .where(Job.guild_id == guild_pk, Job.state.in_(("queued", "running")))
            .order_by(Job.id)
        )
        if user_pk is not None:
            query = query.where(Job.user_id == user_pk)
        async with self.store.session() as session:
            rows = (await session.execute(query)).all()
        positions = await self.queue.positions() if rows else {}
        return [
            JobLine(
                id=job.id,
                kind=job.kind,
                summary=str((job.params or {}).get("_summary") or ""),
                state=job.state,
                cancel_requested=bool(job.cancel_requested),
                progress_step=job.progress_step,
                progress_total=job.progress_total,
                progress_label=job.progress_label,
                user_pk=job.user_id,
                who=name or "?",
                position=positions.get(job.id),
            )
            for job, name in rows
        ]

    async def find(
        self, kind: JobKind[P, R], job_id: int, *, guild_pk: int
    ) -> tuple[JobView, P] | None:
        """A job of this kind in this guild, with its params (e.g. to re-roll it)."""
        async with self.store.session() as session:
            job = await session.get(Job, job_id)
            if job is None or job.guild_id != guild_pk or job.kind != kind.name:
                return None
            view = records.view(job)
        return view, kind.params_of(view)
