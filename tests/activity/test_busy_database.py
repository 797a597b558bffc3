"""Another process holds SQLite's write lock (BEGIN IMMEDIATE on a second connection):
commands that only read answer at once, writes wait for the lock within the deadline, and
past it the student is told plainly that nothing was saved."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select

from bot.replies import Card, Error, Text, as_plain_text
from bot.store.models import Submission, SubmissionVersion, UsageEvent, User
from tests.activity.conftest import post
from tests.support.botdriver import BotDriver, FakeClock


@contextmanager
def write_lock(bot: BotDriver) -> Iterator[sqlite3.Connection]:
    """Hold the database's write lock from another connection (as another process would)
    until the block ends or the connection commits."""
    path = bot.app.services.store.engine.url.database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield other
    finally:
        if other.in_transaction:
            other.execute("COMMIT")
        other.close()


async def timed(coroutine: object) -> tuple[object, float]:
    started = time.monotonic()
    result = await coroutine  # type: ignore[misc]
    return result, time.monotonic() - started


async def answers(bot: BotDriver) -> list[tuple[str, int]]:
    async with bot.app.services.store.session() as session:
        rows = await session.execute(select(Submission.answer, Submission.version))
        return [(answer, version) for answer, version in rows]


async def test_reading_commands_answer_at_once_while_another_process_writes(
    bot: BotDriver, clock: FakeClock, tmp_path: Path
) -> None:
    activity_id = await post(bot, minutes=30)
    await bot.run(f"/activity submit id:{activity_id} My first answer", user="ana")
    # Long enough that the router asks the database again who ana is (its cache expired)
    # and her last visit is old: that refresh must not hold up her command.
    clock.advance(minutes=11)
    bot.app.services.store.write_deadline = 5.0
    with write_lock(bot) as other:
        for line in ("/help", "/help activity", "/activity list", "/activity mine"):
            reply, took = await timed(bot.run(line, user="ana"))
            assert not isinstance(reply, Error), (line, reply)
            assert took < 1.0, (line, took)
        mine = await bot.run("/activity mine", user="ana")
        assert "My first answer" in as_plain_text(mine)
        other.execute("COMMIT")
    # The refresh of her last visit lands once the lock is gone.
    for _ in range(100):
        async with bot.app.services.store.session() as session:
            last_seen = await session.scalar(
                select(User.last_seen).where(User.external_id == "ana")
            )
        if last_seen == clock.now:
            break
        await asyncio.sleep(0.05)
    assert last_seen == clock.now


async def test_an_answer_waits_for_the_lock_and_is_saved(bot: BotDriver) -> None:
    activity_id = await post(bot)
    await bot.run("/help", user="ana")  # ana is known: her answer is the only write
    bot.app.services.store.write_deadline = 10.0
    with write_lock(bot) as other:
        submitting = asyncio.ensure_future(
            timed(bot.run(f"/activity submit id:{activity_id} Saved after the wait", user="ana"))
        )
        await asyncio.sleep(0.5)
        assert not submitting.done()
        other.execute("COMMIT")
        reply, took = await submitting
    assert isinstance(reply, Text) and reply.text.startswith("Saved your answer"), reply
    assert took >= 0.5
    assert await answers(bot) == [("Saved after the wait", 1)]


async def test_an_answer_waits_through_more_than_one_try(bot: BotDriver) -> None:
    # Past SQLite's own wait (2.5 s) the write tries again, until the deadline.
    activity_id = await post(bot)
    await bot.run("/help", user="ana")
    bot.app.services.store.write_deadline = 8.0
    with write_lock(bot) as other:
        submitting = asyncio.ensure_future(
            bot.run(f"/activity submit id:{activity_id} Saved on the second try", user="ana")
        )
        await asyncio.sleep(3.0)
        assert not submitting.done()
        other.execute("COMMIT")
        reply = await submitting
    assert isinstance(reply, Text) and reply.text.startswith("Saved your answer"), reply
    assert await answers(bot) == [("Saved on the second try", 1)]


async def test_past_the_deadline_the_student_is_told_the_answer_was_not_saved(
    bot: BotDriver,
) -> None:
    activity_id = await post(bot)
    await bot.run("/help", user="ana")
    await bot.run("/help", user="ben")
    bot.app.services.store.write_deadline = 1.0
    with write_lock(bot):
        replies, took = await timed(
            asyncio.gather(
                bot.run(f"/activity submit id:{activity_id} Lost in the crowd", user="ana"),
                bot.run(f"/activity submit id:{activity_id} Me too", user="ben"),
            )
        )
    assert took < 3.0
    for reply in replies:  # type: ignore[attr-defined]
        assert isinstance(reply, Error), reply
        assert reply.what == "The class database is busy; your answer was not saved."
        assert reply.todo == "Try again in a minute."
        assert "Something went wrong" not in reply.what
    assert await answers(bot) == []
    # Once the lock is gone, the same command works.
    again = await bot.run(f"/activity submit id:{activity_id} Lost in the crowd", user="ana")
    assert isinstance(again, Text) and again.text.startswith("Saved your answer"), again
    async with bot.app.services.store.session() as session:
        assert len((await session.scalars(select(SubmissionVersion))).all()) == 1


async def test_an_instructor_is_told_when_the_activity_was_not_posted(bot: BotDriver) -> None:
    await bot.run("/help", user="teacher", role="instructor")
    bot.app.services.store.write_deadline = 0.5
    with write_lock(bot):
        reply = await bot.run(
            "/activity post title:Busy minutes:5 Nothing to see", user="teacher", role="instructor"
        )
    assert isinstance(reply, Error), reply
    assert reply.what == "The class database is busy; the activity was not posted."
    assert reply.todo == "Try again in a minute."


async def test_a_search_answers_while_its_usage_event_waits_for_the_lock(
    bot: BotDriver,
) -> None:
    await bot.run("/help", user="ana")
    bot.app.services.store.write_deadline = 10.0
    with write_lock(bot) as other:
        reply, took = await timed(bot.run("/search model:gpt2", user="ana"))
        assert isinstance(reply, Card) and reply.title.startswith("gpt2"), reply
        assert took < 2.0  # the usage event is bookkeeping: the card does not wait for it
        other.execute("COMMIT")
    # The event the export needs is written once the lock is free.
    events: list[tuple[str, str | None]] = []
    for _ in range(100):
        async with bot.app.services.store.session() as session:
            events = [(e.command, e.model_id) for e in await session.scalars(select(UsageEvent))]
        if events:
            break
        await asyncio.sleep(0.05)
    assert events == [("search", "gpt2")]
