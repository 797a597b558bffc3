"""The job service: what commands use of the queue — submit, release, cancel, the /jobs
listing and a finished job's lookup (re-roll) — so no command reads the jobs table itself.

/jobs listings asked for at the same time are read together: while one read is under way,
the requests that arrive wait for the next, which answers all of them with one query (a
class opening /jobs together costs a few queries, not one each).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy import select

from bot.errors import UsageError
from bot.jobs import records
from bot.jobs.kinds.base import JobKind, P, R
from bot.jobs.protocol import (
    CancelOutcome,
    CapReached,
    DailyCap,
    JobQueue,
    JobRequest,
    JobView,
    Ticket,
)
from bot.store import Store
from bot.store.models import Job, User

# (guild, user or None for the whole guild) of a /jobs listing.
_Asked = tuple[int, int | None]


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


class Admission(Protocol):
    """A daily cap on submissions (the hosted backends' budget: bot/jobs/hosted/budget.py)."""

    def cap(self, request: JobRequest) -> DailyCap | None:
        """The cap the jobs table checks as it inserts this job."""
        ...

    def refusal(self, reached: CapReached) -> UsageError:
        """The reply when the cap is used."""
        ...


class JobService:
    def __init__(self, queue: JobQueue, store: Store, admit: Admission | None = None) -> None:
        self.queue = queue
        self.store = store
        self.admit = admit
        self._asked: dict[_Asked, list[asyncio.Future[list[JobLine]]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def submit(self, request: JobRequest) -> Ticket:
        if self.admit is None:
            return await self.queue.submit(request)
        try:
            return await self.queue.submit(replace(request, daily=self.admit.cap(request)))
        except CapReached as reached:
            raise self.admit.refusal(reached) from None

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
        first, with queue positions from the queue's own fair order."""
        future: asyncio.Future[list[JobLine]] = asyncio.get_running_loop().create_future()
        self._asked.setdefault((guild_pk, user_pk), []).append(future)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_all())
        return await future

    async def _read_all(self) -> None:
        while self._asked:
            asked, self._asked = self._asked, {}
            try:
                found = await self._read(list(asked))
            except Exception as error:
                for futures in asked.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(error)
                continue
            for key, futures in asked.items():
                for future in futures:
                    if not future.done():
                        future.set_result(found[key])

    async def _read(self, asked: list[_Asked]) -> dict[_Asked, list[JobLine]]:
        """One query for every (guild, user) asked."""
        query = (
            select(Job, User.display_name)
            .outerjoin(User, User.id == Job.user_id)
            .where(
                Job.guild_id.in_({guild for guild, _ in asked}),
                Job.state.in_(("queued", "running")),
            )
            .order_by(Job.id)
        )
        whole_guilds = {guild for guild, user in asked if user is None}
        users = {user for _, user in asked if user is not None}
        if not whole_guilds:
            query = query.where(Job.user_id.in_(users))
        async with self.store.session() as session:
            rows = (await session.execute(query)).all()
        positions = await self.queue.positions() if rows else {}
        lines = [
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
        guild_of = {job.id: job.guild_id for job, _ in rows}
        return {
            (guild, user): [
                line
                for line in lines
                if guild_of[line.id] == guild and (user is None or line.user_pk == user)
            ]
            for guild, user in asked
        }

    async def view(self, job_id: int, *, guild_pk: int) -> JobView | None:
        """Any job of this guild as it stands (e.g. to share its result)."""
        async with self.store.session() as session:
            job = await session.get(Job, job_id)
            return records.view(job) if job is not None and job.guild_id == guild_pk else None

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
