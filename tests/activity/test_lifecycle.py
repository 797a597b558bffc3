"""An activity from post to close, with a FakeClock: remind, close, extend, restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.activities.scheduler import ActivityScheduler, Sent
from bot.delivery import Destination
from bot.identity import Actor, Role
from bot.replies import Card, Error, Modal, Text
from bot.router import Invocation
from bot.store.models import Activity, Submission, SubmissionVersion
from tests.activity.conftest import POST, RecordingOutbox, post, run_as
from tests.support.botdriver import BotDriver, FakeClock, running_bot, settings_for_tests

NINE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def undated(key: str | None) -> str:
    """An activity message's key without its deadline."""
    return (key or "").rsplit(":", 1)[0]


def at(minute: int, second: int = 0) -> datetime:
    return NINE.replace(minute=minute, second=second)


async def versions(bot: BotDriver) -> list[tuple[int, str]]:
    async with bot.app.services.store.session() as session:
        rows = await session.execute(
            select(SubmissionVersion.version, SubmissionVersion.answer).order_by(
                SubmissionVersion.id
            )
        )
        return [(version, answer) for version, answer in rows]


async def activity_row(bot: BotDriver, activity_id: int) -> Activity:
    async with bot.app.services.store.session() as session:
        activity = await session.get(Activity, activity_id)
        assert activity is not None
        return activity


async def test_post_announces_the_prompt_deadline_and_a_submit_button(bot: BotDriver) -> None:
    reply = await bot.run(POST.format(minutes=10), user="teacher", role="instructor")
    assert isinstance(reply, Card) and not reply.private
    assert reply.title == "Activity #1: Models hub"
    assert reply.description == "Choose a task and compare models."
    deadline = next(f.value for f in reply.fields if f.name == "Deadline")
    assert deadline == "09:10 UTC (in 10 minutes)"
    (button,) = reply.buttons
    assert button.label == "Submit" and button.action == "/activity form id:1"

    # The button opens a form whose submit runs /activity submit with the typed text.
    form = await bot.run(button.action, user="ana")
    assert isinstance(form, Modal)
    assert len(form.title) <= 45 and form.submit_action == "/activity submit id:1"
    (field,) = form.fields
    assert field.name == "answer" and field.multiline and field.max_length == 4000
    assert "/activity submit id:1" in form.fallback

    router = bot.app.router
    actor = Actor("console", "ana", "Ana", Role.STUDENT, "console", "console")
    parsed = router.parse(form.submit_action, actor)
    typed = "gpt2 was fast.\nneo was slower but kept the topic."
    modal_submit = Invocation(parsed.path, {**parsed.options, "answer": typed}, actor)
    (saved,) = [reply async for reply in router.dispatch(modal_submit)]
    assert isinstance(saved, Text) and saved.private
    assert "Saved your answer to #1" in saved.text
    assert await versions(bot) == [(1, typed)]  # newlines kept

    # The form comes back filled in with the saved answer, for editing.
    again = await bot.run("/activity form", user="ana")
    assert isinstance(again, Modal) and again.fields[0].default == typed


async def test_edits_keep_every_version_until_the_deadline(
    bot: BotDriver, clock: FakeClock
) -> None:
    activity_id = await post(bot)
    first = await bot.run(f"/activity submit id:{activity_id} bigger is slower", user="ana")
    assert isinstance(first, Text) and first.private
    clock.advance(minutes=3)
    second = await bot.run("/activity submit bigger is slower but better", user="ana")
    assert isinstance(second, Text) and "version 2" in second.text
    # The same text again (a double click) adds no version.
    same = await bot.run("/activity submit bigger is slower but better", user="ana")
    assert isinstance(same, Text) and "unchanged" in same.text

    assert await versions(bot) == [(1, "bigger is slower"), (2, "bigger is slower but better")]
    async with bot.app.services.store.session() as session:
        (submission,) = (await session.scalars(select(Submission))).all()
    assert submission.answer == "bigger is slower but better" and submission.version == 2
    assert submission.submitted_at == NINE and submission.updated_at == at(3)


async def test_the_reminder_is_sent_once_at_the_right_time(
    bot: BotDriver, clock: FakeClock, scheduler: ActivityScheduler, outbox: RecordingOutbox
) -> None:
    short = await post(bot, minutes=10)  # under 15 minutes: 1 minute before
    long = await post(bot, minutes=30)  # 15 minutes or more: 5 minutes before
    assert await scheduler.next_due() == at(9)

    clock.now = at(8, 59)
    assert await scheduler.tick() == []
    clock.now = at(9)
    assert await scheduler.tick() == [Sent(short, "reminder")]
    assert await scheduler.tick() == []
    (destination, reminder, key) = outbox.sent[0]
    assert isinstance(reminder, Card) and reminder.title == f"Activity #{short} closes in 1 minute"
    assert reminder.buttons[0].action == f"/activity form id:{short}"
    assert key == f"activity:{short}:reminder:20260302T091000"
    assert destination.channel_id == "console"

    clock.now = at(24, 59)
    assert await scheduler.tick() == [Sent(short, "closing")]
    clock.now = at(25)
    assert await scheduler.tick() == [Sent(long, "reminder")]
    assert "closes in 5 minutes" in outbox.texts()[-1]
    assert (await activity_row(bot, long)).reminded_at == at(25)


async def test_the_deadline_closes_once_with_the_count_and_refuses_late_answers(
    bot: BotDriver, clock: FakeClock, scheduler: ActivityScheduler, outbox: RecordingOutbox
) -> None:
    activity_id = await post(bot)
    await bot.run("/activity submit gpt2 is tiny", user="ana")
    await bot.run("/activity submit neo knows more", user="ben")

    clock.now = at(10)
    # At the deadline the activity is closed even before the scheduler runs.
    late = await bot.run("/activity submit too late", user="cara")
    assert isinstance(late, Error)
    assert late.what == f"No activity is open: #{activity_id} Models hub closed at 09:10 UTC."

    assert await scheduler.tick() == [Sent(activity_id, "closing")]
    clock.advance(minutes=5)
    assert await scheduler.tick() == []
    closings = [s.reply for s in outbox.sent if undated(s.key) == f"activity:{activity_id}:closing"]
    assert len(closings) == 1
    assert isinstance(closings[0], Card) and closings[0].description.startswith("2 submissions")
    assert (await activity_row(bot, activity_id)).closed_at == at(10)

    late = await bot.run(f"/activity submit id:{activity_id} still too late", user="ana")
    assert isinstance(late, Error) and "closed at 09:10 UTC" in late.what
    assert [answer for _, answer in await versions(bot)] == ["gpt2 is tiny", "neo knows more"]


async def test_closing_by_hand_posts_the_message_once(
    bot: BotDriver, clock: FakeClock, scheduler: ActivityScheduler, outbox: RecordingOutbox
) -> None:
    activity_id = await post(bot)
    await bot.run("/activity submit done", user="ana")
    clock.now = at(4)
    closed = await bot.run("/activity close", user="teacher", role="instructor")
    assert isinstance(closed, Card) and closed.description.startswith("1 submission.")
    again = await bot.run(f"/activity close id:{activity_id}", user="teacher", role="instructor")
    assert isinstance(again, Error) and "already closed (at 09:04 UTC)" in again.what
    clock.now = at(30)
    assert await scheduler.tick() == []  # the deadline moved to 09:04 and is done
    assert outbox.sent == []


async def test_extend_reopens_and_rearms_the_reminder(
    bot: BotDriver, clock: FakeClock, scheduler: ActivityScheduler, outbox: RecordingOutbox
) -> None:
    activity_id = await post(bot)
    clock.now = at(9)
    assert await scheduler.tick() == [Sent(activity_id, "reminder")]

    extended = await bot.run(
        f"/activity extend id:{activity_id} minutes:10", user="teacher", role="instructor"
    )
    assert isinstance(extended, Card)
    assert next(f.value for f in extended.fields if f.name == "Deadline") == (
        "09:20 UTC (in 11 minutes)"
    )
    # Now 20 minutes long, it gets the 5-minute reminder again, at 09:15.
    assert await scheduler.tick() == []
    clock.now = at(15)
    assert await scheduler.tick() == [Sent(activity_id, "reminder")]
    clock.now = at(17)
    saved = await bot.run("/activity submit made it", user="ana")
    assert isinstance(saved, Text) and "Saved" in saved.text
    clock.now = at(20)
    assert await scheduler.tick() == [Sent(activity_id, "closing")]

    # Extending a closed activity re-opens it from now.
    clock.now = at(21)
    await bot.run(f"/activity extend id:{activity_id} minutes:8", user="teacher", role="instructor")
    row = await activity_row(bot, activity_id)
    assert row.closes_at == at(29) and row.closed_at is None and row.reminded_at is None
    saved = await bot.run("/activity submit made it, edited", user="ana")
    assert isinstance(saved, Text) and "version 2" in saved.text
    clock.now = at(24)
    assert await scheduler.tick() == [Sent(activity_id, "reminder")]
    clock.now = at(29)
    assert await scheduler.tick() == [Sent(activity_id, "closing")]
    # Each deadline's messages are new messages, not edits of the first deadline's.
    assert outbox.keys == [
        f"activity:{activity_id}:{kind}:20260302T09{minute}00"
        for kind, minute in (
            ("reminder", 10),
            ("reminder", 20),
            ("closing", 20),
            ("reminder", 29),
            ("closing", 29),
        )
    ]


@pytest.mark.parametrize(("closed", "minutes"), [(True, 5), (False, 5), (True, 6)])
async def test_no_reminder_right_after_a_new_deadline(
    bot: BotDriver,
    clock: FakeClock,
    scheduler: ActivityScheduler,
    outbox: RecordingOutbox,
    closed: bool,
    minutes: int,
) -> None:
    # 10 minutes: its reminder went out at 09:09. The new deadline, told to the class at
    # once, would be followed by a reminder already due (a 5-minute one for 15 minutes).
    activity_id = await post(bot)
    clock.now = at(9)
    assert await scheduler.tick() == [Sent(activity_id, "reminder")]
    if closed:
        clock.now = at(10)
        assert await scheduler.tick() == [Sent(activity_id, "closing")]
    extend = f"/activity extend id:{activity_id} minutes:{minutes}"
    assert isinstance(await bot.run(extend, user="teacher", role="instructor"), Card)
    deadline = (await activity_row(bot, activity_id)).closes_at
    while clock.now < deadline:
        clock.now += timedelta(seconds=30)
        sent = await scheduler.tick()
        assert sent == ([Sent(activity_id, "closing")] if clock.now >= deadline else []), clock.now


async def test_posting_to_another_channel(
    bot: BotDriver, clock: FakeClock, scheduler: ActivityScheduler, outbox: RecordingOutbox
) -> None:
    replies = await run_as(
        bot, POST.format(minutes=5) + " channel:<#C42|lab>", user="teacher", role="instructor"
    )
    (confirmation,) = replies
    assert isinstance(confirmation, Text) and confirmation.private
    assert confirmation.text == "Sent the announcement of #1 to its channel."
    (destination, announcement, key) = outbox.sent[0]
    assert destination == Destination("console", "console", "C42", "teacher", {})
    assert isinstance(announcement, Card) and announcement.title == "Activity #1: Models hub"
    assert key == "activity:1:announcement:20260302T090500"

    # In that channel, submit needs no id; the closing message goes there too.
    (saved,) = await run_as(bot, "/activity submit here", user="ana", channel="C42")
    assert isinstance(saved, Text) and "Saved" in saved.text
    clock.now = at(5)
    assert await scheduler.tick() == [Sent(1, "closing")]
    assert outbox.sent[-1][0].channel_id == "C42"

    # The instructor, in their own channel, is told in words what went there.
    (extended,) = await run_as(bot, "/activity extend id:1 minutes:5", role="instructor")
    assert (
        isinstance(extended, Text)
        and extended.text == "Sent the new deadline of #1 to its channel."
    )
    (closed,) = await run_as(bot, "/activity close id:1", role="instructor")
    assert (
        isinstance(closed, Text) and closed.text == "Sent the closing message of #1 to its channel."
    )


async def test_a_failed_delivery_is_retried_later_not_lost(
    bot: BotDriver, clock: FakeClock, scheduler: ActivityScheduler, outbox: RecordingOutbox
) -> None:
    activity_id = await post(bot, minutes=1)
    clock.now = at(1)
    outbox.fail = True
    assert await scheduler.tick() == []
    assert (await activity_row(bot, activity_id)).closed_at is None
    outbox.fail = False
    assert await scheduler.tick() == []  # waits before trying again
    assert await scheduler.next_due() == at(1, 30)
    clock.now = at(1, 30)
    assert await scheduler.tick() == [Sent(activity_id, "closing")]
    assert await scheduler.tick() == []


async def test_a_restarted_bot_posts_a_missed_closing_once(
    bot: BotDriver, clock: FakeClock, tmp_path: Path
) -> None:
    activity_id = await post(bot, minutes=10)
    await bot.run("/activity submit before the crash", user="ana")
    clock.now = at(45)  # the bot was down over the deadline (and the reminder)

    async def restart() -> RecordingOutbox:
        async with running_bot(settings_for_tests(tmp_path), clock) as restarted:
            recorder = RecordingOutbox()
            restarted.app.services.outboxes["console"] = recorder
            scheduler = next(
                s for s in restarted.app.background if isinstance(s, ActivityScheduler)
            )
            await scheduler.start()  # the real loop: it catches up as it starts
            for _ in range(100):
                if recorder.sent:
                    break
                await asyncio.sleep(0.01)
            await scheduler.wait_idle()
        return recorder

    first = await restart()
    assert [undated(k) for k in first.keys] == [f"activity:{activity_id}:closing"]
    assert "1 submission" in first.texts()[0]
    second = await restart()
    assert second.sent == []


async def test_the_loop_wakes_for_new_activities(
    bot: BotDriver, clock: FakeClock, scheduler: ActivityScheduler, outbox: RecordingOutbox
) -> None:
    await scheduler.start()
    activity_id = await post(bot, minutes=2)  # reminder at 09:01
    clock.now = at(1)
    scheduler.wake()  # as a post or an extend would; the fake clock does not tick by itself
    for _ in range(200):
        if outbox.sent:
            break
        await asyncio.sleep(0.01)
    assert [undated(k) for k in outbox.keys] == [f"activity:{activity_id}:reminder"]


async def test_two_schedulers_racing_send_each_message_once(
    bot: BotDriver, clock: FakeClock, outbox: RecordingOutbox
) -> None:
    activity_id = await post(bot, minutes=10)
    services = bot.app.services
    one, two = (
        ActivityScheduler(
            store=services.store,
            settings=services.settings,
            clock=services.clock,
            outboxes=services.outboxes,
        )
        for _ in range(2)
    )
    clock.now = at(9)
    sent = await asyncio.gather(one.tick(), two.tick())
    assert sorted(sent, key=len) == [[], [Sent(activity_id, "reminder")]]
    clock.now = at(10)
    sent = await asyncio.gather(one.tick(), two.tick())
    assert sorted(sent, key=len) == [[], [Sent(activity_id, "closing")]]
    assert [undated(k) for k in outbox.keys] == [
        f"activity:{activity_id}:reminder",
        f"activity:{activity_id}:closing",
    ]
