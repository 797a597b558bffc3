"""Who answered what: the submissions of one activity merged with the class roster.

The roster comes from the platform when its adapter registered one (Discord members with the
student role, Slack channel members); otherwise it is everyone who has used the bot in the
guild, instructors excepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.activities import store
from bot.delivery import Roster
from bot.identity import Role
from bot.store import Store
from bot.store.models import Activity

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
        answers = await store.answers(session, activity.id)
        users = await store.guild_users(session, activity.guild_id)
        used = await store.models_used(
            session, activity.guild_id, activity.opens_at, activity.closes_at
        )
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
        expected = [
            (user.external_id, user.display_name or user.external_id)
            for user in users
            if user.role != Role.INSTRUCTOR.value
        ]
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
    return Results(activity=activity, rows=tuple(rows), roster_source=source)
