"""Answers arriving together are saved in one transaction (bot/store/group.py), each with
its own outcome: the right versions, the latest text kept, deadlines checked at each
answer's own time, and one bad answer costing the others nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.activities import store
from bot.identity import Actor, Role
from bot.replies import Error, Reply, Text
from bot.router import Invocation
from bot.store.models import Activity, Submission, SubmissionVersion, User
from tests.activity.conftest import post, run_as
from tests.support.botdriver import BotDriver


async def submit(bot: BotDriver, user: str, activity_id: int, answer: str) -> Reply:
    actor = Actor("console", user, user, Role.STUDENT, "console", "console")
    invocation = Invocation(("activity", "submit"), {"id": activity_id, "answer": answer}, actor)
    return [reply async for reply in bot.app.router.dispatch(invocation)][-1]


async def test_a_class_answering_at_once_is_saved_together_and_right(bot: BotDriver) -> None:
    activity_id = await post(bot)
    other_guild = await run_as(
        bot, "/activity post title:Elsewhere minutes:5 Hi", user="t2", role="instructor", guild="g2"
    )
    assert not isinstance(other_guild[-1], Error)
    students = [f"s{n}" for n in range(12)]
    for student in students:  # known already: only the answers are written below
        await bot.run("/help", user=student)
    # Each student: three drafts, then the third again (a double click); arrival order is
    # the order of this list.
    plan = [(s, f"{s} draft {d}") for d in range(3) for s in students]
    plan += [(s, f"{s} draft 2") for s in students]
    transactions = 0
    opened = bot.app.services.store.sessions

    def counting() -> object:
        nonlocal transactions
        transactions += 1
        return opened()

    bot.app.services.store.sessions = counting  # type: ignore[assignment]
    replies = await asyncio.gather(
        *(submit(bot, s, activity_id, answer) for s, answer in plan),
        submit(bot, "s0", 999, "no such activity"),
        submit(bot, "s1", 2, "an activity of another class"),
    )
    bot.app.services.store.sessions = opened
    assert transactions == 1  # 50 answers arriving together: one transaction

    *saved, unknown, foreign = replies
    assert isinstance(unknown, Error) and unknown.what == "There is no activity #999 here."
    assert isinstance(foreign, Error) and foreign.what == "There is no activity #2 here."
    texts = [r.text for r in saved if isinstance(r, Text)]
    assert len(texts) == len(plan)
    for n in range(len(students)):
        mine = texts[n :: len(students)]
        assert mine[0].startswith(f"Saved your answer to #{activity_id} Models hub")
        assert mine[1].startswith(f"Updated your answer to #{activity_id} Models hub (version 2)")
        assert mine[2].startswith(f"Updated your answer to #{activity_id} Models hub (version 3)")
        assert mine[3].startswith(f"Your answer to #{activity_id} Models hub is unchanged")

    async with bot.app.services.store.session() as session:
        kept = {
            name: (answer, version)
            for name, answer, version in await session.execute(
                select(User.external_id, Submission.answer, Submission.version).join(
                    User, User.id == Submission.user_id
                )
            )
        }
        history = (await session.execute(select(SubmissionVersion.version))).scalars().all()
    assert kept == {s: (f"{s} draft 2", 3) for s in students}
    assert sorted(history) == sorted([1, 2, 3] * len(students))


async def test_each_answer_is_checked_against_the_deadline_at_its_own_time(
    bot: BotDriver,
) -> None:
    activity_id = await post(bot, minutes=10)
    await bot.run("/help", user="ana")
    await bot.run("/help", user="ben")
    db = bot.app.services.store
    async with db.session() as session:
        activity = await session.get(Activity, activity_id)
        users = dict((await session.execute(select(User.external_id, User.id))).all())
    assert activity is not None
    closes = activity.closes_at
    writer = store.submissions(db)
    early, late = await asyncio.gather(
        writer.submit(
            store.Answer(
                activity.guild_id,
                activity_id,
                users["ana"],
                "just in time",
                closes - timedelta(seconds=1),
            )
        ),
        writer.submit(
            store.Answer(activity.guild_id, activity_id, users["ben"], "too late", closes)
        ),
        return_exceptions=True,
    )
    assert isinstance(early, store.Saved) and early.version == 1 and early.changed
    assert isinstance(late, store.ActivityClosed) and late.activity.id == activity_id
    async with db.session() as session:
        assert (await session.scalars(select(Submission.answer))).all() == ["just in time"]


async def test_one_bad_answer_does_not_cost_the_others_theirs(bot: BotDriver) -> None:
    activity_id = await post(bot)
    for student in ("ana", "ben"):
        await bot.run("/help", user=student)
    db = bot.app.services.store
    async with db.session() as session:
        activity = await session.get(Activity, activity_id)
        users = dict((await session.execute(select(User.external_id, User.id))).all())
    assert activity is not None
    now = activity.opens_at
    writer = store.submissions(db)
    ana, ghost, ben = await asyncio.gather(
        writer.submit(store.Answer(activity.guild_id, activity_id, users["ana"], "ana's", now)),
        # No such user: the foreign key refuses the row, and with it the whole batch.
        writer.submit(store.Answer(activity.guild_id, activity_id, 99_999, "nobody's", now)),
        writer.submit(store.Answer(activity.guild_id, activity_id, users["ben"], "ben's", now)),
        return_exceptions=True,
    )
    assert isinstance(ana, store.Saved) and isinstance(ben, store.Saved)
    assert isinstance(ghost, IntegrityError)
    async with db.session() as session:
        kept = sorted((await session.scalars(select(Submission.answer))).all())
        versions = sorted((await session.scalars(select(SubmissionVersion.answer))).all())
    assert kept == versions == ["ana's", "ben's"]


@pytest.mark.parametrize("count", [1, 3])
async def test_a_lone_answer_is_saved_at_once(bot: BotDriver, count: int) -> None:
    # No waiting for company: an answer alone is written in its own transaction at once.
    activity_id = await post(bot)
    for n in range(count):
        reply = await asyncio.wait_for(submit(bot, "ana", activity_id, f"answer {n}"), 2.0)
        assert isinstance(reply, Text), reply
    async with bot.app.services.store.session() as session:
        assert (await session.scalar(select(Submission.version))) == count
