"""The same activity code on PostgreSQL (the scale-out database): upserts with RETURNING,
racing edits, claims, the CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

from sqlalchemy import select

from bot.activities.scheduler import ActivityScheduler, Sent
from bot.identity import Actor, Role
from bot.replies import Error, File, Text
from bot.router import Invocation
from bot.store.models import Submission, SubmissionVersion
from tests.activity.conftest import RecordingOutbox, post
from tests.support.botdriver import FakeClock, running_bot, settings_for_tests


async def test_an_activity_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    clock = FakeClock()
    settings = settings_for_tests(tmp_path, database_url=postgres_url)
    async with running_bot(settings, clock) as bot:
        outbox = RecordingOutbox()
        bot.app.services.outboxes["console"] = outbox
        scheduler = next(s for s in bot.app.background if isinstance(s, ActivityScheduler))
        activity_id = await post(bot, minutes=10)

        actor = Actor("console", "ana", "Ana", Role.STUDENT, "console", "console")

        async def submit(answer: str) -> object:
            invocation = Invocation(
                ("activity", "submit"), {"id": activity_id, "answer": answer}, actor
            )
            return [r async for r in bot.app.router.dispatch(invocation)][-1]

        replies = await asyncio.gather(*(submit(f"draft {i}") for i in range(4)))
        assert all(isinstance(r, Text) for r in replies), replies
        async with bot.app.services.store.session() as session:
            (row,) = (await session.scalars(select(Submission))).all()
            history = (
                await session.execute(
                    select(SubmissionVersion.version, SubmissionVersion.answer).order_by(
                        SubmissionVersion.version
                    )
                )
            ).all()
        assert [v for v, _ in history] == [1, 2, 3, 4] and row.answer == history[-1][1]
        same = await bot.run(f"/activity submit {row.answer}", user="ana")
        assert isinstance(same, Text) and "unchanged" in same.text

        clock.advance(minutes=9)
        assert await scheduler.tick() == [Sent(activity_id, "reminder")]
        clock.advance(minutes=1)
        late = await bot.run("/activity submit too late", user="ben")
        assert isinstance(late, Error) and "closed at 09:10 UTC" in late.what
        assert await scheduler.tick() == [Sent(activity_id, "closing")]
        assert await scheduler.tick() == []

        _, attachment = await bot.run_all("/activity results", user="teacher", role="instructor")
        assert isinstance(attachment, File)
        rows = list(csv.DictReader(io.StringIO(attachment.data.decode("utf-8-sig"))))
        ana = next(r for r in rows if r["user id"] == "ana")
        assert ana["edits"] == "3" and ana["answer"] == row.answer
