"""What the class sees about an activity: the announcement, the reminder, the closing
message, and how deadlines are written ("09:10 UTC (in 10 minutes)").

The command and the scheduler both build their replies here, so a reminder after a restart
reads exactly like one sent by a running bot.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from bot.activities.results import Results
from bot.activities.store import is_open
from bot.config import Settings
from bot.replies import Button, Card, Field, Table
from bot.store.models import Activity, Submission

ANSWER_MAX = 4000
# A results card shows this many answers, this long (Discord: 25 fields of 1,024 characters);
# the CSV has them all.
SHOWN_ANSWERS = 20
SHOWN_ANSWER_CHARS = 300
# What shows nothing on a screen: format characters (Cf: zero-width space and joiners, BOM,
# direction marks), control characters (Cc) and spaces of every width (Zs); with
# str.isspace, the line and paragraph separators too.
_INVISIBLE = frozenset({"Cc", "Cf", "Zs"})


def visible(text: str) -> bool:
    """Whether `text` shows anything: an answer or a title of spaces and zero-width
    characters alone reads as empty, whatever the database would store."""
    return any(not c.isspace() and unicodedata.category(c) not in _INVISIBLE for c in text)


def fit(text: str, limit: int, *, one_line: bool = True) -> str:
    text = " ".join(text.split()) if one_line else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def zone(settings: Settings) -> tzinfo:
    return ZoneInfo(settings.timezone)


def clock_time(moment: datetime, tz: tzinfo, now: datetime) -> str:
    """`09:10 UTC`, with the date when it is not today (in the class's time zone)."""
    local = moment.astimezone(tz)
    if local.date() == now.astimezone(tz).date():
        return local.strftime("%H:%M %Z")
    return local.strftime("%a %d %b %H:%M %Z")


def relative(moment: datetime, now: datetime) -> str:
    """`in 10 minutes`, `in under a minute`, `in 2 h 5 min`, `3 minutes ago`."""
    seconds = (moment - now).total_seconds()
    minutes = round(abs(seconds) / 60)
    if minutes == 0:
        return "in under a minute" if seconds >= 0 else "just now"
    if minutes < 60:
        amount = f"{minutes} minute{'s' if minutes != 1 else ''}"
    else:
        hours, rest = divmod(minutes, 60)
        amount = f"{hours} h {rest} min" if rest else f"{hours} hour{'s' if hours != 1 else ''}"
    return f"in {amount}" if seconds >= 0 else f"{amount} ago"


def deadline(moment: datetime, tz: tzinfo, now: datetime) -> str:
    return f"{clock_time(moment, tz, now)} ({relative(moment, now)})"


def outbox_key(activity: Activity, what: str) -> str:
    """The delivery key of a class-wide message. The deadline is part of it: after a re-open
    the new reminder and closing are new messages, where Slack and Discord would edit the
    first ones (a delivery sent again under its key edits what it sent)."""
    return f"activity:{activity.id}:{what}:{activity.closes_at:%Y%m%dT%H%M%S}"


def submit_button(activity: Activity) -> Button:
    # The button opens the answer form; its handler returns a Modal.
    return Button(label="Submit", action=f"/activity form id:{activity.id}", style="primary")


def how_to_answer(activity: Activity) -> str:
    return (
        f"Press Submit, or type /activity submit id:{activity.id} <your answer>. "
        "You can edit it until the deadline; only you and the instructors see it."
    )


def announcement(activity: Activity, tz: tzinfo, now: datetime) -> Card:
    return Card(
        title=f"Activity #{activity.id}: {activity.title}",
        description=activity.prompt,
        fields=(
            Field(name="Deadline", value=deadline(activity.closes_at, tz, now)),
            Field(name="How to answer", value=how_to_answer(activity), inline=False),
        ),
        buttons=(submit_button(activity),),
    )


def reminder(activity: Activity, tz: tzinfo, now: datetime) -> Card:
    return Card(
        title=f"Activity #{activity.id} closes {relative(activity.closes_at, now)}",
        description=activity.title,
        fields=(
            Field(name="Deadline", value=clock_time(activity.closes_at, tz, now)),
            Field(name="How to answer", value=how_to_answer(activity), inline=False),
        ),
        buttons=(submit_button(activity),),
    )


def closing(activity: Activity, submissions: int, tz: tzinfo, now: datetime) -> Card:
    plural = "submission" if submissions == 1 else "submissions"
    return Card(
        title=f"Activity #{activity.id} is closed: {activity.title}",
        description=f"{submissions} {plural}. Thank you!",
        fields=(Field(name="Closed at", value=clock_time(activity.closes_at, tz, now)),),
        footer=f"Instructors: /activity results id:{activity.id}",
    )


def extended(activity: Activity, tz: tzinfo, now: datetime) -> Card:
    return Card(
        title=f"Activity #{activity.id} is open until {clock_time(activity.closes_at, tz, now)}",
        description=activity.title,
        fields=(Field(name="Deadline", value=deadline(activity.closes_at, tz, now)),),
        buttons=(submit_button(activity),),
    )


def activity_table(
    shown: Sequence[Activity],
    counts: dict[int, int],
    answered: set[int],
    tz: tzinfo,
    now: datetime,
) -> Table:
    rows = tuple(
        (
            f"#{a.id}",
            fit(a.title, 40),
            f"open until {deadline(a.closes_at, tz, now)}"
            if is_open(a, now)
            else f"closed {clock_time(a.closes_at, tz, now)}",
            str(counts[a.id]),
            "yes" if a.id in answered else "",
        )
        for a in shown
    )
    return Table(
        title="Activities",
        columns=("id", "title", "status", "answers", "you answered"),
        rows=rows,
        private=True,
    )


def results_card(collected: Results, tz: tzinfo, now: datetime) -> Card:
    """For the instructor only (private): everyone's answers."""
    activity, submitted, missing = collected.activity, collected.submitted, collected.missing
    fields = [
        Field(
            name=f"{row.name} · {clock_time(row.submitted_at, tz, now)}"
            + (f" · {row.edits} edit{'s' if row.edits != 1 else ''}" if row.edits else ""),
            value=fit(row.answer, SHOWN_ANSWER_CHARS, one_line=False),
            inline=False,
        )
        for row in submitted[:SHOWN_ANSWERS]
        if row.submitted_at is not None
    ]
    if len(submitted) > SHOWN_ANSWERS:
        fields.append(
            Field(name="More", value=f"{len(submitted) - SHOWN_ANSWERS} more in the CSV.")
        )
    if missing:
        not_yet = fit(", ".join(row.name for row in missing), 1000)
    elif submitted:
        not_yet = "Everyone has answered."
    elif collected.roster_source == "roster":
        not_yet = "This channel has no students."
    else:
        # Without a platform roster the class is whoever has used the bot.
        not_yet = "No students yet: a student is listed after their first command to the bot."
    fields.append(Field(name=f"Not submitted ({len(missing)})", value=not_yet, inline=False))
    state = (
        f"Open until {deadline(activity.closes_at, tz, now)}."
        if is_open(activity, now)
        else f"Closed at {clock_time(activity.closes_at, tz, now)}."
    )
    expected = len(submitted) + len(missing)
    source = "the channel's students" if collected.roster_source == "roster" else "bot users"
    return Card(
        title=f"Results of #{activity.id}: {activity.title}",
        description=f"{len(submitted)} of {expected} students submitted. {state}",
        fields=tuple(fields),
        footer=f"Roster: {source}, instructors excluded.",
        private=True,
    )


def your_answers(
    answered: Sequence[tuple[Activity, Submission]], tz: tzinfo, now: datetime
) -> Card:
    fields = tuple(
        Field(
            name=f"#{a.id} {a.title} · saved {clock_time(s.updated_at, tz, now)}"
            + (" · open" if is_open(a, now) else " · closed"),
            value=fit(s.answer, SHOWN_ANSWER_CHARS, one_line=False),
            inline=False,
        )
        for a, s in answered
    )
    return Card(title="Your answers", fields=fields, private=True)
