"""/chart: a job's result as a picture (the Chart button under a /generate result runs this)."""

from __future__ import annotations

from bot.identity import Role
from bot.jobs.commands import no_result
from bot.jobs.kinds import by_name
from bot.replies import Error, Reply
from bot.router import Command, Context, Option


async def run(ctx: Context, job: int) -> Reply | list[Reply]:
    """Draw a finished job's result as a picture, with the same numbers in its text.

    /chart job:N for a /generate job: where each text repeats itself (the repetition meter
    along the text); for a /run with compare: each model's size and time on the same input.
    Press Chart under the result, or type it with the job's number.
    """
    shown = await ctx.services.jobs.view(job, guild_pk=ctx.guild_pk)
    if shown is None:
        return Error(what=f"There is no job {job} here.", todo="Type /jobs to see yours.")
    if shown.user_pk != ctx.user_pk and ctx.actor.role is not Role.INSTRUCTOR:
        return Error(
            what=f"Job {job} is not yours.",
            todo="Ask its student to press Share, or run your own.",
        )
    if shown.state != "succeeded":
        return no_result(job, shown.state, to="draw", command="Chart")
    kind = by_name().get(shown.kind)
    pictures = await kind.charts(shown) if kind is not None else []
    if not pictures:
        return Error(
            what=f"Job {job}'s result has no picture.",
            todo="/chart draws /generate results of a few words or more (where the text "
            "repeats itself) and /run comparisons (each model's size and time).",
        )
    return pictures


COMMAND = Command(
    name="chart",
    handler=run,
    exploration=True,
    options=(Option("job", int, "The job whose result to draw", required=True, min_value=1),),
    examples=("/chart job:12",),
)
