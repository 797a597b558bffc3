"""Where a model can run, as the model page tells it: here (the guard's own checks, so the
page never offers what /generate or /imagine would refuse) and on hosted inference.

With a hosted backend (CLASSBOT_BACKEND=hf|openai) the guard itself is the hosted one, so
"runs here" means "a provider serves it", and `place` names where. `hosted` (whether hosted
inference could run a model the local backend refuses) still answers None: a local bot does
not ask the providers.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.inference.guard import TEXT_GENERATION, TEXT_TO_IMAGE, ModelGuard, ModelRefused

# The bot's commands by the task they run, with what the guard checks for each.
REQUIREMENTS = {need.task: need for need in (TEXT_GENERATION, TEXT_TO_IMAGE)}


@dataclass(frozen=True)
class Where:
    """The answer for one model."""

    command: str | None  # the command that runs its task here, None when none does
    runs_here: bool
    why_not: str = ""  # the guard's refusal in its own words (what, then what to do)
    hosted: bool | None = None  # None: no hosted inference is set up here
    place: str = ""  # where it runs, when not on this bot's own workers


async def hosted(model_id: str, pipeline_tag: str | None) -> bool | None:
    """Whether hosted inference can run the model; None while no hosted backend exists."""
    return None


async def where_it_runs(guard: ModelGuard | None, model_id: str, tag: str | None) -> Where:
    need = REQUIREMENTS.get(tag or "")
    if need is None:
        return Where(command=None, runs_here=False, hosted=await hosted(model_id, tag))
    if guard is None:  # a bot with no inference set up runs nothing
        return Where(command=need.command, runs_here=False, why_not="Models do not run here.")
    try:
        await guard.check(model_id, need)
    except ModelRefused as refused:
        why = " ".join(x for x in (refused.error.what, refused.error.todo) if x)
        return Where(
            command=need.command, runs_here=False, why_not=why, hosted=await hosted(model_id, tag)
        )
    local = guard.settings.backend in ("auto", "local")
    return Where(
        command=need.command, runs_here=True, place="" if local else guard.runs_on(model_id)
    )
