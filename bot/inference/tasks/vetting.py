"""The model guard for /run: which task a model does, and whether the bot may run it.

The task comes from the model's `pipeline_tag` on the Hub, or from a local folder's
config.json (its architecture); then the guard's usual checks apply with that task as the
requirement (transformers library, safetensors only, size cap, never remote code).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from huggingface_hub import ModelInfo

from bot.errors import UsageError
from bot.hub.records import model_summary
from bot.hub.tasks import PIPELINE_TAGS, closest_task
from bot.inference.guard import ApprovedModel, ModelGuard, ModelRefused, Requirement, looks_local
from bot.inference.tasks import (
    HANDED_OVER,
    TASKS,
    languages,
    setting_name,
    supported_list,
)
from bot.inference.tasks import task_from_config as config_task
from bot.inference.tasks.languages import Languages
from bot.replies import Error

COMMAND = "/run"


@dataclass(frozen=True)
class TaskModel:
    """A model the guard approved for a text task, with what the command and reply need."""

    model: ApprovedModel
    task: str
    mask_token: str | None = None  # fill-mask: the token students must type
    license: str | None = None
    # translation: what source: and target: may be
    languages: Languages = field(default_factory=Languages)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model.to_json(),
            "task": self.task,
            "mask_token": self.mask_token,
            "license": self.license,
            "languages": self.languages.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskModel:
        mask, license_id = data.get("mask_token"), data.get("license")
        return cls(
            model=ApprovedModel.from_json(dict(data["model"])),
            task=str(data["task"]),
            mask_token=str(mask) if mask else None,
            license=str(license_id) if license_id else None,
            languages=Languages.from_json(data.get("languages")),
        )


@dataclass(frozen=True)
class HandOver:
    """The model does a task another command runs (/generate, /imagine)."""

    command: Literal["/generate", "/imagine"]
    model_id: str


def requirement(task: str) -> Requirement:
    spec = TASKS[task]
    return Requirement(
        task=task,
        library="transformers",
        command=COMMAND,
        also_libraries=tuple(lib for lib in spec.libraries if lib != "transformers"),
    )


def unsupported(name: str, task: str | None) -> ModelRefused:
    what = (
        f"{name} does {task}, which /run can't do yet."
        if task
        else f"{name} names no task (its card has no pipeline_tag), so /run can't tell what "
        "to do with it."
    )
    return ModelRefused(Error(what=what, todo=f"/run does these tasks: {supported_list()}."))


def _unknown_task(task: str) -> UsageError:
    """A task /run does not do: one on the Hub that it can't do yet, or a student's word for
    one it does (the guess /search makes: "sentiment" is text-classification)."""
    if task in PIPELINE_TAGS:
        return UsageError(
            Error(
                what=f"{task} is a task on the Hub that /run can't do yet.",
                todo=f"/run does these tasks: {supported_list()}.",
            )
        )
    meant = closest_task(task, (*TASKS, *HANDED_OVER))
    todo = (
        f"Did you mean task:{meant}? /help run lists the tasks /run does."
        if meant
        else f"Use one of: {supported_list()}."
    )
    return UsageError(Error(what=f"{task} is not a task /run knows.", todo=todo))


async def check_task(guard: ModelGuard, name: str | None, task: str | None) -> TaskModel | HandOver:
    """The approved model and its task, a hand-over to another command, or ModelRefused."""
    if task is not None and task not in TASKS and task not in HANDED_OVER:
        raise _unknown_task(task)
    if name is None:
        if task is None:
            raise UsageError(
                Error(
                    what="/run needs a model or a task.",
                    todo="Add model:<Hub id>, or task:<task> for the class's model, e.g. "
                    '/run task:text-classification "I loved it".',
                )
            )
        if task in HANDED_OVER:
            return HandOver(HANDED_OVER[task], "")
        name = str(getattr(guard.settings, setting_name(task)))
    name = name.strip()
    if looks_local(name):
        return await _check_local(guard, name, task)
    return await _check_hub(guard, name, task)


def _asked(task: str | None) -> Requirement:
    """The requirement before the model's own task is known: the one asked for, if any."""
    if task in TASKS:
        return requirement(task)
    return Requirement(task=task or "", library="transformers", command=COMMAND)


async def _check_local(guard: ModelGuard, name: str, task: str | None) -> TaskModel | HandOver:
    placeholder = _asked(task)
    folder = guard.local_folder(name, placeholder)
    config = await _folder_json(folder / "config.json")
    if config is None:
        if await _folder_json(folder / "model_index.json") is not None:
            return _diffusers_folder(guard, name, task)
        # No folder, no config.json, or a damaged one: the guard's own words for each.
        await guard.check(name, placeholder)
        # The class's own folder (task: without model:) is the instructor's to fix.
        raise guard.for_class(name, placeholder, unsupported(name, None))
    tokenizer = await _folder_json(folder / "tokenizer_config.json") or {}
    found = task or config_task(config)
    known = _local_languages(name, config, tokenizer)
    if task is None and found == "text2text-generation" and (known.tokens or known.pair):
        found = "translation"  # a seq2seq model with languages (NLLB, M2M100, Marian)
    if found in HANDED_OVER:
        return HandOver(HANDED_OVER[found], name)
    if found not in TASKS:
        raise unsupported(name, found)
    approved = await guard.check(name, requirement(found))
    mask = tokenizer.get("mask_token")
    if isinstance(mask, dict):
        mask = mask.get("content")
    languages_known = known if found == "translation" else Languages()
    return TaskModel(approved, found, str(mask) if mask else None, None, languages_known)


def _diffusers_folder(guard: ModelGuard, name: str, task: str | None) -> HandOver:
    """A diffusers pipeline's folder (model_index.json, no config.json) draws images: /imagine
    runs it, as it runs a text-to-image model of the Hub."""
    if task in (None, "text-to-image"):
        return HandOver("/imagine", name)
    refused = ModelRefused(
        Error(
            what=f"{name} is an image-generation (diffusers) model: it draws a picture from "
            f"a prompt, and does not do {task}.",
            todo=f"Draw with it: /imagine model:{name} a red fox in the snow. For {task}, "
            "leave model: out to use the class's model.",
        )
    )
    raise guard.for_class(name, _asked(task), refused)  # the class's own folder: instructor


async def _check_hub(guard: ModelGuard, name: str, task: str | None) -> TaskModel | HandOver:
    placeholder = _asked(task)
    info = await guard.lookup(name, placeholder)
    found = info.pipeline_tag
    if found in HANDED_OVER and task in (None, found):
        return HandOver(HANDED_OVER[found], info.id)
    if task in HANDED_OVER:
        raise ModelRefused(
            Error(
                what=f"{info.id} does {found or 'an unlisted task'}, not {task}.",
                todo="Leave task: out and /run finds the task from the model.",
            )
        )
    if task is None and found not in TASKS:
        raise unsupported(info.id, found)
    need = requirement(task or str(found))
    approved = guard.check_record(name, info, need)
    mask = getattr(info, "mask_token", None)
    known = _hub_languages(info) if need.task == "translation" else Languages()
    license_id = model_summary(info).license
    return TaskModel(approved, need.task, str(mask) if mask else None, license_id, known)


def _local_languages(name: str, config: dict[str, Any], tokenizer: dict[str, Any]) -> Languages:
    """A folder's languages: its tokenizer's language tokens or pair, its config's T5
    prompts, or the opus-mt pair in its name."""
    tokens, pair = languages.from_tokenizer_config(tokenizer)
    return Languages(
        tokens=tokens,
        pair=None if tokens else (pair or languages.from_name(name)),
        directions=languages.from_task_params(config),
    )


def _hub_languages(info: ModelInfo) -> Languages:
    """A Hub model's languages from what its record holds (no file download): the opus-mt
    pair in its name, else the card's `language:` list."""
    pair = languages.from_name(info.id)
    card = info.card_data.get("language") if info.card_data is not None else None
    return Languages(pair=pair, codes=() if pair else languages.from_card(card))


# A folder's JSON files as last read, with the modification time and size they were read at. A class
# runs the same folders all lesson: reading both files again (off the event loop, a thread
# hop each) cost every /run about half a millisecond. The keys are the folders the
# instructor allows (local_folder refuses the others before anything is read).
_READ: dict[Path, tuple[tuple[int, int], dict[str, Any] | None]] = {}


async def _folder_json(path: Path) -> dict[str, Any] | None:
    """`path`'s JSON object (None when missing or not one), read again only once changed."""
    try:
        # A stat is one quick system call; the hop to a thread would cost more than it.
        stat = path.stat()  # noqa: ASYNC240
    except OSError:
        return None
    stamp = (stat.st_mtime_ns, stat.st_size)
    known = _READ.get(path)
    if known is not None and known[0] == stamp:
        return known[1]
    data = await asyncio.to_thread(_read_json, path)
    _READ[path] = (stamp, data)
    return data


def _read_json(path: Path) -> dict[str, Any] | None:
    """The file's JSON object; None when it is missing or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
