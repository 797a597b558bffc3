"""What the commands that queue jobs (/generate, /imagine) share: submitting a job, the first
reply with its place in the queue, and user or model text clipped for chat."""

from __future__ import annotations

import re

from bot.errors import UsageError
from bot.jobs.protocol import JobQueue, JobRequest, QueueFull, Ticket
from bot.jobs.relay import cancel_button
from bot.replies import Error, Progress

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


async def submit_job(jobs: JobQueue, request: JobRequest) -> Ticket:
    """Queue the job; over the per-user limit, a UsageError says what to do instead.

    The job is held until `jobs.release(ticket.job_id)`: send `queued_reply` first, then
    release it (in a `finally`), so the job's progress replaces that reply and not the other
    way round.
    """
    try:
        return await jobs.submit(request)
    except QueueFull as full:
        raise UsageError(
            Error(
                what=f"You already have {full.active} jobs waiting; the limit is {full.limit}.",
                todo="Wait for one to finish, or cancel one: /jobs lists them.",
            )
        ) from None


def queued_reply(ticket: Ticket, total: int) -> Progress:
    """The immediate answer: where the job stands, and a Cancel button."""
    if ticket.can_start:
        label = "starting"
    else:
        ahead = ticket.position - 1
        label = f"queued: {ahead} job{'s' if ahead != 1 else ''} ahead of yours"
        if ahead == 0:
            label = "queued: yours is next"
    return Progress(
        step=0,
        total=total,
        label=f"{label} (job {ticket.job_id})",
        buttons=(cancel_button(ticket.job_id),),
    )


def clean(text: str) -> str:
    """Text as chat text: no control characters, no runs of blank lines."""
    text = _CONTROL.sub("", text.replace("\t", " "))
    return re.sub(r"\n{3,}", "\n\n", text)


def clip(text: str, limit: int) -> str:
    """Cut at a word boundary when one is near, and say that it was cut."""
    text = clean(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"
