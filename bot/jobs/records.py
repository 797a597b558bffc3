"""Repository functions over the jobs table, the queue's system of record.

Every state change is one conditional UPDATE (`WHERE state = ...`, `WHERE lease_owner = ...`),
so two bot processes on one database never both claim, finish or deliver the same job.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.delivery import Destination
from bot.jobs.fairness import Waiting, fair_order
from bot.jobs.protocol import (
    ACTIVE_STATES,
    FINISHED_STATES,
    CapReached,
    JobRequest,
    JobView,
    QueueFull,
)
from bot.store import Store
from bot.store.models import Job


class SerialWrites:
    """Write transactions, one at a time from this process when the database is SQLite.

    SQLite has a single writer; concurrent write transactions from one process do not
    queue, they fail to get the lock and sleep in SQLite's busy handler (1, 2, 5, 10… ms).
    Measured with 16 students pressing /generate at once: 215 ms to queue them all with
    concurrent writes, 100 ms with this lock. PostgreSQL needs no such thing.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = asyncio.Lock() if store.engine.dialect.name == "sqlite" else None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._lock or contextlib.nullcontext(), self.store.session() as session:
            yield session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction on a bare connection, for one Core statement (a submission):
        no ORM session to set up on the hot path (0.25 ms less from a /run to its worker,
        measured on a 2-core machine: 1.50-1.68 ms against 1.73-1.91 ms for the INSERT,
        commit and the job's view)."""
        async with self._lock or contextlib.nullcontext(), self.store.engine.begin() as conn:
            yield conn


def view(job: Job) -> JobView:
    return JobView(
        id=job.id,
        kind=job.kind,
        state=job.state,
        params=dict(job.params or {}),
        destination=Destination.from_json(job.destination),
        result=job.result,
        error=job.error,
        progress_step=job.progress_step,
        progress_total=job.progress_total,
        progress_label=job.progress_label,
        user_pk=job.user_id,
        guild_pk=job.guild_id,
        created_at=job.created_at,
    )


def stored_params(request: JobRequest) -> dict[str, Any]:
    """The params column: the kind's params plus what the queue itself reads back."""
    params = dict(request.params)
    params["_batch"] = {"key": request.batch_key, "cost": request.cost}
    if request.summary:
        params["_summary"] = request.summary
    return params


async def enqueue(
    db: AsyncSession | AsyncConnection,
    request: JobRequest,
    *,
    now: datetime,
    limit: int,
    claim: tuple[str, timedelta] | None = None,
) -> int:
    """Insert a queued job, in one statement; QueueFull when the user already has `limit`
    unfinished jobs, CapReached when the request's daily cap is used. With `claim` (owner,
    lease) it is inserted already running under that lease, for a worker that is free now
    (no separate claim).

    The INSERT … SELECT counts the user's unfinished jobs (and the day's jobs the cap
    counts) and inserts only under the limits, in one statement: on SQLite it holds the
    write lock throughout, so two quick submits cannot both slip under a limit.
    """
    daily = request.daily
    values: dict[str, Any] = {
        "kind": request.kind,
        "params": stored_params(request),
        "guild_id": request.guild_pk,
        "user_id": request.user_pk,
        "channel_id": request.destination.channel_id,
        "destination": request.destination.to_json(),
        "state": "queued",
        "priority": request.priority,
        "created_at": now,
        "lease_owner": None,
        "lease_expires_at": None,
        "started_at": None,
        "attempt": 0,
        "progress_label": "",
        "limit": limit,
        "since": daily.since if daily is not None else now,
        "per_class": daily.per_class if daily is not None else 0,
        "per_student": daily.per_student if daily is not None else 0,
    }
    if claim is not None:
        owner, lease = claim
        values.update(
            state="running",
            lease_owner=owner,
            lease_expires_at=now + lease,
            started_at=now,
            attempt=1,
            progress_label="starting",
        )
    capped = (bool(values["per_class"]), bool(values["per_student"]))
    job_id = (await db.execute(_enqueue_statement(*capped), values)).scalar()
    if job_id is None:
        # Refused: say which limit (the class's day, the student's day, their queue).
        counts = _limit_counts()
        for whose in _CAPS:
            cap = int(values[f"per_{whose}"])
            if not cap:
                continue
            count = (await db.execute(select(counts[whose]), values)).scalar()
            if (count or 0) >= cap:
                raise CapReached(whose, cap)
        active = (await db.execute(select(counts["active"]), values)).scalar()
        raise QueueFull(active=int(active or 0), limit=limit)
    return int(job_id)


_CAPS: tuple[Literal["class", "student"], ...] = ("class", "student")
# The columns a submission sets (the rest take their defaults).
_SUBMITTED = (
    "kind",
    "params",
    "guild_id",
    "user_id",
    "channel_id",
    "destination",
    "state",
    "priority",
    "created_at",
    "lease_owner",
    "lease_expires_at",
    "started_at",
    "attempt",
    "progress_label",
)


@functools.cache
def _limit_counts() -> dict[str, Any]:
    """What enqueue's limits count, as subqueries over bound values: the user's unfinished
    jobs ("active"), and the jobs since the cap's start of the class and of the student (a
    job cancelled before it started never ran, and a failed one gave nothing: neither counts)."""
    c = Job.__table__.c

    def count(*where: Any) -> Any:
        return select(func.count()).select_from(Job.__table__).where(*where).scalar_subquery()

    never_ran = and_(c.state == "cancelled", c.started_at.is_(None))
    # A failed job gave the student nothing (a provider's 429 or 500 among them): it does not
    # use up their day, or one bad hour of a provider would lock a class out until tomorrow.
    gave_nothing = or_(never_ran, c.state == "failed")
    in_class = (c.guild_id == bindparam("guild_id"), c.created_at >= bindparam("since"))
    return {
        "active": count(c.user_id == bindparam("user_id"), c.state.in_(ACTIVE_STATES)),
        "class": count(*in_class, not_(gave_nothing)),
        "student": count(*in_class, c.user_id == bindparam("user_id"), not_(gave_nothing)),
    }


@functools.cache
def _enqueue_statement(class_cap: bool, student_cap: bool) -> Any:
    """enqueue's INSERT … SELECT over bound values, built once per set of caps: building
    it for every submission cost more than running it (1.2 of 2.4 ms, measured)."""
    c = Job.__table__.c
    counts = _limit_counts()
    under = [counts["active"] < bindparam("limit")]
    if class_cap:
        under.append(counts["class"] < bindparam("per_class"))
    if student_cap:
        under.append(counts["student"] < bindparam("per_student"))
    source = select(*(bindparam(k, type_=c[k].type).label(k) for k in _SUBMITTED)).where(*under)
    return insert(cast(Table, Job.__table__)).from_select(_SUBMITTED, source).returning(c.id)


@dataclass(frozen=True)
class QueueSnapshot:
    """What the fair order is computed from (bot.jobs.fairness.fair_order)."""

    waiting: list[Waiting]
    running: dict[int, int]  # jobs running now, per user
    served: dict[int, int]  # jobs started since the oldest waiting job was queued, per user

    def order(self) -> list[Waiting]:
        if len({w.user for w in self.waiting}) <= 1:
            return list(self.waiting)  # one user's jobs: oldest first, nothing to weigh
        return fair_order(self.waiting, self.running, self.served)


async def queue_snapshot(session: AsyncSession) -> QueueSnapshot:
    """The queued jobs and the per-user counts that order them (one statement when one
    user is waiting, three otherwise)."""
    rows = (
        await session.execute(
            select(Job.id, Job.user_id, Job.priority, Job.params, Job.created_at)
            .where(Job.state == "queued")
            .order_by(Job.id)
        )
    ).all()
    waiting = [Waiting.of(r.id, r.user_id, r.priority, r.params or {}) for r in rows]
    if len({w.user for w in waiting}) <= 1:
        return QueueSnapshot(waiting, {}, {})
    backlog_began = min(row.created_at for row in rows)
    running = await _counts(session, Job.state == "running")
    served = await _counts(session, Job.started_at.is_not(None), Job.started_at >= backlog_began)
    return QueueSnapshot(waiting, running, served)


async def fair_queue(session: AsyncSession) -> list[Waiting]:
    """Every queued job in the order it would start (see bot.jobs.fairness)."""
    return (await queue_snapshot(session)).order()


async def _counts(session: AsyncSession, *where: Any) -> dict[int, int]:
    """Jobs per user matching `where`."""
    rows = await session.execute(
        select(Job.user_id, func.count()).where(*where).group_by(Job.user_id)
    )
    return {user: count for user, count in rows.all()}


async def claim(
    session: AsyncSession, ids: Sequence[int], *, owner: str, now: datetime, lease: timedelta
) -> list[Job]:
    """Move queued jobs to running under our lease; returns those we actually got."""
    if not ids:
        return []
    # SKIP LOCKED (PostgreSQL): a job another bot is claiming now is passed over, not
    # waited for; the state check in the UPDATE itself keeps the claim exclusive.
    free = (
        select(Job.id)
        .where(Job.id.in_(ids), Job.state == "queued")
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    got = await session.scalars(
        update(Job)
        .where(Job.id.in_(free), Job.state == "queued")
        .values(
            state="running",
            lease_owner=owner,
            lease_expires_at=now + lease,
            started_at=now,
            attempt=Job.attempt + 1,
            progress_step=0,
            progress_label="starting",
        )
        .returning(Job)
    )
    return sorted(got, key=lambda job: job.id)


async def renew(
    session: AsyncSession, ids: Iterable[int], *, owner: str, until: datetime
) -> tuple[list[int], list[int]]:
    """Extend our leases: (the ids still ours, now leased until `until`; those of them whose
    cancellation was requested meanwhile)."""
    ids = list(ids)
    if not ids:
        return [], []
    mine = and_(Job.id.in_(ids), Job.lease_owner == owner)
    renewed = await session.scalars(
        update(Job).where(mine).values(lease_expires_at=until).returning(Job.id)
    )
    kept = list(renewed)
    to_cancel = await session.scalars(
        select(Job.id).where(mine, Job.state == "running", Job.cancel_requested.is_(True))
    )
    return kept, list(to_cancel)


async def set_progress(
    session: AsyncSession, job_id: int, *, owner: str, step: int, total: int, label: str
) -> None:
    await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == "running", Job.lease_owner == owner)
        .values(progress_step=step, progress_total=total, progress_label=label[:200])
    )


async def finish(
    session: AsyncSession,
    job_id: int,
    *,
    owner: str | None,
    state: str,
    now: datetime,
    lease: timedelta,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    delivered: bool = False,
    keep: bool = True,
) -> Job | None:
    """Record the outcome of a job we run; None if our lease was lost (someone else has it).

    `delivered`: its reply already went out, so it is marked delivered in the same
    statement. Otherwise the lease now covers delivery: only we deliver it until the lease
    runs out; with `keep` False (no adapter for its platform here) it is left for any
    bot that serves its platform. With `owner` None it is a result found in the stream of
    a bot that stopped (bot/jobs/rq.py): recorded whoever's lease the job carries, and
    left for any bot that serves its platform to deliver."""
    assert state in FINISHED_STATES
    after: dict[str, Any] = (
        {"delivered_at": now, "lease_owner": None, "lease_expires_at": None}
        if delivered
        else {"lease_expires_at": now + lease}
        if owner is not None and keep
        else {"lease_owner": None, "lease_expires_at": None}
    )
    mine = Job.lease_owner == owner if owner is not None else literal(True)
    done = await session.scalars(
        update(Job)
        .where(Job.id == job_id, Job.state == "running", mine)
        .values(state=state, result=result, error=error, finished_at=now, **after)
        .returning(Job)
    )
    return done.one_or_none()


async def release(
    session: AsyncSession, ids: Iterable[int], *, owner: str, now: datetime
) -> list[int]:
    """Give back what we hold when stopping cleanly: running jobs return to the queue
    (their attempt does not count; those asked to cancel end cancelled) and undelivered
    results become anyone's to deliver. Returns the requeued ids."""
    # Waits for a cancel being requested now (no SKIP LOCKED): it must be seen here.
    jobs = await _running(session, Job.id.in_(list(ids)), Job.lease_owner == owner, wait=True)
    requeued = []
    for job in jobs:
        if not _cancelled_meanwhile(job, now):
            _requeue(job)
            job.attempt = max(0, job.attempt - 1)
            requeued.append(job.id)
    await session.execute(
        update(Job)
        .where(Job.lease_owner == owner, Job.state.in_(FINISHED_STATES), Job.delivered_at.is_(None))
        .values(lease_owner=None, lease_expires_at=None)
    )
    return requeued


async def keep_alive(session: AsyncSession, ids: Iterable[int], *, until: datetime) -> None:
    """Extend the leases of running jobs that are alive elsewhere (a live RQ worker runs
    them, or they wait in its queue), whichever bot claimed them."""
    ids = list(ids)
    if ids:
        # Every bot renews these same rows in its sweep: locked in id order, skipping those
        # another bot holds (it is renewing or finishing them), two sweeps cannot deadlock.
        rows = (
            select(Job.id)
            .where(Job.id.in_(ids), Job.state == "running", Job.lease_expires_at < until)
            .order_by(Job.id)
            .with_for_update(skip_locked=True)
        )
        await session.execute(
            update(Job).where(Job.id.in_(rows.scalar_subquery())).values(lease_expires_at=until)
        )


async def requeue_stopped(
    session: AsyncSession, ids: Iterable[int], *, owner: str, now: datetime
) -> tuple[list[int], list[int]]:
    """Our running jobs whose worker died: back to the queue (the attempt counts), or ended
    (see _requeue_or_end). Returns (requeued, ended) ids."""
    ids = list(ids)
    if not ids:
        return [], []
    jobs = await _running(session, Job.id.in_(ids), Job.lease_owner == owner)
    return _requeue_or_end(jobs, now)


async def requeue_expired(
    session: AsyncSession,
    *,
    now: datetime,
    gone: Collection[str] = (),
    alive: Collection[int] = (),
) -> tuple[list[int], list[int]]:
    """Running jobs whose bot stopped renewing their lease (it died), or whose bot is known
    to be `gone` (it died on this machine) unless they are `alive` elsewhere (on RQ workers):
    back to the queue, or ended (see _requeue_or_end). Returns (requeued, ended) ids."""
    stopped = Job.lease_expires_at < now
    if gone:
        stopped = or_(stopped, and_(Job.lease_owner.in_(gone), Job.id.not_in(alive)))
    # Rows locked here stay locked until commit: two bots never requeue (and count) the
    # same job, and a job being claimed or finished meanwhile is left to that bot.
    return _requeue_or_end(await _running(session, stopped), now)


async def running_owners(session: AsyncSession) -> list[str]:
    """The bots that hold running jobs."""
    owners = await session.scalars(
        select(Job.lease_owner)
        .where(Job.state == "running", Job.lease_owner.is_not(None))
        .distinct()
    )
    return [owner for owner in owners if owner is not None]


async def _running(session: AsyncSession, *where: Any, wait: bool = False) -> list[Job]:
    """The running jobs that match `where`, locked (skipping those locked already unless
    `wait`) until the transaction ends."""
    jobs = await session.scalars(
        select(Job)
        .where(Job.state == "running", *where)
        .order_by(Job.id)
        .with_for_update(skip_locked=not wait)
    )
    return list(jobs)


def _requeue_or_end(jobs: list[Job], now: datetime) -> tuple[list[int], list[int]]:
    """Running jobs that lost their runner: back to the queue, or ended — cancelled when
    that was asked meanwhile, failed once they used up max_attempts."""
    requeued, ended = [], []
    for job in jobs:
        if _cancelled_meanwhile(job, now):
            ended.append(job.id)
        elif job.attempt < job.max_attempts:
            _requeue(job)
            requeued.append(job.id)
        else:
            _end(job, "failed", now)
            job.error = (
                f"This job was interrupted {job.attempt} times (the bot restarted), so I "
                "stopped retrying it. Try again, maybe with fewer tokens."
            )
            ended.append(job.id)
    return requeued, ended


def _cancelled_meanwhile(job: Job, now: datetime) -> bool:
    """End as cancelled a job handed back whose cancel was requested while it ran: nothing
    runs it now to honour the cancel, and requeued it would run in full. True if ended."""
    if job.cancel_requested:
        _end(job, "cancelled", now)
    return bool(job.cancel_requested)


def _requeue(job: Job) -> None:
    job.state, job.lease_owner, job.lease_expires_at = "queued", None, None
    job.started_at, job.progress_step, job.progress_label = None, 0, ""


def _end(job: Job, state: str, now: datetime) -> None:
    """Finished, and anyone's to deliver (as a job cancelled while queued is)."""
    job.state, job.finished_at = state, now
    job.lease_owner, job.lease_expires_at = None, None


async def take_for_delivery(
    session: AsyncSession,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    platforms: Collection[str] | None = None,
    limit: int = 50,
) -> list[Job]:
    """Finished, undelivered jobs that are ours to deliver: ours already, or left by a bot
    that stopped (lease released or expired), for one of `platforms` (those this process
    has an adapter for; None: any). Takes the lease so no one else sends them.

    One statement: the candidates are locked with SKIP LOCKED (PostgreSQL) and the UPDATE
    checks again that they are still free, so two bots never take the same job."""
    free = and_(
        Job.state.in_(FINISHED_STATES),
        Job.delivered_at.is_(None),
        or_(
            Job.lease_owner == owner,
            Job.lease_owner.is_(None),
            Job.lease_expires_at.is_(None),
            Job.lease_expires_at < now,
        ),
    )
    candidates = select(Job.id).where(free)
    if platforms is not None:
        if not platforms:
            return []
        candidates = candidates.where(Job.destination["platform"].as_string().in_(platforms))
    candidates = candidates.order_by(Job.id).limit(limit).with_for_update(skip_locked=True)
    taken = await session.scalars(
        update(Job)
        .where(Job.id.in_(candidates.scalar_subquery()), free)
        .values(lease_owner=owner, lease_expires_at=now + lease)
        .returning(Job)
    )
    return sorted(taken, key=lambda job: job.id)


async def mark_delivered(session: AsyncSession, job_id: int, *, now: datetime) -> bool:
    done = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.delivered_at.is_(None))
        .values(delivered_at=now, lease_owner=None, lease_expires_at=None)
    )
    return getattr(done, "rowcount", 0) == 1


async def request_cancel(
    session: AsyncSession,
    job_id: int,
    *,
    user_pk: int,
    guild_pk: int,
    instructor: bool,
    now: datetime,
) -> tuple[str, Job | None]:
    """('cancelled', job) for a queued job (finished now), ('cancelling', job) for a running
    one (its runner stops after the current step), or why not."""
    job = await session.get(Job, job_id)
    if job is None or job.guild_id != guild_pk:
        return "not_found", None
    if job.user_id != user_pk and not instructor:
        return "not_allowed", None
    if job.state in FINISHED_STATES:
        return "finished", job
    queued = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == "queued")
        .values(state="cancelled", cancel_requested=True, finished_at=now)
    )
    if getattr(queued, "rowcount", 0) == 1:
        await session.refresh(job)
        return "cancelled", job
    await session.execute(
        update(Job).where(Job.id == job_id, Job.state == "running").values(cancel_requested=True)
    )
    await session.refresh(job)
    return ("cancelling" if job.state == "running" else "finished"), job


async def active_jobs(
    session: AsyncSession, *, guild_pk: int, user_pk: int | None = None
) -> list[Job]:
    """Queued and running jobs of a guild (of one user when user_pk is given)."""
    query = select(Job).where(Job.guild_id == guild_pk, Job.state.in_(ACTIVE_STATES))
    if user_pk is not None:
        query = query.where(Job.user_id == user_pk)
    return list(await session.scalars(query.order_by(Job.id)))


async def load(session: AsyncSession, ids: Iterable[int]) -> list[Job]:
    ids = list(ids)
    if not ids:
        return []
    return list(await session.scalars(select(Job).where(Job.id.in_(ids)).order_by(Job.id)))
