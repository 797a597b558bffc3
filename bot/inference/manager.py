"""The model manager, inside a worker process: download, load once, keep the recent ones.

Models arrive here already vetted by the guard (bot/inference/guard.py), with the commit
that was vetted. The first use of a Hub model downloads only what loading needs (safetensors
weights, config and tokenizer files) and reports "downloading 40%"; later uses load from the
Hugging Face cache. Loaded models stay in memory, least recently used first out, while they
fit the memory budget (CLASSBOT_MODEL_MEMORY_BUDGET_MB).
"""

from __future__ import annotations

import gc
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.hub.errors import HubError

log = logging.getLogger(__name__)

# Everything `from_pretrained` reads for a transformers model; never pickle (*.bin) weights.
ALLOW_PATTERNS = ["*.safetensors", "*.json", "tokenizer*", "*.txt", "*.model", "*.tiktoken"]
# (allow, ignore) patterns of the files a model needs.
Files = tuple[list[str], list[str]]
TEXT_FILES: Files = (ALLOW_PATTERNS, [])

Report = Callable[[str, float | None], None]


class ModelUnavailable(Exception):
    """A model could not be fetched or loaded; the message is for the student."""


class Loaded(Protocol):
    @property
    def memory_bytes(self) -> int: ...


@dataclass
class _Entry:
    model: Any
    bytes: int


class ModelManager:
    def __init__(self, device: Any, budget_bytes: int, *, token: str | None = None) -> None:
        self.device = device
        self.budget = budget_bytes
        self.token = token
        self._models: OrderedDict[str, _Entry] = OrderedDict()

    @property
    def loaded(self) -> list[str]:
        """Keys of the loaded models, least recently used first."""
        return list(self._models)

    @property
    def used_bytes(self) -> int:
        return sum(entry.bytes for entry in self._models.values())

    def bytes_per_param(self) -> int:
        # fp16 on CUDA, fp32 elsewhere (see TextModel.load).
        return 2 if getattr(self.device, "type", "cpu") == "cuda" else 4

    # -- text models ---------------------------------------------------------------------------

    def text_model(self, spec: dict[str, Any], report: Report) -> Any:
        """The loaded TextModel for an approved model (ApprovedModel.to_json())."""
        from bot.inference.text import TextModel

        key = f"text:{spec['id']}@{spec.get('rev') or ''}"

        def load() -> Any:
            from safetensors import SafetensorError

            path = self.fetch(spec, report)
            report("loading the model", None)
            try:
                return TextModel.load(path, device=str(self.device))
            # Missing files, or weights cut short (the guard reads only the header).
            except (OSError, ValueError, SafetensorError) as error:
                raise ModelUnavailable(f"{spec['id']} could not be loaded: {error}") from None

        return self.get(key, int(spec.get("params") or 0) * self.bytes_per_param(), load)

    # -- image models --------------------------------------------------------------------------

    def image_model(self, spec: dict[str, Any], report: Report) -> Any:
        """The loaded ImageModel (bot/inference/image.py) for an approved diffusers pipeline."""
        from bot.inference.image import ImageModel
        from bot.inference.pipelines import DOWNLOAD_IGNORE, DOWNLOAD_PATTERNS

        key = f"image:{spec['id']}@{spec.get('rev') or ''}"

        def load() -> Any:
            from diffusers.utils import logging as diffusers_logging

            diffusers_logging.disable_progress_bar()  # progress goes to chat, not the log
            path = self.fetch(spec, report, (DOWNLOAD_PATTERNS, DOWNLOAD_IGNORE))
            report("loading the model", None)
            # Chat and PNG text show the repo id, not the snapshot folder's commit hash.
            name = None if spec.get("source") == "local" else str(spec["id"])
            try:
                return ImageModel.load(path, device=str(self.device), name=name)
            except (OSError, ValueError) as error:  # missing or broken files, wrong shapes
                log.warning("loading %s failed: %s", spec["id"], error)
                raise ModelUnavailable(
                    f"{spec['id']} could not be loaded ({type(error).__name__}): its files "
                    "are incomplete or not a pipeline diffusers can load."
                ) from None

        return self.get(key, int(spec.get("params") or 0) * self.bytes_per_param(), load)

    # -- the LRU --------------------------------------------------------------------------------

    def get(self, key: str, estimate: int, load: Callable[[], Loaded]) -> Any:
        """The model for `key`, loading it (after making room for `estimate` bytes) if needed."""
        entry = self._models.get(key)
        if entry is not None:
            self._models.move_to_end(key)
            return entry.model
        self._make_room(estimate)
        model = load()
        self._models[key] = _Entry(model, int(model.memory_bytes))
        # The real size may exceed the estimate: evict others, never the one just loaded.
        self._make_room(0, keep=key)
        return model

    def _make_room(self, need: int, keep: str | None = None) -> None:
        while self.used_bytes + need > self.budget:
            victim = next((k for k in self._models if k != keep), None)
            if victim is None:
                return
            self.evict(victim)

    def evict(self, key: str) -> None:
        entry = self._models.pop(key, None)
        if entry is None:
            return
        log.info("unloading %s (%.0f MB)", key, entry.bytes / 2**20)
        del entry
        gc.collect()
        if getattr(self.device, "type", "cpu") == "cuda":
            import torch

            torch.cuda.empty_cache()

    def clear(self) -> None:
        for key in list(self._models):
            self.evict(key)

    # -- files ----------------------------------------------------------------------------------

    def fetch(self, spec: dict[str, Any], report: Report, files: Files = TEXT_FILES) -> str:
        """A local folder with the model's files: the folder itself, or a Hub snapshot
        (from the Hugging Face cache when it is there, else downloaded with progress)."""
        if spec.get("source") == "local":
            return str(spec["id"])
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        from bot.hub.faults import hub_fault

        repo, revision = str(spec["id"]), spec.get("rev")
        allow, ignore = files
        watcher: _DownloadWatcher | None = None
        try:
            # First the cache alone (no Hub call at all), then the Hub.
            for cached_only in (True, False):
                if not cached_only:
                    report("downloading 0%", 0.0)
                    watcher = _DownloadWatcher(repo, revision, self.token, report, files)
                    watcher.start()
                try:
                    return str(
                        snapshot_download(
                            repo,
                            revision=revision,
                            allow_patterns=allow,
                            ignore_patterns=ignore,
                            token=self.token,
                            local_files_only=cached_only,
                        )
                    )
                except (LocalEntryNotFoundError, FileNotFoundError):
                    if not cached_only:
                        raise
            raise AssertionError("unreachable")  # the loop returns or raises
        except Exception as error:
            log.warning("download of %s failed: %r", repo, error)
            fault = hub_fault(error, "model", repo)
            raise ModelUnavailable(_download_failed(repo, fault)) from None
        finally:
            if watcher is not None:
                watcher.stop()


def _download_failed(repo: str, fault: HubError) -> str:
    """What a failed download says: what happened, in the words of every other Hub call
    (bot/hub/faults.py), but never their advice to the student. The guard vetted this very
    model a moment ago, so "check the spelling" would contradict it; the job's reply adds
    what to do (try again, then tell the instructor)."""
    from bot.hub.errors import RepoNotFound, RepoPrivate

    if isinstance(fault, RepoNotFound):
        what = (
            f"There is no public model called {repo} on the Hub now, or not all of its files: "
            "it was made private, deleted or changed since it was checked."
        )
    elif isinstance(fault, RepoPrivate):
        what = f"The Hub no longer shows {repo}'s files to this bot: it is gated or private now."
    else:
        what = fault.what
    return f"Downloading {repo} failed. {what}"


class _DownloadWatcher:
    """Reports download progress by watching the cache folder grow: simpler and sturdier
    than hooking the library's progress bars, whose shape changes between versions."""

    def __init__(
        self,
        repo: str,
        revision: str | None,
        token: str | None,
        report: Report,
        files: Files = TEXT_FILES,
    ):
        self.repo, self.revision, self.token, self.report = repo, revision, token, report
        self.files = files
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="download-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=2)

    def _expected_bytes(self) -> int:
        import fnmatch

        from huggingface_hub import HfApi

        info = HfApi(token=self.token or False).model_info(
            self.repo, revision=self.revision, files_metadata=True
        )
        allow, ignore = self.files
        return sum(
            s.size or 0
            for s in info.siblings or []
            if any(fnmatch.fnmatch(s.rfilename, p) for p in allow)
            and not any(fnmatch.fnmatch(s.rfilename, p) for p in ignore)
        )

    def _run(self) -> None:
        from huggingface_hub import constants
        from huggingface_hub.file_download import repo_folder_name

        try:
            total = self._expected_bytes()
        except Exception:  # progress is a nicety; the download itself reports real errors
            return
        blobs = Path(constants.HF_HUB_CACHE) / repo_folder_name(
            repo_id=self.repo, repo_type="model"
        )
        blobs = blobs / "blobs"
        last = -1
        while not self._done.wait(1.0):
            try:
                size = sum(p.stat().st_size for p in blobs.glob("*") if p.is_file())
            except OSError:  # a file renamed from .incomplete while we looked
                continue
            percent = min(99, int(100 * size / total)) if total else 0
            if percent != last:
                last = percent
                self.report(f"downloading {percent}%", percent / 100)
