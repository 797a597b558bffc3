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

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.identity import Role
from bot.store.db import Store
from bot.store.group import Grouped
from bot.store.models import (
    Activity,
    Guild,
    Submission,
    SubmissionVersion,
    UsageEvent,
    User,
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


# Who counts as a student: every user the platform did not mark as an instructor (the rosters
# leave out instructors by the same rule). An instructor trying their own activity is not one
# of the class: left out of every count, list and CSV of answers.
IS_STUDENT = User.role != Role.INSTRUCTOR.value


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
    """Per activity, how many students answered it (see IS_STUDENT)."""
    ids = list(activity_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(Submission.activity_id, func.count())
        .join(User, User.id == Submission.user_id)
        .where(Submission.activity_id.in_(ids), IS_STUDENT)
        .group_by(Submission.activity_id)
    )
    counts = {activity_id: 0 for activity_id in ids}
    counts.update({activity_id: count for activity_id, count in rows})
    return counts


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


@dataclass(frozen=True)
class Answer:
    """A student's answer to save (see save_answers)."""

    guild_pk: int
    activity_id: int
    user_pk: int
    answer: str
    now: datetime


async def save_answer(
    session: AsyncSession,
    *,
    guild_pk: int,
    activity_id: int,
    user_pk: int,
    answer: str,
    now: datetime,
) -> Saved:
    """Store one answer (see save_answers); raises UnknownActivity or ActivityClosed."""
    (outcome,) = await save_answers(session, [Answer(guild_pk, activity_id, user_pk, answer, now)])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


async def save_answers(
    session: AsyncSession, answers: Sequence[Answer]
) -> list[Saved | UnknownActivity | ActivityClosed]:
    """Store many students' answers together, in arrival order: the latest in submissions,
    every version in submission_versions. One outcome per answer: Saved, or UnknownActivity
    / ActivityClosed for an answer that was not stored (the others are). Run it in a write
    transaction (`Store.write`: on SQLite it holds the write lock from its start).

    The activities are read first, locked against a concurrent close or extend until the
    commit (FOR SHARE on PostgreSQL; SQLite's write lock is already held), and each answer
    is checked against the deadline at its own arrival time. The answers to open
    activities then go in rounds: round n holds the n-th answer of each student, so a
    student who submits twice gets versions v and v+1 and keeps the later text. A round is
    one upsert sent as executemany (`ON CONFLICT DO UPDATE ... RETURNING`), which
    SQLAlchemy turns into a few multi-row statements. Two transactions answering for the
    same student serialize on the row or the write lock: none is lost, none duplicated.
    The same text again (a double click) is not a new version.
    """
    activities = await _activities(session, {a.activity_id for a in answers})
    outcomes: list[Saved | UnknownActivity | ActivityClosed | None] = []
    for item in answers:
        found = activities.get(item.activity_id)
        if found is None or found.guild_id != item.guild_pk:
            outcomes.append(UnknownActivity(item.activity_id))
        elif not is_open(found, item.now):
            outcomes.append(ActivityClosed(found))
        else:
            outcomes.append(None)
    for round_ in _rounds([i for i, outcome in enumerate(outcomes) if outcome is None], answers):
        rows = await session.execute(
            _UPSERT[session.get_bind().dialect.name],
            [
                {
                    "activity_id": answers[i].activity_id,
                    "user_id": answers[i].user_pk,
                    "answer": answers[i].answer,
                    "version": 1,
                    "submitted_at": answers[i].now,
                    "updated_at": answers[i].now,
                }
                for i in round_
            ],
        )
        stored = {(a, u): (pk, version) for pk, a, u, version in rows}
        versions = []
        unchanged = []
        for i in round_:
            item = answers[i]
            activity = activities[item.activity_id]
            hit = stored.get((item.activity_id, item.user_pk))
            if hit is None:
                unchanged.append(i)
                continue
            outcomes[i] = Saved(hit[1], True, activity.title, activity.closes_at)
            versions.append(
                {
                    "submission_id": hit[0],
                    "version": hit[1],
                    "answer": item.answer,
                    "created_at": item.now,
                }
            )
        if versions:
            await session.execute(insert(SubmissionVersion), versions)
        if unchanged:
            current = await _current_versions(session, [answers[i] for i in unchanged])
            for i in unchanged:
                activity = activities[answers[i].activity_id]
                version = current.get((answers[i].activity_id, answers[i].user_pk), 1)
                outcomes[i] = Saved(version, False, activity.title, activity.closes_at)
    for activity in activities.values():
        session.expunge(activity)  # keep its loaded values through a rollback
    return [outcome for outcome in outcomes if outcome is not None]


def _rounds(indexes: Iterable[int], answers: Sequence[Answer]) -> list[list[int]]:
    """`indexes` in rounds: the n-th answer of each student in round n."""
    rounds: list[list[int]] = []
    count: dict[tuple[int, int], int] = {}
    for i in indexes:
        key = (answers[i].activity_id, answers[i].user_pk)
        n = count.get(key, 0)
        count[key] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(i)
    return rounds


def _upsert(dialect: Any) -> Any:
    insert_ = dialect.insert(Submission)
    return insert_.on_conflict_do_update(
        index_elements=["activity_id", "user_id"],
        set_={
            "answer": insert_.excluded.answer,
            "version": Submission.version + 1,
            "updated_at": insert_.excluded.updated_at,
        },
        # The same text again (a double click) is not a new version.
        where=Submission.answer != insert_.excluded.answer,
    ).returning(Submission.id, Submission.activity_id, Submission.user_id, Submission.version)


# Built once: the statement is the same for every round, so SQLAlchemy compiles it once.
_UPSERT = {"sqlite": _upsert(sqlite), "postgresql": _upsert(postgresql)}


async def _current_versions(
    session: AsyncSession, answers: Sequence[Answer]
) -> dict[tuple[int, int], int]:
    """(activity id, user id) → the version stored now."""
    rows = await session.execute(
        select(Submission.activity_id, Submission.user_id, Submission.version).where(
            Submission.activity_id.in_({a.activity_id for a in answers}),
            Submission.user_id.in_({a.user_pk for a in answers}),
        )
    )
    return {(a, u): version for a, u, version in rows}


async def _activities(session: AsyncSession, ids: Iterable[int]) -> dict[int, Activity]:
    # FOR SHARE: a close or extend in another transaction waits for this one (PostgreSQL;
    # SQLite leaves the clause out and its write lock does the same).
    rows = await session.scalars(
        select(Activity).where(Activity.id.in_(set(ids))).with_for_update(read=True)
    )
    return {activity.id: activity for activity in rows}


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


async def close_and_count(
    session: AsyncSession, activity: Activity, now: datetime
) -> tuple[bool, int]:
    """close_now, and the number of answers it closed with."""
    closed = await close_now(session, activity, now)
    return closed, (await submission_counts(session, [activity.id]))[activity.id]


async def withdraw(session: AsyncSession, activity: Activity) -> None:
    """Delete an activity whose announcement could not be posted."""
    await session.delete(await session.merge(activity))


async def extend(
    session: AsyncSession, activity: Activity, closes_at: datetime, reminded_at: datetime | None
) -> None:
    """Move the deadline (re-opening a closed activity) and re-arm the closing message, and
    the reminder unless `reminded_at` says it is done."""
    await session.execute(
        update(Activity)
        .where(Activity.id == activity.id)
        .values(closes_at=closes_at, closed_at=None, reminded_at=reminded_at)
    )
    activity.closes_at, activity.closed_at, activity.reminded_at = closes_at, None, reminded_at


async def student_answers(session: AsyncSession, activity_id: int) -> list[tuple[Submission, User]]:
    """The students' answers to an activity (see IS_STUDENT), earliest first."""
    rows = await session.execute(
        select(Submission, User)
        .join(User, User.id == Submission.user_id)
        .where(Submission.activity_id == activity_id, IS_STUDENT)
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


async def students(session: AsyncSession, guild_pk: int) -> list[User]:
    """Everyone who has used the bot in the guild, less instructors (see IS_STUDENT)."""
    rows = await session.scalars(
        select(User).where(User.guild_id == guild_pk, IS_STUDENT).order_by(User.id)
    )
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


NOT_SAVED = "The class database is busy; your answer was not saved."


def submissions(db: Store) -> Grouped[Answer, Saved]:
    """The group writer of answers for this store: answers arriving together are saved in
    one transaction; past the write deadline each gets DatabaseBusy (NOT_SAVED)."""
    return db.group("activity submissions", _submission_writer)


def _submission_writer(db: Store) -> Grouped[Answer, Saved]:
    return Grouped(db, save_answers, busy=NOT_SAVED)
