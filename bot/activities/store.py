"""Activity data access. Every lookup a command makes takes the guild's database id, so an
activity of one guild/workspace is "unknown" in every other.

Deadlines live in the database: `closes_at` is the deadline (moved by /activity extend and
/activity close), `reminded_at` and `closed_at` mark the reminder and the closing message as
sent. Both are claimed with a conditional UPDATE, so a message is sent once even when two
schedulers (or a scheduler and /activity close) race.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, func, literal, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import (
    Activity,
    Guild,
    Submission,
    SubmissionVersion,
    UsageEvent,
    User,
    UtcDateTime,
)


class UnknownActivity(LookupError):
    """No activity with that id in this guild."""


class ActivityClosed(Exception):
    """The deadline passed before the answer was saved (the transaction is rolled back)."""

    def __init__(self, activity: Activity) -> None:
        super().__init__(f"activity {activity.id} is closed")
        self.activity = activity


@dataclass(frozen=True)
class Saved:
    version: int
    # False when the answer equals the one already saved (a double click): no new version.
    changed: bool
    # Of the activity, for the reply.
    title: str
    closes_at: datetime


def is_open(activity: Activity, now: datetime) -> bool:
    return activity.closed_at is None and now < activity.closes_at


async def create(
    session: AsyncSession,
    *,
    guild_pk: int,
    user_pk: int,
    channel_id: str,
    title: str,
    prompt: str,
    opens_at: datetime,
    closes_at: datetime,
    destination: dict[str, Any],
) -> Activity:
    activity = Activity(
        guild_id=guild_pk,
        channel_id=channel_id,
        created_by=user_pk,
        title=title,
        prompt=prompt,
        opens_at=opens_at,
        closes_at=closes_at,
        reminded_at=None,
        closed_at=None,
        destination=destination,
    )
    session.add(activity)
    await session.flush()
    return activity


async def get(session: AsyncSession, guild_pk: int, activity_id: int) -> Activity | None:
    return await session.scalar(
        select(Activity).where(Activity.id == activity_id, Activity.guild_id == guild_pk)
    )


async def open_now(session: AsyncSession, guild_pk: int, now: datetime) -> list[Activity]:
    rows = await session.scalars(
        select(Activity)
        .where(
            Activity.guild_id == guild_pk,
            Activity.closed_at.is_(None),
            Activity.closes_at > now,
        )
        .order_by(Activity.closes_at)
    )
    return list(rows)


async def recent(session: AsyncSession, guild_pk: int, limit: int = 10) -> list[Activity]:
    rows = await session.scalars(
        select(Activity)
        .where(Activity.guild_id == guild_pk)
        .order_by(Activity.opens_at.desc(), Activity.id.desc())
        .limit(limit)
    )
    return list(rows)


async def submission_counts(session: AsyncSession, activity_ids: Iterable[int]) -> dict[int, int]:
    ids = list(activity_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(Submission.activity_id, func.count())
        .where(Submission.activity_id.in_(ids))
        .group_by(Submission.activity_id)
    )
    counts = {activity_id: 0 for activity_id in ids}
    counts.update({activity_id: count for activity_id, count in rows})
    return counts


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


async def save_answer(
    session: AsyncSession,
    *,
    guild_pk: int,
    activity_id: int,
    user_pk: int,
    answer: str,
    now: datetime,
) -> Saved:
    """Store a student's answer: the latest in submissions, every version in
    submission_versions. Raises UnknownActivity, or ActivityClosed after the deadline.

    One statement inserts or edits, and only while the activity (of this guild) is open:
    `INSERT ... SELECT FROM activities WHERE open ON CONFLICT DO UPDATE ... RETURNING`. Two
    submits at the same moment serialize on the row (PostgreSQL) or the write lock (SQLite)
    and get versions n and n+1: none is lost, none duplicated, and none slips in after a
    close. Writing first also means SQLite takes its write lock at the start of the
    transaction instead of upgrading a read (which fails at once when another writer won).
    """
    insert = _insert(session, Submission)
    insert_version = _insert(session, SubmissionVersion)
    when = literal(now, UtcDateTime())
    row_if_open = select(
        Activity.id, literal(user_pk), literal(answer, Text()), literal(1), when, when
    ).where(
        Activity.id == activity_id,
        Activity.guild_id == guild_pk,
        Activity.closed_at.is_(None),
        Activity.closes_at > now,
    )
    upsert = (
        insert.from_select(
            ["activity_id", "user_id", "answer", "version", "submitted_at", "updated_at"],
            row_if_open,
        )
        .on_conflict_do_update(
            index_elements=["activity_id", "user_id"],
            set_={
                "answer": insert.excluded.answer,
                "version": Submission.version + 1,
                "updated_at": insert.excluded.updated_at,
            },
            # The same text again (a double click) is not a new version.
            where=Submission.answer != insert.excluded.answer,
        )
        # What the reply shows, in the same round trip (subqueries are allowed here on both
        # SQLite and PostgreSQL): through aiosqlite every statement costs thread hops.
        .returning(
            Submission.id,
            Submission.version,
            _of_activity(Activity.title),
            _of_activity(Activity.closes_at),
        )
    )
    row = (await session.execute(upsert)).first()
    if row is not None:
        submission_id, version, title, closes_at = row
        await session.execute(
            insert_version.values(
                submission_id=submission_id, version=version, answer=answer, created_at=now
            )
        )
        return Saved(version=version, changed=True, title=title, closes_at=closes_at)
    # Nothing written: no such activity here, the activity is closed, or the answer is
    # unchanged.
    activity = await get(session, guild_pk, activity_id)
    if activity is None:
        raise UnknownActivity(activity_id)
    if not is_open(activity, now):
        session.expunge(activity)  # keep its loaded values through the rollback
        raise ActivityClosed(activity)
    current = await session.scalar(
        select(Submission.version).where(
            Submission.activity_id == activity_id, Submission.user_id == user_pk
        )
    )
    return Saved(
        version=int(current or 1),
        changed=False,
        title=activity.title,
        closes_at=activity.closes_at,
    )


def _of_activity(column: Any) -> Any:
    # RETURNING renders its columns unqualified: name the outer row's column explicitly.
    outer: Any = literal_column("submissions.activity_id")
    return select(column).where(Activity.id == outer).scalar_subquery()


async def close_now(session: AsyncSession, activity: Activity, now: datetime) -> bool:
    """Close an activity at once (/activity close); False if its closing message was
    already sent. A deadline that already passed stays the recorded one."""
    closes_at = min(activity.closes_at, now)
    claimed = await session.scalar(
        update(Activity)
        .where(Activity.id == activity.id, Activity.closed_at.is_(None))
        .values(closes_at=closes_at, closed_at=now)
        .returning(Activity.id)
    )
    if claimed is not None:
        activity.closes_at, activity.closed_at = closes_at, now
    return claimed is not None


async def extend(session: AsyncSession, activity: Activity, closes_at: datetime) -> None:
    """Move the deadline (re-opening a closed activity) and re-arm both messages."""
    await session.execute(
        update(Activity)
        .where(Activity.id == activity.id)
        .values(closes_at=closes_at, closed_at=None, reminded_at=None)
    )
    activity.closes_at, activity.closed_at, activity.reminded_at = closes_at, None, None


async def answers(session: AsyncSession, activity_id: int) -> list[tuple[Submission, User]]:
    rows = await session.execute(
        select(Submission, User)
        .join(User, User.id == Submission.user_id)
        .where(Submission.activity_id == activity_id)
        .order_by(Submission.updated_at, Submission.id)
    )
    return [(submission, user) for submission, user in rows]


async def answer_of(session: AsyncSession, activity_id: int, user_pk: int) -> str | None:
    return await session.scalar(
        select(Submission.answer).where(
            Submission.activity_id == activity_id, Submission.user_id == user_pk
        )
    )


async def mine(
    session: AsyncSession, guild_pk: int, user_pk: int
) -> list[tuple[Activity, Submission]]:
    rows = await session.execute(
        select(Activity, Submission)
        .join(Submission, Submission.activity_id == Activity.id)
        .where(Activity.guild_id == guild_pk, Submission.user_id == user_pk)
        .order_by(Activity.opens_at.desc(), Activity.id.desc())
        .limit(25)
    )
    return [(activity, submission) for activity, submission in rows]


async def guild_users(session: AsyncSession, guild_pk: int) -> list[User]:
    rows = await session.scalars(select(User).where(User.guild_id == guild_pk).order_by(User.id))
    return list(rows)


async def models_used(
    session: AsyncSession, guild_pk: int, start: datetime, end: datetime
) -> dict[int, list[tuple[str, int | None]]]:
    """Per user id, the models run between start and end (first use first, each once)."""
    rows = await session.execute(
        select(UsageEvent.user_id, UsageEvent.model_id, UsageEvent.model_params)
        .where(
            UsageEvent.guild_id == guild_pk,
            UsageEvent.model_id.is_not(None),
            UsageEvent.created_at >= start,
            UsageEvent.created_at <= end,
        )
        .order_by(UsageEvent.created_at, UsageEvent.id)
    )
    used: dict[int, dict[str, int | None]] = {}
    for user_pk, model_id, params in rows:
        seen = used.setdefault(user_pk, {})
        if model_id is not None and (model_id not in seen or seen[model_id] is None):
            seen[model_id] = params
    return {user_pk: list(models.items()) for user_pk, models in used.items()}


# -- the scheduler's queries (across guilds: it serves every guild of its platforms) ----------


def _on_platforms(platforms: Sequence[str]) -> Any:
    return Activity.guild_id.in_(select(Guild.id).where(Guild.platform.in_(platforms)))


async def pending(session: AsyncSession, platforms: Sequence[str]) -> list[Activity]:
    """Activities whose closing message has not been sent, soonest deadline first."""
    rows = await session.scalars(
        select(Activity)
        .where(Activity.closed_at.is_(None), _on_platforms(platforms))
        .order_by(Activity.closes_at)
    )
    return list(rows)


async def claim_closing(session: AsyncSession, activity_id: int, now: datetime) -> bool:
    claimed = await session.scalar(
        update(Activity)
        .where(
            Activity.id == activity_id,
            Activity.closed_at.is_(None),
            Activity.closes_at <= now,
        )
        .values(closed_at=now)
        .returning(Activity.id)
    )
    return claimed is not None


async def claim_reminder(session: AsyncSession, activity_id: int, now: datetime) -> bool:
    claimed = await session.scalar(
        update(Activity)
        .where(
            Activity.id == activity_id,
            Activity.reminded_at.is_(None),
            Activity.closed_at.is_(None),
            Activity.closes_at > now,
        )
        .values(reminded_at=now)
        .returning(Activity.id)
    )
    return claimed is not None


async def release(session: AsyncSession, activity_id: int, *, closing: bool) -> None:
    """Undo a claim whose message could not be delivered, so a later tick tries again."""
    values = {"closed_at": None} if closing else {"reminded_at": None}
    await session.execute(update(Activity).where(Activity.id == activity_id).values(**values))


async def platform_of(session: AsyncSession, guild_pk: int) -> tuple[str, str]:
    """The guild's platform and its external id (for outboxes and rosters)."""
    row = (
        await session.execute(select(Guild.platform, Guild.external_id).where(Guild.id == guild_pk))
    ).one()
    return str(row[0]), str(row[1])
