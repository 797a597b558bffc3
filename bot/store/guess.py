"""The guess-the-task game: rounds per channel, one answer per student, per-channel scores.

A round is open until revealed; scores count only revealed rounds, so nobody learns the
answer from the scoreboard while a round is still open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import GuessAnswer, GuessRound, User


@dataclass(frozen=True)
class Score:
    name: str
    right: int
    answered: int


async def open_round(session: AsyncSession, guild_id: int, channel_id: str) -> GuessRound | None:
    """The channel's newest round that has not been revealed."""
    return await session.scalar(
        select(GuessRound)
        .where(
            GuessRound.guild_id == guild_id,
            GuessRound.channel_id == channel_id,
            GuessRound.revealed_at.is_(None),
        )
        .order_by(GuessRound.started_at.desc(), GuessRound.id.desc())
        .limit(1)
    )


async def find_round(
    session: AsyncSession, round_id: int, guild_id: int, channel_id: str
) -> GuessRound | None:
    """A round of this channel (a round id from elsewhere is not found)."""
    return await session.scalar(
        select(GuessRound).where(
            GuessRound.id == round_id,
            GuessRound.guild_id == guild_id,
            GuessRound.channel_id == channel_id,
        )
    )


async def recent_models(
    session: AsyncSession, guild_id: int, channel_id: str, limit: int = 50
) -> set[str]:
    rows = await session.scalars(
        select(GuessRound.model_id)
        .where(GuessRound.guild_id == guild_id, GuessRound.channel_id == channel_id)
        .order_by(GuessRound.id.desc())
        .limit(limit)
    )
    return set(rows)


async def start_round(
    session: AsyncSession,
    *,
    guild_id: int,
    channel_id: str,
    model_id: str,
    task: str,
    now: datetime,
) -> GuessRound:
    row = GuessRound(
        guild_id=guild_id, channel_id=channel_id, model_id=model_id, task=task, started_at=now
    )
    session.add(row)
    await session.flush()
    return row


async def add_answer(
    session: AsyncSession, round_: GuessRound, user_id: int, answer: str, now: datetime
) -> bool:
    """Record a student's answer; False if they already answered this round."""
    already = await session.scalar(
        select(GuessAnswer.id).where(
            GuessAnswer.round_id == round_.id, GuessAnswer.user_id == user_id
        )
    )
    if already is not None:
        return False
    try:
        # A savepoint: a double click racing itself hits the unique constraint, not the
        # whole transaction.
        async with session.begin_nested():
            session.add(
                GuessAnswer(
                    round_id=round_.id,
                    user_id=user_id,
                    answer=answer,
                    correct=answer == round_.task,
                    created_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


async def answered_by(session: AsyncSession, round_id: int) -> set[str]:
    """Platform user ids of everyone who answered a round."""
    rows = await session.scalars(
        select(User.external_id)
        .join(GuessAnswer, GuessAnswer.user_id == User.id)
        .where(GuessAnswer.round_id == round_id)
    )
    return set(rows)


async def reveal(session: AsyncSession, round_id: int, now: datetime) -> bool:
    """Close a round; False if someone else revealed it first (one reveal message only)."""
    result = await session.execute(
        update(GuessRound)
        .where(GuessRound.id == round_id, GuessRound.revealed_at.is_(None))
        .values(revealed_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def tally(session: AsyncSession, round_id: int) -> tuple[dict[str, int], list[str]]:
    """How many gave each answer, and the names of those who were right."""
    answers = (
        await session.execute(
            select(GuessAnswer.answer, GuessAnswer.correct, User.display_name)
            .join(User, User.id == GuessAnswer.user_id)
            .where(GuessAnswer.round_id == round_id)
            .order_by(GuessAnswer.created_at, GuessAnswer.id)
        )
    ).all()
    counts: dict[str, int] = {}
    right: list[str] = []
    for answer, correct, name in answers:
        counts[answer] = counts.get(answer, 0) + 1
        if correct:
            right.append(name)
    return counts, right


async def channel_scores(
    session: AsyncSession, guild_id: int, channel_id: str, limit: int = 10
) -> list[Score]:
    """Right answers per student over the channel's revealed rounds, best first."""
    right = func.sum(case((GuessAnswer.correct, 1), else_=0))
    answered = func.count(GuessAnswer.id)
    rows = (
        await session.execute(
            select(User.display_name, right, answered)
            .join(GuessAnswer, GuessAnswer.user_id == User.id)
            .join(GuessRound, GuessRound.id == GuessAnswer.round_id)
            .where(
                GuessRound.guild_id == guild_id,
                GuessRound.channel_id == channel_id,
                GuessRound.revealed_at.is_not(None),
            )
            .group_by(User.id, User.display_name)
            .order_by(right.desc(), answered.asc(), User.display_name)
            .limit(limit)
        )
    ).all()
    return [Score(name=name, right=int(r or 0), answered=int(a)) for name, r, a in rows]
