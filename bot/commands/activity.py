"""/activity: timed class activities. Instructors post a prompt with a time limit; students
answer (and may edit until the deadline); a reminder and a closing message follow; the
instructor sees who answered what, with a CSV export.

Data access lives in bot/activities/store.py, the deadline scheduler in
bot/activities/scheduler.py, the CSV in bot/activities/export.py, and the class-facing
messages in bot/activities/messages.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from functools import partial
from typing import Literal, NamedTuple

from bot.activities import export, messages, results, store
from bot.activities.messages import ANSWER_MAX, clock_time, deadline, visible
from bot.activities.scheduler import reminder_at
from bot.commandline import quote, typed_text
from bot.delivery import Destination
from bot.errors import UsageError
from bot.identity import Role
from bot.replies import Button, Error, File, Modal, ModalField, Reply, Text
from bot.router import Command, Context, Option
from bot.store.models import Activity

log = logging.getLogger(__name__)

LATE = "Answers are no longer accepted; ask your instructor if you need more time."
NOT_POSTED = "The class database is busy; the activity was not posted."
REOPEN = "To re-open it: /activity extend id:{id} minutes:5"
# A reminder this soon after a new deadline was announced would repeat it.
REMINDER_GAP = timedelta(minutes=1)


class NoneOpen(NamedTuple):
    """What a command that needs an open activity says when, without id:, none is: `todo`
    may name the latest activity as {id}."""

    what: str
    todo: str


TO_ANSWER = NoneOpen("No activity is open", LATE)
# For the instructor: student advice ("ask your instructor") would be no help.
TO_CLOSE = NoneOpen("There is nothing open to close", REOPEN)

# A class-wide message: its kind is part of its outbox key, shared with the scheduler's.
Kind = Literal["announcement", "closing", "extended"]
# What each is called in the private confirmation that it was sent to another channel.
SENT_NAMES: dict[Kind, str] = {
    "announcement": "announcement",
    "closing": "closing message",
    "extended": "new deadline",
}


# -- subcommands ------------------------------------------------------------------------------


async def post(ctx: Context, title: str, minutes: int, prompt: str, channel: str | None) -> Reply:
    """Post an activity: a prompt, a time limit, and a Submit button for the class.

    Students answer with the button or /activity submit; a reminder goes out shortly before
    the deadline and a closing message with the number of answers at the deadline.
    """
    _check_title(title)
    if not visible(typed_text(prompt)):
        return Error(
            what="The prompt has no visible text.",
            todo="Write what the class should do after the options, e.g. " + POST_EXAMPLE,
        )
    now = ctx.services.clock()
    here = ctx.destination
    target = _channel_id(channel) if channel else here.channel_id
    if target == here.channel_id:
        destination = here
    else:
        if here.platform not in ctx.services.outboxes:
            return Error(
                what="I cannot post to another channel from here.",
                todo="Run /activity post in the channel itself.",
            )
        # A new message in that channel: the handle belongs to this command's interaction.
        destination = Destination(here.platform, here.guild_id, target, here.user_id, {})
    activity = await ctx.services.store.write(
        partial(
            store.create,
            guild_pk=ctx.guild_pk,
            user_pk=ctx.user_pk,
            channel_id=target,
            title=title,
            prompt=prompt,
            opens_at=now,
            closes_at=now + timedelta(minutes=minutes),
            destination=destination.to_json(),
        ),
        busy=NOT_POSTED,
    )
    card = messages.announcement(activity, _tz(ctx), now)
    try:
        reply = await _to_class(ctx, activity, card, "announcement")
    except Exception:
        log.warning("activity %s: could not post in %s", activity.id, target, exc_info=True)
        await ctx.services.store.write(partial(store.withdraw, activity=activity))
        raise UsageError(
            Error(
                what=f"I could not post in {channel}.",
                todo="Check that the bot may write there, or post in this channel instead.",
            )
        ) from None
    _wake_scheduler(ctx)
    return reply


async def form(ctx: Context, id: int | None) -> Reply:
    """Open the answer form of an activity (what the Submit button does)."""
    activity = await _pick(ctx, id, none_open=TO_ANSWER)
    now = ctx.services.clock()
    _refuse_if_closed(ctx, activity)
    async with ctx.services.store.session() as session:
        current = await store.answer_of(session, activity.id, ctx.user_pk)
    return Modal(
        title=messages.fit(f"#{activity.id} {activity.title}", 45),
        fields=(
            ModalField(
                name="answer",
                label="Your answer",
                multiline=True,
                max_length=ANSWER_MAX,
                placeholder=messages.fit(activity.prompt, 100),
                default=current or "",
            ),
        ),
        submit_action=f"/activity submit id:{activity.id}",
        fallback=(
            f"Activity #{activity.id} is open until {deadline(activity.closes_at, _tz(ctx), now)}."
            f" Type your answer: /activity submit id:{activity.id} <your answer>"
        ),
        private=True,
    )


async def submit(ctx: Context, answer: str | None, id: int | None) -> Reply:
    """Answer an activity; submit again to edit your answer until the deadline.

    Only you and the instructors see your answer. Without id: the activity open in this
    channel. Without an answer: its form, as the Submit button opens it.
    """
    if answer is None:
        return await form(ctx, id)
    # `/activity submit ""` or a zero-width space: nothing the instructor could read.
    if not visible(typed_text(answer)):
        return Error(
            what="Your answer has no visible text, so it was not saved.",
            todo="Type your answer after /activity submit, or type /activity submit alone "
            "to open the answer form.",
        )
    now = ctx.services.clock()
    # With an id (the Submit button's form always has one) the answer goes straight to the
    # group writer: answers arriving together are saved in one transaction.
    activity_id = id if id is not None else (await _pick(ctx, None, none_open=TO_ANSWER)).id
    item = store.Answer(ctx.guild_pk, activity_id, ctx.user_pk, answer, now)
    try:
        saved = await store.submissions(ctx.services.store).submit(item)
    except store.UnknownActivity:
        raise UsageError(_unknown(activity_id, in_answer=True)) from None
    except store.ActivityClosed as closed:
        raise UsageError(_closed(ctx, closed.activity)) from None
    return _saved_reply(activity_id, saved, deadline(saved.closes_at, _tz(ctx), now))


async def close(ctx: Context, id: int | None) -> Reply:
    """Close an activity now and post the closing message."""
    activity = await _pick(ctx, id, none_open=TO_CLOSE)
    now = ctx.services.clock()
    closed, count = await ctx.services.store.write(
        partial(store.close_and_count, activity=activity, now=now)
    )
    if not closed:
        return Error(
            what=f"Activity #{activity.id} is already closed "
            f"(at {clock_time(activity.closes_at, _tz(ctx), now)}).",
            todo=REOPEN.format(id=activity.id),
        )
    _wake_scheduler(ctx)
    card = messages.closing(activity, count, _tz(ctx), now)
    return await _to_class(ctx, activity, card, "closing")


async def extend(ctx: Context, id: int, minutes: int) -> Reply:
    """Give an activity more time; a closed one re-opens and the reminder is re-armed."""
    activity = await _pick(ctx, id, none_open=None)
    now = ctx.services.clock()
    start = activity.closes_at if store.is_open(activity, now) else now
    closes_at = start + timedelta(minutes=minutes)
    # The new-deadline message tells the class the time: no reminder right after it.
    due = reminder_at(activity, ctx.services.settings, closes_at)
    reminded_at = None if due is not None and due > now + REMINDER_GAP else now
    await ctx.services.store.write(
        partial(store.extend, activity=activity, closes_at=closes_at, reminded_at=reminded_at)
    )
    _wake_scheduler(ctx)
    card = messages.extended(activity, _tz(ctx), now)
    return await _to_class(ctx, activity, card, "extended")


async def list_(ctx: Context) -> Reply:
    """The open and recent activities of this class."""
    now, tz = ctx.services.clock(), _tz(ctx)
    async with ctx.services.store.session() as session:
        open_ = await store.open_now(session, ctx.guild_pk, now)
        shown = open_ + [a for a in await store.recent(session, ctx.guild_pk) if a not in open_]
        counts = await store.submission_counts(session, [a.id for a in shown])
        answered = {a.id for a, _ in await store.mine(session, ctx.guild_pk, ctx.user_pk)}
    if not shown:
        todo = "Post one with /activity post." if ctx.actor.role is Role.INSTRUCTOR else ""
        return Text(text=f"No activities yet. {todo}".strip(), private=True)
    return messages.activity_table(shown, counts, answered, tz, now)


async def results_(ctx: Context, id: int | None, chart: bool = False) -> list[Reply]:
    """Who answered what, who has not answered yet, and a CSV of it all.
    chart:true — a picture of the models the class ran (by task and size) and of the
    submissions over time."""
    activity = await _pick(ctx, id, none_open=None)
    now, tz = ctx.services.clock(), _tz(ctx)
    collected = await results.collect(ctx.services.store, ctx.services.rosters, activity)
    if chart:
        return [replace(await results.chart(collected, tz), private=True)]
    csv = File(
        filename=export.filename(collected),
        data=export.to_csv(collected, tz),
        mime="text/csv",
        caption=f"One row per student: answers, edits and the models they ran (#{activity.id}).",
        private=True,
    )
    card = messages.results_card(collected, tz, now)
    see = Button(label="Chart", action=f"/activity results id:{activity.id} chart:true")
    return [replace(card, buttons=(*card.buttons, see)), csv]


async def mine(ctx: Context) -> Reply:
    """Your own answers in this class."""
    now, tz = ctx.services.clock(), _tz(ctx)
    async with ctx.services.store.session() as session:
        answered = await store.mine(session, ctx.guild_pk, ctx.user_pk)
    if not answered:
        return Text(text="You have not answered any activity yet.", private=True)
    return messages.your_answers(answered, tz, now)


# -- helpers ----------------------------------------------------------------------------------


def _tz(ctx: Context) -> tzinfo:
    return messages.zone(ctx.services.settings)


def _check_title(title: str) -> None:
    """A title heads one line of every message ("Saved your answer to #3 Lab."): it is one
    line, and shows something. Refused rather than mended, as a title over its length is."""
    lines = title.splitlines()
    if len(lines) > 1:
        one_line = " ".join(" ".join(lines).split())
        raise UsageError(
            Error(
                what="A title is one line; this one has a line break.",
                todo=f"Write it on one line: title:{quote(one_line)}",
            )
        )
    if not visible(title):
        raise UsageError(
            Error(
                what="The title has no visible text.",
                todo='Give the activity a short title, e.g. title:"Models hub".',
            )
        )


def _channel_id(raw: str) -> str:
    """`<#123>` (Discord), `<#C123|general>` (Slack), `#general` or an id → the id/name."""
    match = re.fullmatch(r"<#([A-Za-z0-9]+)(?:\|[^>]*)?>", raw.strip())
    return match.group(1) if match else raw.strip().lstrip("#")


def _wake_scheduler(ctx: Context) -> None:
    ctx.services.wake_activities()


async def _to_class(ctx: Context, activity: Activity, reply: Reply, what: Kind) -> Reply:
    """A class-wide message goes where the activity lives; when that is another channel,
    the person who typed the command gets a private confirmation."""
    destination = Destination.from_json(activity.destination)
    if destination.channel_id == ctx.actor.channel_id:
        return reply
    outbox = ctx.services.outboxes[destination.platform]
    await outbox.send(destination, reply, key=messages.outbox_key(activity, what))
    return Text(text=f"Sent the {SENT_NAMES[what]} of #{activity.id} to its channel.", private=True)


def _refuse_if_closed(ctx: Context, activity: Activity) -> None:
    if not store.is_open(activity, ctx.services.clock()):
        raise UsageError(_closed(ctx, activity))


def _closed(ctx: Context, activity: Activity) -> Error:
    return Error(
        what=f"Activity #{activity.id} closed at "
        f"{clock_time(activity.closes_at, _tz(ctx), ctx.services.clock())}.",
        todo=LATE,
    )


def _unknown(activity_id: int, *, in_answer: bool = False) -> Error:
    todo = "Type /activity list to see this class's activities."
    if in_answer:
        # "… id:2 was faster" in a typed answer picks activity #2: say how to keep it prose.
        todo += (
            f" If id:{activity_id} is part of your answer, write it another way (id {activity_id}):"
            " id: with a number picks the activity."
        )
    return Error(what=f"There is no activity #{activity_id} here.", todo=todo)


def _saved_reply(activity_id: int, saved: store.Saved, until: str) -> Text:
    # The title every time: it shows which activity took the answer.
    named = f"#{activity_id} {saved.title}"
    if not saved.changed:
        text = f"Your answer to {named} is unchanged (already saved). Edit it until {until}."
    elif saved.version == 1:
        text = f"Saved your answer to {named}. Edit it until {until}."
    else:
        text = f"Updated your answer to {named} (version {saved.version}). Edit until {until}."
    return Text(text=text, private=True)


async def _pick(ctx: Context, activity_id: int | None, *, none_open: NoneOpen | None) -> Activity:
    """The activity a command means: the one named by id (in this guild only), else the only
    one open in this channel, else — when `none_open` is None (results) — the most recent.

    Without id: an activity open in another channel is never taken: a student's answer would
    land on an activity they did not see. The reply names it, to be chosen with id:.
    """
    now, tz = ctx.services.clock(), _tz(ctx)
    async with ctx.services.store.session() as session:
        if activity_id is not None:
            activity = await store.get(session, ctx.guild_pk, activity_id)
            if activity is None:
                raise UsageError(_unknown(activity_id))
            return activity
        open_ = await store.open_now(session, ctx.guild_pk, now)
        recent = [] if open_ else await store.recent(session, ctx.guild_pk, limit=5)
    here = [a for a in open_ if ctx.actor.is_in(a.channel_id)]
    if len(here) == 1:
        return here[0]
    if here:
        raise UsageError(
            Error(
                what=f"{len(here)} activities are open: {_choices(here, tz, now)}.",
                todo=f"Say which one with id:, e.g. id:{here[0].id}.",
            )
        )
    if open_:
        raise UsageError(_open_elsewhere(open_, tz, now))
    if not recent:
        raise UsageError(
            Error(
                what="There is no activity in this class yet.",
                todo="Instructors post them with /activity post.",
            )
        )
    latest = next((a for a in recent if ctx.actor.is_in(a.channel_id)), recent[0])
    if none_open is None:
        return latest
    raise UsageError(
        Error(
            what=f"{none_open.what}: #{latest.id} {latest.title} closed at "
            f"{clock_time(latest.closes_at, tz, now)}.",
            todo=none_open.todo.format(id=latest.id),
        )
    )


def _choices(activities: Sequence[Activity], tz: tzinfo, now: datetime) -> str:
    return "; ".join(
        f"#{a.id} {a.title} (until {clock_time(a.closes_at, tz, now)})" for a in activities
    )


def _open_elsewhere(elsewhere: Sequence[Activity], tz: tzinfo, now: datetime) -> Error:
    where = "another channel" if len(elsewhere) == 1 else "other channels"
    which = "it" if len(elsewhere) == 1 else "one"
    return Error(
        what=f"No activity is open in this channel; open in {where}: "
        f"{_choices(elsewhere, tz, now)}.",
        todo=f"To choose {which}, add its id to the command, e.g. id:{elsewhere[0].id}.",
    )


POST_EXAMPLE = (
    '/activity post title:"Models hub" minutes:10 Choose a task, run a few models '
    "and note their sizes. What differences do you notice?"
)
ID = Option("id", int, "The activity number (see /activity list)", min_value=1)

COMMAND = Command(
    name="activity",
    description="Timed class activities: post a prompt, answer it, see the results.",
    subcommands=(
        Command(
            name="post",
            handler=post,
            durable=True,
            role=Role.INSTRUCTOR,
            options=(
                Option("title", str, "A short title", required=True, max_length=100),
                Option(
                    "minutes",
                    int,
                    "Time to answer, in minutes",
                    required=True,
                    min_value=1,
                    max_value=180,
                ),
                Option(
                    "prompt",
                    str,
                    "What to do",
                    required=True,
                    rest=True,
                    verbatim=True,  # "try minutes:10 each" in a prompt is the prompt's
                    max_length=3000,
                ),
                Option("channel", str, "Post in this channel instead", max_length=100),
            ),
            examples=(POST_EXAMPLE,),
        ),
        Command(
            name="submit",
            handler=submit,
            durable=True,
            options=(
                Option(
                    "answer",
                    str,
                    "Your answer; left out, a form asks for it",
                    rest=True,
                    # "the model with id:3 was slowest" is an answer, not activity 3.
                    verbatim=True,
                    max_length=ANSWER_MAX,
                ),
                ID,
            ),
            examples=("/activity submit The bigger model was slower but kept the topic",),
        ),
        # What the Submit button runs: opening the form must not use up the token its
        # submission needs (a student editing an answer near the deadline does both).
        Command(
            name="form",
            handler=form,
            options=(ID,),
            examples=("/activity form id:3",),
            rate_limited=False,
        ),
        Command(
            name="close",
            handler=close,
            durable=True,
            role=Role.INSTRUCTOR,
            options=(ID,),
            rate_limited=False,
        ),
        Command(
            name="extend",
            handler=extend,
            durable=True,
            role=Role.INSTRUCTOR,
            options=(
                Option("id", int, "The activity number", required=True, min_value=1),
                Option("minutes", int, "Minutes to add", required=True, min_value=1, max_value=180),
            ),
            examples=("/activity extend id:3 minutes:5",),
            rate_limited=False,
        ),
        # Reads: they must not use up the tokens a student needs to edit an answer.
        Command(name="list", handler=list_, rate_limited=False),
        Command(
            name="results",
            handler=results_,
            role=Role.INSTRUCTOR,
            options=(ID, Option("chart", bool, "Show the results as a chart", default=False)),
            examples=("/activity results id:3", "/activity results id:3 chart:true"),
            rate_limited=False,
        ),
        Command(name="mine", handler=mine, rate_limited=False),
    ),
)
