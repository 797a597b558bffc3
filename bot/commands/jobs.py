"""/jobs: your queued and running jobs, and cancelling one (the Cancel buttons run this)."""

from __future__ import annotations

from bot.identity import Role
from bot.jobs.service import JobLine
from bot.replies import Button, Error, Reply, Table, Text
from bot.router import Command, Context, Option

# Discord shows at most 5 rows of 5 buttons; one row of Cancel buttons is plenty.
MAX_BUTTONS = 5


async def run(ctx: Context, action: str, id: int | None) -> Reply:
    """Show your queued and running jobs, or cancel one.

    /jobs lists yours (instructors see everyone's in this server). /jobs cancel id:N cancels
    job N: a queued job at once, a running one after its current step. Students can cancel
    their own jobs; instructors any job in their server.
    """
    words = action.lower().split()
    verb = words[0] if words else "list"
    if verb not in ACTIONS or len(words) > 2 or (len(words) == 2 and verb != "cancel"):
        return Error(
            what=f"/jobs {action} is not something /jobs does.",
            todo="Type /jobs to list your jobs, or /jobs cancel id:N to cancel one.",
        )
    if verb == "cancel":
        if len(words) == 2:  # `/jobs cancel 12`, as people type it
            if id is not None:
                return Error(what="The job is given twice.", todo="Type /jobs cancel id:N.")
            number = words[1].removeprefix("id:").removeprefix("#").rstrip(".")
            if not number.isdigit():
                return Error(
                    what=f"{words[1]} is not a job number.",
                    todo="Type /jobs cancel id:N with the number /jobs shows.",
                )
            id = int(number)
        return await _cancel(ctx, id)
    return await _list(ctx)


ACTIONS = ("list", "cancel")


async def _complete_action(services: object, prefix: str) -> list[str]:
    return [a for a in ACTIONS if a.startswith(prefix.strip().lower())]


async def _list(ctx: Context) -> Reply:
    instructor = ctx.actor.role is Role.INSTRUCTOR
    jobs = await ctx.services.jobs.active(
        guild_pk=ctx.guild_pk, user_pk=None if instructor else ctx.user_pk
    )
    if not jobs:
        whose = "No one has" if instructor else "You have no"
        return Text(
            text=f"{whose} queued or running jobs. Start one with /run, /generate or /imagine."
        )
    columns = ("id", "job", "state") + (("who",) if instructor else ())
    table_rows = []
    for job in jobs:
        row = (str(job.id), _summary(job), _state(job))
        table_rows.append(row + ((job.who,) if instructor else ()))
    mine = [j for j in jobs if instructor or j.user_pk == ctx.user_pk][:MAX_BUTTONS]
    return Table(
        title="Jobs in this server" if instructor else "Your jobs",
        columns=columns,
        rows=tuple(table_rows),
        footer="Cancel one with /jobs cancel id:N.",
        buttons=tuple(
            Button(label=f"Cancel {j.id}", action=f"/jobs cancel id:{j.id}", style="danger")
            for j in mine
        ),
        private=True,
    )


def _summary(job: JobLine) -> str:
    return f"{job.kind}: {job.summary}" if job.summary else job.kind


def _state(job: JobLine) -> str:
    if job.state == "running":
        if job.cancel_requested:
            return "stopping"
        if job.progress_total:
            return f"running {job.progress_step}/{job.progress_total}"
        return f"running ({job.progress_label or 'starting'})"
    return f"queued #{job.position}" if job.position else "queued"


async def _cancel(ctx: Context, job_id: int | None) -> Reply:
    if job_id is None:
        return Error(what="Which job?", todo="Type /jobs cancel id:N; /jobs lists your jobs.")
    outcome = await ctx.services.jobs.cancel(
        job_id,
        user_pk=ctx.user_pk,
        guild_pk=ctx.guild_pk,
        instructor=ctx.actor.role is Role.INSTRUCTOR,
    )
    match outcome:
        case "cancelled":
            return Text(text=f"Job {job_id} cancelled.", private=True)
        case "cancelling":
            return Text(
                text=f"Stopping job {job_id}: it ends after its current step.", private=True
            )
        case "finished":
            return Error(what=f"Job {job_id} has already finished.", todo="Nothing to cancel.")
        case "not_allowed":
            return Error(
                what=f"Job {job_id} is not yours.",
                todo="Only the student who started it, or an instructor, can cancel it.",
            )
        case _:
            return Error(what=f"There is no job {job_id} here.", todo="/jobs lists your jobs.")


COMMAND = Command(
    name="jobs",
    handler=run,
    options=(
        Option(
            "action",
            str,
            "list (default) or cancel",
            rest=True,
            default="list",
            # Not `choices`: typed, `cancel 12` is one value (the number read in `run`).
            max_length=40,
            complete=_complete_action,
        ),
        Option("id", int, "The job number, from /jobs or the job's message", min_value=1),
    ),
    examples=("/jobs", "/jobs cancel id:12"),
)
