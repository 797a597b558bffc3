"""/share: post a result only you could see to the channel (the Share button runs this)."""

from __future__ import annotations

from bot.identity import Role
from bot.jobs.commands import no_result
from bot.jobs.kinds import by_name
from bot.replies import Error, Reply, Text
from bot.router import Command, Context, Option
from bot.share import credited

GONE = Error(
    what="That result is no longer kept for sharing.",
    todo="Run the command again, then press Share.",
)


async def run(ctx: Context, id: str | None, job: int | None) -> Reply:
    """Post a result that only you can see to the channel, for everyone, with your name.

    The Share button under a private answer runs this: /share job:N posts the stored result
    of your job N (nothing runs again), /share id:<key> the same /search or /dataset answer.
    """
    if job is not None:
        return await _job(ctx, job)
    if not id:
        return Error(what="What should I share?", todo="Press Share under a result.")
    kept = ctx.router.shared.get(id)
    if kept is None or kept.guild_id != ctx.actor.guild_id:
        return GONE
    if kept.user_id != ctx.actor.user_id:
        return Error(
            what="Only the student who got that answer can share it.",
            todo="Share one of your own answers: press Share under it.",
        )
    return _once(ctx, id) or credited(kept.reply, ctx.actor.display_name)


async def _job(ctx: Context, job_id: int) -> Reply:
    shown = await ctx.services.jobs.view(job_id, guild_pk=ctx.guild_pk)
    if shown is None:
        return Error(what=f"There is no job {job_id} here.", todo="Type /jobs to see yours.")
    if shown.user_pk != ctx.user_pk and ctx.actor.role is not Role.INSTRUCTOR:
        return Error(
            what=f"Job {job_id} is not yours to share.",
            # Not "/jobs lists them": it lists queued and running jobs, and only a finished
            # one can be shared.
            todo="Share one of your own results: press Share under it, or type /share job:N "
            "with the number of a job you ran.",
        )
    if shown.state != "succeeded":
        return no_result(job_id, shown.state, to="share", command="Share")
    kind = by_name().get(shown.kind)
    if kind is None:
        return Error(what=f"Job {job_id}'s result cannot be shared.", todo=GONE.todo)
    return _once(ctx, f"job:{job_id}") or credited(kind.reply(shown), ctx.actor.display_name)


def _once(ctx: Context, what: str) -> Reply | None:
    """The reply to a second share of the same answer, or None the first time."""
    since = ctx.router.shared.posted_since(what, ctx.actor.guild_id)
    if since is None:
        return None
    ago = "a moment ago" if since < 60 else f"{int(since // 60)} min ago"
    return Text(text=f"That was shared in this channel {ago}: it is just above.", private=True)


COMMAND = Command(
    name="share",
    handler=run,
    options=(
        Option("id", str, "The answer to share (set by the Share button)", max_length=40),
        Option("job", int, "The job whose result to share", min_value=1),
    ),
    examples=("/share job:12",),
)
