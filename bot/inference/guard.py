"""The model guard: vet a model id before anything is downloaded or loaded.

Runs in the bot process (no torch). A Hub id is resolved with `HfApi.model_info` (renamed
repos answer 307 and the client follows it, so the id we keep is the new one) and refused,
with a reason and something to try instead, when it does not fit the command (task and
library), is too big for the device, is gated and we have no token, ships no safetensors, or
needs remote code. Local folders (offline classrooms, tests) are read from disk: config.json
and the safetensors headers, which give the parameter count without loading a tensor.

Hub facts come through the bot's HubClient (bot/hub/client.py): its cache, its circuit
breaker and its one mapping of Hub faults to replies. A model vetted before is answered at
once from that cache, even when the Hub has stopped answering, while it is checked again.

The approved model carries the commit sha that was vetted, so the worker downloads exactly
that revision and not whatever the repo holds a minute later.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import os
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from huggingface_hub import ModelInfo

from bot.config import Settings, env_name
from bot.errors import UsageError
from bot.hub.client import HubClient
from bot.hub.errors import (
    BadRepoId,
    HubBadAnswer,
    HubError,
    HubTokenRefused,
    HubUnavailable,
    RepoDisabled,
    RepoGated,
    RepoNotFound,
)
from bot.hub.faults import hub_fault
from bot.hub.records import param_count
from bot.hub.tasks import with_article
from bot.inference.devices import DEFAULT_IMAGE_PARAM_CAPS, param_cap
from bot.inference.pipelines import counted_weights, params_from_sizes, pipeline_problem
from bot.inference.tasks import TASKS, setting_name
from bot.inference.tasks import fits as task_fits
from bot.replies import Error

log = logging.getLogger(__name__)

ModelInfoFn = Callable[[str], ModelInfo]
# A safetensors header is a JSON index of the tensors; real ones are well under 10 MB.
_MAX_HEADER = 100 * 1024 * 1024
_WILDCARDS = "*?["
_EXAMPLES = {"transformers": "EleutherAI/gpt-neo-125m", "diffusers": "stabilityai/sd-turbo"}
# Metadata that is not the shape huggingface_hub documents (owners write it by hand).
_MALFORMED = (TypeError, ValueError, AttributeError, KeyError)


@dataclass(frozen=True)
class Requirement:
    """What a command can run."""

    task: str
    library: str
    command: str
    # A local folder holding this file is a model of the library (config.json for transformers).
    marker: str = "config.json"
    # Other libraries whose repos load the same way (sentence-transformers repos hold a
    # transformers model).
    also_libraries: tuple[str, ...] = ()


TEXT_GENERATION = Requirement(task="text-generation", library="transformers", command="/generate")
TEXT_TO_IMAGE = Requirement(
    task="text-to-image", library="diffusers", command="/imagine", marker="model_index.json"
)


def short_name(model_id: str) -> str:
    """A model's name without its owner or folder: "gpt2" for openai-community/gpt2 and for
    /srv/models/gpt2."""
    return model_id.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ApprovedModel:
    """A model that passed the guard: safe to download and load."""

    id: str  # Hub repo id after renames, or an absolute local folder
    source: Literal["hub", "local"]
    params: int
    revision: str | None = None  # the vetted commit on the Hub

    @property
    def short_name(self) -> str:
        return short_name(self.id)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "params": self.params, "rev": self.revision}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ApprovedModel:
        source: Literal["hub", "local"] = "local" if data.get("source") == "local" else "hub"
        rev = data.get("rev")
        return cls(str(data["id"]), source, int(data["params"]), str(rev) if rev else None)


class ModelRefused(UsageError):
    """The guard said no; `.error` says why and what to try instead."""


class NotAboutTheModel(ModelRefused):
    """A refusal that says nothing about the model itself (the Hub gave no usable answer,
    the backend cannot run the task at all): the words stay the same for the class's own
    model."""


class ClassModelRefused(ModelRefused):
    """The class's own model (named in the settings, not by the student) was refused: the
    instructor's to fix, and the reply says so."""


def _refuse(what: str, todo: str) -> ModelRefused:
    return ModelRefused(Error(what=what, todo=todo))


def format_params(n: int) -> str:
    """125M, 1.5B, 165K: how model cards write sizes."""
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= size:
            value = n / size
            text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
            return text.removesuffix(".0") + unit
    return str(n)


def count_safetensors_params(path: Path) -> int:
    """Parameters in one .safetensors file, read from its header alone (no tensor loaded)."""
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        if length > _MAX_HEADER:
            raise ValueError(f"{path.name}: header of {length} bytes")
        header = json.loads(handle.read(length))
    total = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        count = 1
        for dim in entry["shape"]:
            count *= int(dim)
        total += count
    return total


def looks_local(name: str) -> bool:
    if not name.strip():
        return False  # Path("") is the working folder
    return name.startswith(("/", "./", "../", "~", ".\\")) or Path(name).expanduser().is_dir()


def folder_pattern(pattern: str) -> str | None:
    """An allow-list entry that names server folders ("/srv/models/*"), made absolute; None
    for Hub id patterns and for patterns with no whole folder before their first wildcard
    ("*", "*/*", "/*", "/s*"): those would open every folder on the server to students."""
    expanded = os.path.expanduser(pattern.strip())
    if not Path(expanded).is_absolute():
        return None
    cut = min((expanded.find(c) for c in _WILDCARDS if c in expanded), default=len(expanded))
    folder = expanded[:cut].rsplit("/", 1)[0] if cut < len(expanded) else expanded
    if not folder.strip("/"):
        return None
    # The folder part as the disk knows it (symlinks), like the folder a student names.
    return str(Path(folder).resolve()) + expanded[len(folder) :]


class ModelGuard:
    """Vets model ids. `hub` is the bot's HubClient; `model_info` / `files_info` replace
    the Hub lookups (tests)."""

    def __init__(
        self,
        settings: Settings,
        hub: HubClient | None = None,
        *,
        model_info: ModelInfoFn | None = None,
        files_info: ModelInfoFn | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.cap = param_cap(settings.max_model_params, settings.device)
        self.image_cap = param_cap(
            settings.max_model_params, settings.device, DEFAULT_IMAGE_PARAM_CAPS
        )
        self._token = settings.hf_token.get_secret_value() if settings.hf_token else None
        self._hub = hub
        self._model_info = model_info
        self._files_info = files_info or model_info
        self._monotonic = monotonic
        # Approved local folders (reading safetensors headers on every command is wasted work).
        self._local: dict[str, tuple[float, ApprovedModel]] = {}
        # (setting, model, reason) of the class's own models already logged as unusable.
        self._warned: set[tuple[str, str, str]] = set()

    @property
    def hub(self) -> HubClient:
        if self._hub is None:  # a guard made without the bot's client (tools, tests)
            self._hub = HubClient(self.settings)
        return self._hub

    def runs_on(self, model_id: str) -> str:
        """Where an approved model runs, as /help and the model pages say it."""
        if self.settings.queue_backend == "rq":
            return "the class's model workers (classbot worker machines)"
        return "this bot's own machine (its model workers)"

    # -- the check ---------------------------------------------------------------------------

    async def check(self, name: str, need: Requirement = TEXT_GENERATION) -> ApprovedModel:
        """The approved model for `name`, or ModelRefused saying why and what to try."""
        name = name.strip()
        with self._class_model(name, need):
            return await self._check(name, need)

    async def _check(self, name: str, need: Requirement) -> ApprovedModel:
        if looks_local(name):
            key = f"local:{need.command}:{need.task}:{name}"
            cached = self._local.get(key)
            if cached is not None and cached[0] > self._monotonic():
                return cached[1]
            try:
                approved = await asyncio.to_thread(self._check_local, name, need)
            except (*_MALFORMED, struct.error, OSError) as error:
                # Only instructor-named folders get this far: the folder is damaged.
                log.warning("unreadable model folder %s: %r", name, error)
                cut_off = isinstance(error, struct.error)
                why = "a file is cut off" if cut_off else type(error).__name__
                raise _refuse(
                    f"{name} has files I could not read ({why}).",
                    "Tell your instructor: the folder may be incomplete or damaged; "
                    "save_pretrained() writes a whole one.",
                ) from None
            ttl = self.settings.hub_cache_seconds
            self._local[key] = (self._monotonic() + ttl, approved)
            return approved
        info = await self.lookup(name, need)
        return self.check_record(name, info, need)

    async def lookup(self, name: str, need: Requirement) -> ModelInfo:
        """The Hub's record of `name` once the class's lists allow it (ModelRefused when
        they do not, or when the Hub has no record to give)."""
        with self._class_model(name, need):
            self._check_lists(name, need)
            return await self._lookup(name, need)

    def check_record(self, name: str, info: ModelInfo, need: Requirement) -> ApprovedModel:
        """The checks on a record `lookup` gave, for what `need` says the model must do."""
        with self._class_model(name, need):
            return self._check_record(name, info, need)

    def _check_record(self, name: str, info: ModelInfo, need: Requirement) -> ApprovedModel:
        approved = self._check_hub_safely(info, need)
        if approved.id != name:  # renamed: the lists apply to the new name too
            self._check_lists(approved.id, need)
        return approved

    def check_listed(self, info: ModelInfo, need: Requirement) -> ApprovedModel:
        """The checks `check` makes, on a record a Hub listing already gave (no request)."""
        self._check_lists(info.id, need)
        return self.check_record(info.id, info, need)

    # -- the class's own models -------------------------------------------------------------

    def class_setting(self, name: str, need: Requirement) -> str | None:
        """The setting (as its environment variable) that makes `name` the class's model
        for `need`; None for a model the student chose."""
        field = self._setting_of(need)
        if field is None or name.strip() != str(getattr(self.settings, field)).strip():
            return None
        return env_name(field)

    def for_class(self, name: str, need: Requirement, refused: ModelRefused) -> ModelRefused:
        """`refused` as the class should read it: for the class's own model, the student
        cannot fix what the instructor set, so the reply says the class's model is not
        available, names the setting, and the reason is logged once for whoever runs the
        bot. Any other refusal (or one the Hub's silence caused) is returned as it is."""
        if isinstance(refused, (NotAboutTheModel, ClassModelRefused)):
            return refused
        setting = self.class_setting(name, need)
        if setting is None:
            return refused
        reason = refused.error.what
        if (setting, name, reason) not in self._warned:
            self._warned.add((setting, name, reason))
            log.warning("the class's model %s=%s can't be used: %s", setting, name, reason)
        for_what = need.task if need.task in TASKS else need.command  # /run: each task its own
        what = f"The class's model for {for_what} is not available"
        if not looks_local(name):
            what += f". {reason}"
        elif Path(name).expanduser().is_dir():
            # Never the server's paths to students (the log has them): the folder's name.
            what += ". " + reason.replace(name, Path(name).name)
        else:
            what += ": its folder is missing on the bot's machine."
        return ClassModelRefused(
            Error(
                what=what,
                todo=f"Tell your instructor: the setting {setting} names it. Meanwhile you "
                f"can name a model yourself with model: (/search task:{need.task} finds "
                "them).",
            )
        )

    @contextmanager
    def _class_model(self, name: str, need: Requirement) -> Iterator[None]:
        try:
            yield
        except ModelRefused as refused:
            changed = self.for_class(name, need, refused)
            if changed is refused:
                raise
            raise changed from None

    def _setting_of(self, need: Requirement) -> str | None:
        """The settings field holding the class's model for `need`; None for a /run whose
        task is not known yet (each task has its own, and /generate's is none of them)."""
        if not need.task:
            return None
        if need.task in TASKS:
            return setting_name(need.task)
        return "text_model" if need.library == "transformers" else "image_model"

    def _defaults(self) -> set[str]:
        return {self.settings.text_model, self.settings.image_model, *self._task_defaults()}

    def _task_defaults(self) -> list[str]:
        return [str(getattr(self.settings, setting_name(task))) for task in TASKS]

    def _default_for(self, need: Requirement) -> str:
        """The command's default model as students may see it: a Hub id, never the path of
        a folder on the server."""
        default = self._default_name(need)
        if not default:
            return "the class's model for your task (task:<task>)"
        return "the class's default model" if looks_local(default) else default

    def _check_lists(self, model_id: str, need: Requirement) -> None:
        lowered = model_id.lower()

        def listed(patterns: list[str]) -> bool:
            return any(fnmatch.fnmatchcase(lowered, p.lower()) for p in patterns)

        default = self._default_for(need)
        if listed(self.settings.model_denylist):
            raise _refuse(
                f"{model_id} is blocked in this class.",
                f"Your instructor chose which models you can use; leave model: out to use "
                f"{default}.",
            )
        allow = self.settings.model_allowlist
        if allow and model_id not in self._defaults() and not listed(allow):
            # Never offer another command's model (the text model to /imagine).
            others = {d.lower() for d in self._defaults() - {self._default_name(need)}}
            offered = [p for p in allow if not looks_local(p) and p.lower() not in others]
            if looks_local(self._default_name(need)):
                default += " (leave model: out)"  # no name to type for a folder
            shown = ", ".join(list(dict.fromkeys([default, *offered]))[:6])
            raise _refuse(
                f"{model_id} is not on this class's list of models.", f"You can use: {shown}."
            )

    # -- local folders ------------------------------------------------------------------------

    def local_folder(self, name: str, need: Requirement) -> Path:
        """The folder `name` names, once the instructor's lists allow it (nothing about
        the folder is read before)."""
        folder = Path(name).expanduser().resolve()
        defaults = self._defaults()
        if name in defaults:
            # A default as the settings spell it (every `/run task:` without model:): no
            # need to look at the disk for each default (0.2 ms of every such submission).
            return folder
        allowed = {str(Path(d).expanduser().resolve()) for d in defaults if looks_local(d)}
        patterns = [p for p in map(folder_pattern, self.settings.model_allowlist) if p]
        if str(folder) not in allowed and not any(
            fnmatch.fnmatchcase(str(folder), p) for p in patterns
        ):
            # Students must not probe the server's disk: only folders the instructor named,
            # checked before anything about the folder (even whether it exists) is said.
            raise _refuse(
                "Local model folders are chosen by the instructor.",
                f"Use a Hub id (find one with /search), or leave model: out to use "
                f"{self._default_for(need)}.",
            )
        return folder

    def _check_local(self, name: str, need: Requirement) -> ApprovedModel:
        folder = self.local_folder(name, need)
        if not folder.is_dir():
            # A default that is missing is reworded by for_class: this is a typed path.
            raise _refuse(
                f"There is no model folder at {name}.",
                f"Check the path, or leave model: out to use {self._default_for(need)}.",
            )
        marker = folder / need.marker
        if not marker.is_file():
            raise _refuse(
                f"{name} has no {need.marker}, so it is not a {need.library} model folder.",
                "Point to a folder made by save_pretrained().",
            )
        config = json.loads(marker.read_text(encoding="utf-8"))
        if config.get("auto_map"):
            raise self._remote_code(name, need)
        problem = pipeline_problem(config) if need.library == "diffusers" else None
        if problem == "custom code":
            raise self._remote_code(name, need)
        if problem:
            raise _refuse(
                f"{name} holds {problem}, which does not make images from a text prompt.",
                f"Use a text-to-image pipeline (e.g. StableDiffusionPipeline) with {need.command}.",
            )
        if need.library == "transformers" and need.task in TASKS:
            if not task_fits(need.task, config):
                kind = ", ".join(config.get("architectures") or []) or "unknown"
                raise _refuse(
                    f"{name} holds a {kind} model, which does not do {need.task}.",
                    f"Use {with_article(need.task)} model with {need.command}, e.g. "
                    f"{self._default_for(need)}.",
                )
        elif need.library == "transformers":
            architectures = [str(a) for a in config.get("architectures") or []]
            if not any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
                kind = ", ".join(architectures) or config.get("model_type") or "unknown"
                raise _refuse(
                    f"{name} holds a {kind} model, which does not generate text.",
                    f"Use a causal language model (…ForCausalLM) with {need.command}.",
                )
        weights = self._local_weights(folder, need)
        if not weights:
            raise self._no_safetensors(name, need)
        params = sum(count_safetensors_params(path) for path in weights)
        self._check_size(name, params, need)
        return ApprovedModel(id=str(folder), source="local", params=params)

    @staticmethod
    def _local_weights(folder: Path, need: Requirement) -> list[Path]:
        if need.library == "diffusers":  # one file per component folder (pipelines.py)
            parts = [p.relative_to(folder).as_posix() for p in folder.glob("*/*.safetensors")]
            return [folder / path for path in counted_weights(parts)]
        found = sorted(
            folder.rglob("*.safetensors")
            if need.marker != "config.json"
            else (folder.glob("*.safetensors"))
        )
        # fp16 copies of the same weights (diffusers "variants") would count twice.
        full = [p for p in found if ".fp16." not in p.name]
        return full or found

    # -- the Hub ------------------------------------------------------------------------------

    async def _lookup(self, name: str, need: Requirement) -> ModelInfo:
        files = need.library == "diffusers"  # diffusers repos list no parameter count: sizes
        try:
            if self._model_info is not None:
                return await self._injected(name, files)
            # A model vetted before answers at once from the (maybe expired) cache while it
            # is looked up again: the class's default never waits on a sick Hub.
            return (await self.hub.model_facts(name, files=files, stale_wait=0)).value
        except HubError as error:
            raise self._hub_refusal(name, error, need) from None

    async def _injected(self, name: str, files: bool) -> ModelInfo:
        lookup = self._files_info if files else self._model_info
        assert lookup is not None
        try:
            return await asyncio.to_thread(lookup, name)
        except Exception as error:
            raise hub_fault(error, "model", name) from error

    def _hub_refusal(self, name: str, error: HubError, need: Requirement) -> ModelRefused:
        # Through for_class here too: a hosted guard's lookup comes here without `lookup`.
        return self.for_class(name, need, self._hub_words(name, error, need))

    def _hub_words(self, name: str, error: HubError, need: Requirement) -> ModelRefused:
        default = self._default_for(need)
        if isinstance(error, BadRepoId):
            return _refuse(
                f"'{name}' is not a model id.",
                f"Model ids look like owner/name, e.g. {_EXAMPLES[need.library]}; /search "
                "finds them.",
            )
        if isinstance(error, RepoNotFound):
            return _refuse(
                f"I can't find the model {name} on the Hugging Face Hub.",
                f"Check the spelling (ids look like {_EXAMPLES[need.library]}) or find one with "
                "/search. Deleted and private repos look missing too.",
            )
        if isinstance(error, RepoDisabled):
            return _refuse(f"{name} has been disabled on the Hub.", f"Try {default}.")
        if isinstance(error, RepoGated):
            return self._gated(name, need)
        # The Hub did not answer usefully (or refused the bot's token): the shared words,
        # and the class's default as a way on when the student asked for another model.
        todo = error.todo
        if name != self._default_name(need):
            todo += f" Or leave model: out to use {default}."
        if isinstance(error, (HubUnavailable, HubTokenRefused)):
            return NotAboutTheModel(Error(what=error.what, todo=todo.strip()))
        return _refuse(error.what, todo.strip())

    def _default_name(self, need: Requirement) -> str:
        """The class's model for `need`; "" for a /run whose task is not known yet (before
        the lists allow a Hub lookup): each task has its own, and /generate's is none of them."""
        field = self._setting_of(need)
        return "" if field is None else str(getattr(self.settings, field))

    def _check_hub_safely(self, info: ModelInfo, need: Requirement) -> ApprovedModel:
        try:
            return self._check_hub(info, need)
        except _MALFORMED as error:
            log.warning("unreadable model_info for %s: %r", getattr(info, "id", "?"), error)
            raise NotAboutTheModel(HubBadAnswer().reply()) from None

    def _check_hub(self, info: ModelInfo, need: Requirement) -> ApprovedModel:
        repo = info.id
        default = self._default_for(need)
        if info.disabled:
            raise _refuse(f"{repo} has been disabled on the Hub.", f"Try {default}.")
        if info.library_name not in (need.library, *need.also_libraries):
            todo = (
                "Try it with /imagine."
                if info.pipeline_tag == "text-to-image" and need.command != "/imagine"
                else f"Find one that fits with /search task:{need.task}."
            )
            library = with_article(info.library_name or "unknown library")
            raise _refuse(
                f"{repo} is {library} model, not a {need.library} one, so {need.command} "
                "can't run it.",
                todo,
            )
        if info.pipeline_tag != need.task:
            raise _refuse(
                f"{repo} does {info.pipeline_tag or 'an unlisted task'}, not {need.task}.",
                f"Pick {with_article(need.task)} model, e.g. {default}; /search task:{need.task} "
                "lists more.",
            )
        if "custom_code" in (info.tags or []):
            raise self._remote_code(repo, need)
        files = {s.rfilename: param_count(s.size) or 0 for s in info.siblings or []}
        if need.library == "diffusers" and "model_index.json" not in files:
            raise _refuse(
                f"{repo} is not a whole diffusers pipeline (it has no model_index.json): "
                "probably a LoRA adapter or a single-file checkpoint.",
                f"Pick a complete text-to-image pipeline, e.g. {default}.",
            )
        has_safetensors = info.safetensors is not None or any(
            s.rfilename.endswith(".safetensors") for s in info.siblings or []
        )
        if not has_safetensors:
            raise self._no_safetensors(repo, need)
        if info.gated and not self._token:
            raise self._gated(repo, need)
        params = param_count(info.safetensors.total) if info.safetensors is not None else None
        if not params and need.library == "diffusers":
            params = params_from_sizes(files)
        if not params:
            raise _refuse(
                f"I can't tell how big {repo} is: the Hub lists no parameter count for it.",
                f"Pick a model whose page shows its size, e.g. {default}.",
            )
        self._check_size(repo, params, need)
        return ApprovedModel(id=repo, source="hub", params=params, revision=info.sha)

    # -- refusals shared by both paths ---------------------------------------------------------

    def _check_size(self, name: str, params: int, need: Requirement) -> None:
        cap = self.image_cap if need.library == "diffusers" else self.cap
        if params > cap:
            raise _refuse(
                f"{name} has {format_params(params)} parameters; the limit here is "
                f"{format_params(cap)}.",
                f"Bigger models need more memory and time (about 2 bytes per parameter on a "
                f"GPU, 4 on a CPU). Try a smaller one, e.g. {self._default_for(need)}.",
            )

    def _remote_code(self, name: str, need: Requirement = TEXT_GENERATION) -> ModelRefused:
        return _refuse(
            f"{name} needs its own Python code to run (trust_remote_code), which this bot "
            "never runs.",
            f"Pick a model that works with the plain library, e.g. {self._default_for(need)}.",
        )

    def _no_safetensors(self, name: str, need: Requirement = TEXT_GENERATION) -> ModelRefused:
        return _refuse(
            f"{name} has no safetensors weights, only pickle files, which can run code when "
            "they are loaded.",
            f"Pick another model (most ship safetensors weights), e.g. {self._default_for(need)}.",
        )

    def _gated(self, name: str, need: Requirement) -> ModelRefused:
        if self._token:
            what = (
                f"{name} is gated: its authors approve each user, and this bot's Hugging Face "
                "token has not been given access."
            )
        else:
            what = (
                f"{name} is gated: its authors ask each user to accept their terms on the Hub, "
                "and this bot has no Hugging Face token."
            )
        return _refuse(
            what,
            f"Try an open model such as {self._default_for(need)}, or ask your instructor "
            "(HF_TOKEN).",
        )
