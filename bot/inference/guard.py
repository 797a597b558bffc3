"""The model guard: vet a model id before anything is downloaded or loaded.

Runs in the bot process (no torch). A Hub id is resolved with `HfApi.model_info` (renamed
repos answer 307 and the client follows it, so the id we keep is the new one) and refused,
with a reason and something to try instead, when it does not fit the command (task and
library), is too big for the device, is gated and we have no token, ships no safetensors, or
needs remote code. Local folders (offline classrooms, tests) are read from disk: config.json
and the safetensors headers, which give the parameter count without loading a tensor.

The approved model carries the commit sha that was vetted, so the worker downloads exactly
that revision and not whatever the repo holds a minute later.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from huggingface_hub import HfApi, ModelInfo
from huggingface_hub.errors import (
    DisabledRepoError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from bot.config import Settings
from bot.errors import UsageError
from bot.inference.devices import DEFAULT_IMAGE_PARAM_CAPS, param_cap
from bot.inference.pipelines import counted_weights, params_from_sizes, pipeline_problem
from bot.replies import Error

log = logging.getLogger(__name__)

ModelInfoFn = Callable[[str], ModelInfo]
# A safetensors header is a JSON index of the tensors; real ones are well under 10 MB.
_MAX_HEADER = 100 * 1024 * 1024
_FAILED_LOOKUP_SECONDS = 30.0


@dataclass(frozen=True)
class Requirement:
    """What a command can run."""

    task: str
    library: str
    command: str
    # A local folder holding this file is a model of the library (config.json for transformers).
    marker: str = "config.json"


TEXT_GENERATION = Requirement(task="text-generation", library="transformers", command="/generate")
TEXT_TO_IMAGE = Requirement(
    task="text-to-image", library="diffusers", command="/imagine", marker="model_index.json"
)


@dataclass(frozen=True)
class ApprovedModel:
    """A model that passed the guard: safe to download and load."""

    id: str  # Hub repo id after renames, or an absolute local folder
    source: Literal["hub", "local"]
    params: int
    revision: str | None = None  # the vetted commit on the Hub

    @property
    def short_name(self) -> str:
        return self.id.rstrip("/").rsplit("/", 1)[-1]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "params": self.params, "rev": self.revision}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ApprovedModel:
        source: Literal["hub", "local"] = "local" if data.get("source") == "local" else "hub"
        rev = data.get("rev")
        return cls(str(data["id"]), source, int(data["params"]), str(rev) if rev else None)


class ModelRefused(UsageError):
    """The guard said no; `.error` says why and what to try instead."""


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


def _looks_local(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~", ".\\")) or Path(name).expanduser().is_dir()


class ModelGuard:
    def __init__(
        self,
        settings: Settings,
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
        self._model_info = model_info or self._hub_model_info
        # model_info with file sizes (diffusers repos list no parameter count).
        self._files_info = files_info or (lambda repo: self._hub_model_info(repo, files=True))
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, ModelInfo | ModelRefused]] = {}
        self._inflight: dict[str, asyncio.Future[ModelInfo]] = {}
        # Approved local folders (reading safetensors headers on every command is wasted work).
        self._local: dict[str, tuple[float, ApprovedModel]] = {}

    # -- the check ---------------------------------------------------------------------------

    async def check(self, name: str, need: Requirement = TEXT_GENERATION) -> ApprovedModel:
        """The approved model for `name`, or ModelRefused saying why and what to try."""
        name = name.strip()
        if _looks_local(name):
            key = f"local:{need.command}:{name}"
            cached = self._local.get(key)
            if cached is not None and cached[0] > self._monotonic():
                return cached[1]
            approved = await asyncio.to_thread(self._check_local, name, need)
            ttl = self.settings.hub_cache_seconds
            self._local[key] = (self._monotonic() + ttl, approved)
            return approved
        self._check_lists(name, need)
        info = await self._lookup(name, files=need.library == "diffusers")
        approved = self._check_hub(info, need)
        if approved.id != name:  # renamed: the lists apply to the new name too
            self._check_lists(approved.id, need)
        return approved

    def _defaults(self) -> set[str]:
        return {self.settings.text_model, self.settings.image_model}

    def _default_for(self, need: Requirement) -> str:
        return (
            self.settings.text_model
            if need.library == "transformers"
            else (self.settings.image_model)
        )

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
            shown = ", ".join([default, *allow][:6])
            raise _refuse(
                f"{model_id} is not on this class's list of models.", f"You can use: {shown}."
            )

    # -- local folders ------------------------------------------------------------------------

    def _check_local(self, name: str, need: Requirement) -> ApprovedModel:
        folder = Path(name).expanduser().resolve()
        allowed = {str(Path(d).expanduser().resolve()) for d in self._defaults() if _looks_local(d)}
        patterns = self.settings.model_allowlist
        if str(folder) not in allowed and not any(
            fnmatch.fnmatchcase(str(folder), p) for p in patterns
        ):
            # Students must not probe the server's disk: only folders the instructor named.
            raise _refuse(
                "Local model folders are chosen by the instructor.",
                f"Use a Hub id instead, e.g. {self._default_for(need)}.",
            )
        if not folder.is_dir():
            raise _refuse(
                f"There is no model folder at {name}.", "Check the path in the bot's settings."
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
        if need.library == "transformers":
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

    def _hub_model_info(self, repo_id: str, files: bool = False) -> ModelInfo:
        return HfApi(token=self._token or False).model_info(
            repo_id, timeout=10, files_metadata=files
        )

    async def _lookup(self, name: str, files: bool = False) -> ModelInfo:
        key = f"{name}#files" if files else name
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self._monotonic():
            if isinstance(cached[1], ModelRefused):
                raise cached[1]
            return cached[1]
        task = self._inflight.get(key)
        if task is None:
            # A class typing the same id at once makes one Hub call, and they all share it.
            task = asyncio.ensure_future(self._fetch(name, files))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _fetch(self, name: str, files: bool = False) -> ModelInfo:
        default = self.settings.text_model
        key = f"{name}#files" if files else name
        try:
            info = await asyncio.to_thread(self._files_info if files else self._model_info, name)
            self._cache[key] = (self._monotonic() + self.settings.hub_cache_seconds, info)
            return info
        except HFValidationError:
            refusal = _refuse(
                f"'{name}' is not a model id.",
                f"Model ids look like {default}; /search finds them.",
            )
        except (RepositoryNotFoundError, RevisionNotFoundError):
            refusal = _refuse(
                f"I can't find the model {name} on the Hugging Face Hub.",
                "Check the spelling (ids look like EleutherAI/gpt-neo-125m) or find one with "
                "/search. Deleted and private repos look missing too.",
            )
        except DisabledRepoError:
            refusal = _refuse(
                f"{name} has been disabled on the Hub.", f"Try another model, e.g. {default}."
            )
        except GatedRepoError:
            refusal = self._gated(name)
        except (HfHubHTTPError, OSError) as error:
            # Not cached: the Hub may answer again in a minute.
            log.warning("model_info(%s) failed: %s", name, error)
            raise _refuse(
                "The Hugging Face Hub did not answer, so I can't check that model.",
                f"Try again in a minute, or leave model: out to use {default}.",
            ) from None
        ttl = min(self.settings.hub_cache_seconds, _FAILED_LOOKUP_SECONDS)
        self._cache[key] = (self._monotonic() + ttl, refusal)
        raise refusal

    def _check_hub(self, info: ModelInfo, need: Requirement) -> ApprovedModel:
        repo = info.id
        default = self._default_for(need)
        if info.disabled:
            raise _refuse(f"{repo} has been disabled on the Hub.", f"Try {default}.")
        if info.library_name != need.library:
            todo = (
                "Try it with /imagine."
                if info.pipeline_tag == "text-to-image" and need.command != "/imagine"
                else f"Find one that fits with /search task:{need.task}."
            )
            raise _refuse(
                f"{repo} is a {info.library_name or 'unknown library'} model, not a "
                f"{need.library} one, so {need.command} can't run it.",
                todo,
            )
        if info.pipeline_tag != need.task:
            raise _refuse(
                f"{repo} does {info.pipeline_tag or 'an unlisted task'}, not {need.task}.",
                f"Pick a {need.task} model, e.g. {default}; /search task:{need.task} lists more.",
            )
        if "custom_code" in (info.tags or []):
            raise self._remote_code(repo, need)
        files = {s.rfilename: s.size or 0 for s in info.siblings or []}
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
            raise self._gated(repo)
        params = info.safetensors.total if info.safetensors is not None else None
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

    def _gated(self, name: str) -> ModelRefused:
        return _refuse(
            f"{name} is gated: its authors ask each user to accept their terms on the Hub, "
            "and this bot has no Hugging Face token.",
            f"Try an open model such as {self.settings.text_model}, or ask your instructor "
            "(HF_TOKEN).",
        )
