"""The Hub's provider mapping: which Inference Provider serves a model, for which task.

The Hub answers `GET /api/models/{id}?expand=inferenceProviderMapping` with one entry per
provider (its task, its own id for the model, and its status). A command's task maps to the
provider tasks that can run it: /generate continues a prompt, which a `text-generation`
mapping does directly and a `conversational` one does as a chat completion.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from huggingface_hub.hf_api import InferenceProviderMapping
from huggingface_hub.inference._providers import PROVIDERS

# The command's task → provider tasks that run it, best first.
PROVIDER_TASKS: dict[str, tuple[str, ...]] = {
    "text-generation": ("text-generation", "conversational"),
}


# Routes found so far, by (model, command task, provider setting): huggingface_hub keeps the
# mapping it fetched for the life of the process, so a route found once stays right as long.
_ROUTES: dict[tuple[str, str, str], Route] = {}


@dataclass(frozen=True)
class Route:
    """Where one model runs for one task: the provider and the provider's task."""

    provider: str
    task: str


def provider_tasks(task: str) -> tuple[str, ...]:
    return PROVIDER_TASKS.get(task, (task,))


def pick_route(
    mapping: Iterable[InferenceProviderMapping], task: str, provider: str
) -> Route | None:
    """The first live provider (in the Hub's order) serving `task`, limited to `provider`
    unless it is "auto"; None when no provider fits. Only providers the client can call."""
    entries = [m for m in mapping if m.status != "error"]
    for wanted in provider_tasks(task):
        for entry in entries:
            if provider not in ("auto", entry.provider) or entry.task != wanted:
                continue
            if wanted in PROVIDERS.get(entry.provider, {}):
                return Route(entry.provider, wanted)
    return None


def served_tasks(mapping: Iterable[InferenceProviderMapping]) -> list[str]:
    """`provider (task)` for each live entry, to say what a model is served for."""
    return [f"{m.provider} ({m.task})" for m in mapping if m.status != "error"]


async def route_for(model: str, task: str, provider: str) -> Route:
    """Where `model` runs for `task` now (raises HostedFault when nowhere).

    The mapping comes through huggingface_hub's own cached lookup (the one its providers
    use), fetched in a thread: its first call per model is a blocking Hub request. The same
    goes for hf-inference's check of the model's task."""
    from huggingface_hub.inference._providers._common import _fetch_inference_provider_mapping
    from huggingface_hub.inference._providers.hf_inference import _check_supported_task

    from bot.inference.hosted.faults import HostedFault

    known = _ROUTES.get((model, task, provider))
    if known is not None:
        return known  # both lookups below are cached for good by huggingface_hub
    try:
        mapping = await asyncio.to_thread(_fetch_inference_provider_mapping, model)
    except ValueError:  # the Hub knows the model but no provider serves it
        mapping = []
    route = pick_route(mapping, task, provider)
    if route is None:
        where = "no Inference Provider" if provider == "auto" else f"the provider {provider}"
        raise HostedFault(f"{model} is not served by {where} for {task}. Pick another model.")
    if route.provider == "hf-inference":
        await asyncio.to_thread(_check_supported_task, model, route.task)
    _ROUTES[(model, task, provider)] = route
    return route
