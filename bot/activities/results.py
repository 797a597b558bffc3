"""Who answered what: the submissions of one activity merged with the class roster.

The roster comes from the platform when its adapter registered one (Discord members with the
student role, Slack channel members); otherwise it is everyone who has used the bot in the
guild, instructors excepted. An instructor's own answer (trying the activity out) is not a
row either: the rows, the counts and the CSV are the students' (store.IS_STUDENT).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.activities import store
from bot.charts import ModelUse, activity_chart
from bot.delivery import Roster
from bot.replies import Image
from bot.store import Store
from bot.store.models import Activity, UsageEvent

Model = tuple[str, int | None]


@dataclass(frozen=True)
class StudentRow:
    name: str
    user_id: str
    # None for a student who has not submitted.
    submitted_at: datetime | None
    edits: int
    answer: str
    models: tuple[Model, ...]


@dataclass(frozen=True)
class Results:
    activity: Activity
    # Students who submitted (earliest first), then those who did not (by name).
    rows: tuple[StudentRow, ...]
    # "roster" (from the platform) or "bot users" (everyone seen in the guild).
    roster_source: str
    # Per model: the command it was first used with during the activity ("generate", ...).
    model_commands: Mapping[str, str] = field(default_factory=dict)

    @property
    def submitted(self) -> list[StudentRow]:
        return [row for row in self.rows if row.submitted_at is not None]

    @property
    def missing(self) -> list[StudentRow]:
        return [row for row in self.rows if row.submitted_at is None]


async def collect(database: Store, rosters: Mapping[str, Roster], activity: Activity) -> Results:
    """The activity's rows: `rosters` are the platforms' member lists, by platform name."""
    async with database.session() as session:
        platform, guild_external_id = await store.platform_of(session, activity.guild_id)
        answers = await store.student_answers(session, activity.id)
        users = await store.students(session, activity.guild_id)
        used = await store.models_used(
            session, activity.guild_id, activity.opens_at, activity.closes_at
        )
        commands = await _model_commands(session, activity)
    by_external = {user.external_id: user for user in users}

    rows: list[StudentRow] = []
    for submission, user in answers:
        rows.append(
            StudentRow(
                name=user.display_name or user.external_id,
                user_id=user.external_id,
                submitted_at=submission.updated_at,
                edits=submission.version - 1,
                answer=submission.answer,
                models=tuple(used.get(user.id, ())),
            )
        )

    # The platform call happens outside the database transaction.
    roster = rosters.get(platform)
    members = await roster.students(guild_external_id, activity.channel_id) if roster else None
    if members is None:
        source = "bot users"
        expected = [(user.external_id, user.display_name or user.external_id) for user in users]
    else:
        source = "roster"
        expected = [(member.user_id, member.display_name) for member in members]

    answered = {row.user_id for row in rows}
    missing = sorted(
        {user_id: name for user_id, name in expected if user_id not in answered}.items(),
        key=lambda item: item[1].lower(),
    )
    for user_id, name in missing:
        known = by_external.get(user_id)
        rows.append(
            StudentRow(
                name=name,
                user_id=user_id,
                submitted_at=None,
                edits=0,
                answer="",
                models=tuple(used.get(known.id, ())) if known else (),
            )
        )
    return Results(
        activity=activity, rows=tuple(rows), roster_source=source, model_commands=commands
    )


async def _model_commands(session: AsyncSession, activity: Activity) -> dict[str, str]:
    """Which command each model was used with during the activity (the first one seen)."""
    found = await session.execute(
        select(UsageEvent.model_id, UsageEvent.command)
        .where(
            UsageEvent.guild_id == activity.guild_id,
            UsageEvent.model_id.is_not(None),
            UsageEvent.created_at >= activity.opens_at,
            UsageEvent.created_at <= activity.closes_at,
        )
        .order_by(UsageEvent.created_at, UsageEvent.id)
    )
    commands: dict[str, str] = {}
    for model_id, command in found:
        if model_id is not None:
            commands.setdefault(model_id, command)
    return commands


# How a model was used, by the command that used it, as the chart's legend says it.
USED_FOR = {"generate": "text-generation", "imagine": "text-to-image", "search": "looked up"}


async def chart(collected: Results, tz: tzinfo) -> Image:
    """The models the class ran (students per model, by task and size) and the
    submissions over time (in the class's time zone `tz`), as a picture whose alt text
    holds the same numbers."""
    students: Counter[str] = Counter()
    sizes: dict[str, int | None] = {}
    for row in collected.rows:
        for model_id, params in row.models:
            students[model_id] += 1
            sizes[model_id] = sizes.get(model_id) or params
    uses = [
        ModelUse(
            model=model_id,
            params=sizes[model_id],
            students=count,
            kind=USED_FOR.get(
                collected.model_commands.get(model_id, ""),
                collected.model_commands.get(model_id, "other"),
            ),
        )
        for model_id, count in students.items()
    ]
    submitted = [row.submitted_at.astimezone(tz) for row in collected.submitted if row.submitted_at]
    activity = collected.activity
    return await activity_chart(
        f"#{activity.id}: {activity.title}", uses, submitted, expected=len(collected.rows)
    )
