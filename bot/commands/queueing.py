"""What the commands that run a model (/generate, /imagine, /run) share: queueing a job of
one kind for whoever asked, and letting it start only after the first reply went out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.identity import Role
from bot.jobs.commands import submit_job
from bot.jobs.kinds.base import JobKind, P, R
from bot.jobs.protocol import Ticket
from bot.router import Context


@asynccontextmanager
async def queued(ctx: Context, kind: JobKind[P, R], params: P) -> AsyncIterator[Ticket]:
    """Queue the job (instructors' first) and hold it for the block: yield the queued reply
    inside, so the job's progress replaces that reply and not the other way round."""
    request = kind.request(
        params,
        guild_pk=ctx.guild_pk,
        user_pk=ctx.user_pk,
        destination=ctx.destination,
        priority=1 if ctx.actor.role is Role.INSTRUCTOR else 0,
    )
    ticket = await submit_job(ctx.services.jobs, request)
    try:
        yield ticket
    finally:
        ctx.services.jobs.release(ticket.job_id)
