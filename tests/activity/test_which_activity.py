"""Without id:, which activity a command means: only one open in this channel."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.replies import Card, Error, Text
from bot.store.models import Submission
from tests.activity.conftest import POST, RecordingOutbox, post
from tests.support.botdriver import BotDriver, FakeClock


async def submissions(bot: BotDriver) -> int:
    async with bot.app.services.store.session() as session:
        return await session.scalar(select(func.count()).select_from(Submission)) or 0


async def test_an_answer_never_lands_on_another_channels_activity(
    bot: BotDriver, outbox: RecordingOutbox
) -> None:
    # The classroom test: #1 here, #2 in #general, #1 closed; a student answers here.
    await post(bot)
    general = POST.format(minutes=20) + " channel:#general"
    sent = await bot.run(general, user="teacher", role="instructor")
    assert isinstance(sent, Text) and outbox.sent[0].destination.channel_id == "general"
    closed = await bot.run("/activity close id:1", user="teacher", role="instructor")
    assert isinstance(closed, Card)

    refused = await bot.run("/activity submit my answer", user="ana")
    assert isinstance(refused, Error)
    assert refused.what == (
        "No activity is open in this channel; open in another channel: "
        "#2 Models hub (until 09:20 UTC)."
    )
    assert refused.todo == "To choose it, add its id to the command, e.g. id:2."
    assert await submissions(bot) == 0
    form = await bot.run("/activity form", user="ana")
    assert isinstance(form, Error) and form.what == refused.what

    # Named by id, the answer goes there, and every reply names the activity.
    saved = await bot.run("/activity submit id:2 my answer", user="ana")
    assert isinstance(saved, Text) and saved.text.startswith("Saved your answer to #2 Models hub.")
    updated = await bot.run("/activity submit id:2 my better answer", user="ana")
    assert isinstance(updated, Text)
    assert updated.text.startswith("Updated your answer to #2 Models hub (version 2).")


async def test_close_with_nothing_open_tells_the_instructor_how_to_reopen(
    bot: BotDriver, clock: FakeClock
) -> None:
    await post(bot, minutes=5)
    clock.advance(minutes=6)
    reply = await bot.run("/activity close", user="teacher", role="instructor")
    assert isinstance(reply, Error)
    assert reply.what == "There is nothing open to close: #1 Models hub closed at 09:05 UTC."
    assert reply.todo == "To re-open it: /activity extend id:1 minutes:5"
    # A student still gets the student's advice.
    late = await bot.run("/activity submit too late", user="ana")
    assert isinstance(late, Error) and "ask your instructor" in late.todo


async def test_an_option_written_inside_an_answer_is_part_of_it(bot: BotDriver) -> None:
    # Two open activities: "id:1" inside the answer must neither pick #1 nor vanish.
    await post(bot)
    await post(bot)
    answer = "The model with id:1 was slowest, answer:42 too"
    saved = await bot.run(f"/activity submit id:2 {answer}", user="ana")
    assert isinstance(saved, Text) and saved.text.startswith("Saved your answer to #2")
    after = await bot.run(f"/activity submit {answer} id:2", user="bob")  # the id after it
    assert isinstance(after, Text) and after.text.startswith("Saved your answer to #2")
    async with bot.app.services.store.session() as session:
        stored = (await session.scalars(select(Submission.answer))).all()
    assert stored == [answer, answer]
