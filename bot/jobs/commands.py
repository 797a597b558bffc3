"""What the commands that queue jobs (/generate, /imagine, /run) share: submitting a job and
the first reply with its place in the queue."""

from __future__ import annotations

from bot.errors import UsageError
from bot.jobs.protocol import JobQueue, JobRequest, QueueFull, Ticket
from bot.jobs.relay import cancel_button
from bot.replies import Error, Progress


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
                what=f"You already have {full.active} jobs queued or running; the limit is "
                f"{full.limit}.",
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


def no_result(job_id: int, state: str, *, to: str, command: str) -> Error:
    """The reply to /share or /chart on a job without a result: wait for it, or, once it
    was cancelled or failed (it will never have one), run it again."""
    if state in ("queued", "running"):
        todo = f"{command} it once its result is shown."
    else:
        todo = f"Run it again, then {command.lower()} the new result."
    return Error(what=f"Job {job_id} has no result to {to} ({state}).", todo=todo)
