"""Where a model can run, as /search tells it: here (the guard's own checks, so a page never
offers what /generate, /imagine or /run would refuse) and on hosted inference.

With a hosted backend (CLASSBOT_BACKEND=hf|openai) the guard itself is the hosted one, so
"runs here" means "a provider serves it", and `place` names where. A local bot with an
HF_TOKEN also asks the Hub's provider mapping about a model it refuses (`hosted`): the
page can then say which Inference Provider runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.hub.errors import HubError
from bot.hub.records import ModelSummary
from bot.inference.guard import TEXT_GENERATION, TEXT_TO_IMAGE, ModelGuard, ModelRefused
from bot.inference.hosted.guard import HostedGuard
from bot.inference.hosted.providers import pick_route
from bot.inference.tasks import TASKS
from bot.inference.tasks.vetting import COMMAND as RUN_COMMAND
from bot.inference.tasks.vetting import check_task, requirement

# The bot's commands by the task they run, with what the guard checks for each.
REQUIREMENTS = {
    need.task: need for need in (TEXT_GENERATION, TEXT_TO_IMAGE, *(requirement(t) for t in TASKS))
}

# A listed model: runs here, does not, or the listing cannot tell (open its page).
Verdict = Literal["yes", "no", "maybe"]
MARKS: dict[Verdict, str] = {"yes": "✓", "no": "✗", "maybe": "?"}
LEGEND = (
    "Runs here: ✓ yes · ✗ no (task, library, weights, size or the class's list of models)"
    " · ? open the model to know"
)


@dataclass(frozen=True)
class Where:
    """The answer for one model."""

    command: str | None  # the command that runs its task here, None when none does
    runs_here: bool
    why_not: str = ""  # the guard's refusal in its own words (what, then what to do)
    hosted: str | None = None  # the Inference Provider serving it; None: none, or not asked
    place: str = ""  # where it runs, when not on this bot's own workers


def _asks_providers(guard: ModelGuard | None) -> bool:
    """A local bot that could use hosted inference: it has a token, and the page may say
    where the model runs instead."""
    return (
        guard is not None
        and not isinstance(guard, HostedGuard)
        and guard.settings.hf_token is not None
    )


async def hosted(guard: ModelGuard | None, model_id: str, tag: str | None) -> str | None:
    """The Inference Provider that serves the model for its task, from the Hub's provider
    mapping (the one the hosted guard reads); None when none does, or nobody may ask."""
    if guard is None or not tag or not _asks_providers(guard):
        return None
    try:
        info = (await guard.hub.provider_facts(model_id)).value
    except HubError:
        return None  # the page stays useful without it
    route = pick_route(info.inference_provider_mapping or [], tag, guard.settings.hf_provider)
    return route.provider if route is not None else None


async def where_it_runs(guard: ModelGuard | None, model_id: str, tag: str | None) -> Where:
    need = REQUIREMENTS.get(tag or "")
    if need is None:
        return Where(command=None, runs_here=False, hosted=await hosted(guard, model_id, tag))
    if guard is None:  # a bot with no inference set up runs nothing
        return Where(command=need.command, runs_here=False, why_not="Models do not run here.")
    try:
        if need.command == RUN_COMMAND:
            # /run's own vetting, so the Run button never opens a form that /run would
            # refuse; with the page's task, so a refusal offers that task's class model.
            await check_task(guard, model_id, tag)
        else:
            await guard.check(model_id, need)
    except ModelRefused as refused:
        why = " ".join(x for x in (refused.error.what, refused.error.todo) if x)
        return Where(
            command=need.command,
            runs_here=False,
            why_not=why,
            hosted=await hosted(guard, model_id, tag),
        )
    local = not isinstance(guard, HostedGuard)
    return Where(
        command=need.command, runs_here=True, place="" if local else guard.runs_on(model_id)
    )


def listed_verdict(guard: ModelGuard | None, model: ModelSummary) -> Verdict:
    """Whether a model of a Hub listing runs here, from the listing alone: the guard's checks
    on the record the list gave (task, library, safetensors, size, gating, remote code, the
    class's lists). What needs another request per row is "maybe": a diffusers pipeline's
    size (the sum of its files) and, on a hosted backend, the provider mapping."""
    need = REQUIREMENTS.get(model.pipeline_tag or "")
    if guard is None or need is None or model.record is None:
        return "no"
    if isinstance(guard, HostedGuard):
        return "maybe"
    if need.library == "diffusers":
        libraries = (need.library, *need.also_libraries)
        return "maybe" if model.library in libraries else "no"
    try:
        guard.check_listed(model.record, need)
    except ModelRefused:
        return "no"
    return "yes"
