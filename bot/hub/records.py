"""What the Hub says about models and datasets, as small frozen values the cache can share.

Built from huggingface_hub's ModelInfo / DatasetInfo (or the dataset viewer's JSON) inside
the fetch, so that a malformed answer fails there and becomes a HubBadAnswer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from huggingface_hub.hf_api import DatasetInfo, ModelInfo

from bot.hub.cards import ChecklistItem, SectionStatus
from bot.hub.licenses import explain_license

_MARKS = {SectionStatus.PRESENT: "✓", SectionStatus.PLACEHOLDER: "⚠", SectionStatus.MISSING: "✗"}


def license_text(license_id: str | None) -> str:
    """The license in plain words, and whether a company may use it."""
    explained = explain_license(license_id)
    commercial = {True: "yes", False: "no", None: "read the license terms"}
    return f"{explained.summary}\nCommercial use: {commercial[explained.commercial_use]}"


def mark(status: SectionStatus) -> str:
    """✓ written, ⚠ only the template's placeholder, ✗ absent."""
    return _MARKS[status]


def checklist_text(items: tuple[ChecklistItem, ...]) -> str:
    """A card checklist as chat lines: ✓ written, ⚠ only the template's placeholder, ✗ absent."""
    lines = []
    for item in items:
        line = f"{mark(item.status)} {item.label}"
        if item.status is SectionStatus.PLACEHOLDER:
            line += f": placeholder “{item.placeholder}”" if item.placeholder else ": empty heading"
        lines.append(line)
    return "\n".join(lines)


def _tag_values(tags: tuple[str, ...], prefix: str) -> tuple[str, ...]:
    return tuple(t.split(":", 1)[1] for t in tags if t.startswith(prefix + ":"))


def _gated(value: object) -> str | None:
    return str(value) if value not in (None, False, "false", "") else None


@dataclass(frozen=True)
class ModelSummary:
    id: str
    pipeline_tag: str | None
    library: str | None
    downloads: int
    likes: int
    params: int | None  # the Hub's safetensors total; None when the repo publishes none
    license: str | None
    gated: str | None  # None, "auto" or "manual"
    # The Hub's record as listed: the model guard reads it to mark the models the bot can
    # run, with no request per row (keyword-only, so ModelDetails may add fields after it).
    record: ModelInfo | None = field(default=None, kw_only=True, compare=False, repr=False)


@dataclass(frozen=True)
class ModelDetails(ModelSummary):
    author: str | None
    tags: tuple[str, ...]
    files: tuple[str, ...] | None
    card_data: Mapping[str, Any]
    private: bool


@dataclass(frozen=True)
class DatasetSummary:
    id: str
    downloads: int
    likes: int
    tags: tuple[str, ...]

    @property
    def tasks(self) -> tuple[str, ...]:
        return _tag_values(self.tags, "task_categories")

    @property
    def size(self) -> str | None:
        return next(iter(_tag_values(self.tags, "size_categories")), None)

    @property
    def license(self) -> str | None:
        return next(iter(_tag_values(self.tags, "license")), None)


@dataclass(frozen=True)
class DatasetDetails(DatasetSummary):
    author: str | None
    gated: str | None
    private: bool
    files: tuple[str, ...] | None
    description: str | None


@dataclass(frozen=True)
class Page:
    items: tuple[Any, ...]
    has_more: bool


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # the viewer's _type: Value, ClassLabel, Image, Audio, Sequence, ...
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class ViewerRow:
    index: int
    cells: Mapping[str, object]
    truncated: frozenset[str]


@dataclass(frozen=True)
class FirstRows:
    dataset: str
    config: str
    split: str
    features: tuple[Feature, ...]
    rows: tuple[ViewerRow, ...]


def param_count(value: object) -> int | None:
    """A parameter count (or byte size) as the Hub gives it; None when it is missing or not
    a whole positive number (metadata is written by repo owners and can hold anything)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else None


def model_summary(info: ModelInfo) -> ModelSummary:
    tags = tuple(info.tags or ())
    return ModelSummary(
        id=info.id,
        pipeline_tag=info.pipeline_tag,
        library=info.library_name,
        downloads=int(info.downloads or 0),
        likes=int(info.likes or 0),
        params=param_count(info.safetensors.total) if info.safetensors else None,
        license=next(iter(_tag_values(tags, "license")), None),
        gated=_gated(info.gated),
        record=info,
    )


def model_details(info: ModelInfo) -> ModelDetails:
    summary = model_summary(info)
    card = dict(info.card_data.to_dict()) if info.card_data is not None else {}  # type: ignore[no-untyped-call]
    return ModelDetails(
        **vars(summary),
        author=info.author,
        tags=tuple(info.tags or ()),
        files=tuple(s.rfilename for s in info.siblings) if info.siblings is not None else None,
        card_data=card,
        private=bool(info.private),
    )


def dataset_details(info: DatasetInfo) -> DatasetDetails:
    return DatasetDetails(
        id=info.id,
        downloads=int(info.downloads or 0),
        likes=int(info.likes or 0),
        tags=tuple(info.tags or ()),
        author=info.author,
        gated=_gated(info.gated),
        private=bool(info.private),
        files=tuple(s.rfilename for s in info.siblings) if info.siblings is not None else None,
        description=info.description,
    )


def parse_model(item: dict[str, Any]) -> ModelSummary:
    """One item of a /api/models listing (fields as asked with expand)."""
    return model_summary(ModelInfo(**{"siblings": None, **item}))  # type: ignore[no-untyped-call]


def parse_dataset(item: dict[str, Any]) -> DatasetSummary:
    details = dataset_details(DatasetInfo(**{"siblings": None, **item}))  # type: ignore[no-untyped-call]
    return DatasetSummary(
        id=details.id, downloads=details.downloads, likes=details.likes, tags=details.tags
    )
