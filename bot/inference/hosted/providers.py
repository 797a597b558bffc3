"""The Hub's provider mapping: which Inference Provider serves a model, for which task.

The Hub answers `GET /api/models/{id}?expand=inferenceProviderMapping` with one entry per
provider (its task, its own id for the model, and its status). A command's task maps to the
provider tasks that can run it: /generate continues a prompt, which a `text-generation`
mapping does directly and a `conversational` one does as a chat completion; each /run text
task is the provider task of the same name, except text2text-generation, which
huggingface_hub (2.x) runs with `text_generation` (it has no text2text method any more);
each audio and image task is the provider task of the same name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from huggingface_hub.hf_api import InferenceProviderMapping
from huggingface_hub.inference._providers import PROVIDERS

# The command's task → provider tasks that run it, best first. A /run task missing here
# does not run hosted yet: the hosted guard refuses it (bot/jobs/hosted/tasks.py holds how
# each one listed is called).
PROVIDER_TASKS: dict[str, tuple[str, ...]] = {
    "text-generation": ("text-generation", "conversational"),
    "text-to-image": ("text-to-image",),
    "text-classification": ("text-classification",),
    "token-classification": ("token-classification",),
    "fill-mask": ("fill-mask",),
    "question-answering": ("question-answering",),
    "summarization": ("summarization",),
    "translation": ("translation",),
    "text2text-generation": ("text-generation",),
    "zero-shot-classification": ("zero-shot-classification",),
    "sentence-similarity": ("sentence-similarity",),
    # The audio and image tasks: the provider task of the same name, the file as its input.
    "automatic-speech-recognition": ("automatic-speech-recognition",),
    "audio-classification": ("audio-classification",),
    "image-classification": ("image-classification",),
    "object-detection": ("object-detection",),
    "image-to-text": ("image-to-text",),
}
# hf-inference serves a model by its own pipeline tag, whatever task its mapping entry names:
# a sentence-transformers model mapped as feature-extraction also answers sentence-similarity
# (huggingface.js treats the two as one there), and a text2text model answers text-generation
# (huggingface_hub's own check of the model's task says so).
_HF_INFERENCE_ALSO = {
    ("feature-extraction", "sentence-similarity"),
    ("sentence-similarity", "feature-extraction"),
    ("text2text-generation", "text-generation"),
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


def runs_hosted(task: str) -> bool:
    """Whether a command's task has a hosted way to run (the guard refuses the others)."""
    return task in PROVIDER_TASKS


def _serves(entry: InferenceProviderMapping, wanted: str) -> bool:
    if entry.task == wanted:
        return True
    return entry.provider == "hf-inference" and (entry.task, wanted) in _HF_INFERENCE_ALSO


def pick_route(
    mapping: Iterable[InferenceProviderMapping], task: str, provider: str
) -> Route | None:
    """The first live provider (in the Hub's order) serving `task`, limited to `provider`
    unless it is "auto"; None when no provider fits. Only providers the client can call."""
    entries = [m for m in mapping if m.status != "error"]
    for wanted in provider_tasks(task):
        for entry in entries:
            if provider not in ("auto", entry.provider) or not _serves(entry, wanted):
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
        where = "any Inference Provider" if provider == "auto" else f"the provider {provider}"
        raise HostedFault(f"{model} is not served by {where} for {task}.", "Pick another model.")
    if route.provider == "hf-inference":
        await asyncio.to_thread(_check_supported_task, model, route.task)
    _ROUTES[(model, task, provider)] = route
    return route
