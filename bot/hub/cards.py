"""What a model or dataset card says, and which of the lesson's checklist items it covers.

Pure functions over the README text (and optionally the dataset_infos.json mapping): no
network, no I/O. They never raise on a real card: bad YAML front matter gives empty
metadata and `metadata_error`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.hub import _markdown as md
from bot.hub._markdown import SectionStatus

__all__ = [
    "DATASET_SECTIONS",
    "MODEL_SECTIONS",
    "CardSection",
    "ChecklistItem",
    "DatasetCardReport",
    "DatasetItem",
    "ModelCardReport",
    "ModelItem",
    "SectionStatus",
    "SplitInfo",
    "analyze_dataset_card",
    "analyze_model_card",
    "card_section",
    "section_word",
]


class ModelItem(StrEnum):
    DESCRIPTION = "description"
    HOW_TO_USE = "how_to_use"
    INTENDED_USES = "intended_uses"
    LIMITATIONS = "limitations"
    TRAINING = "training"
    EVALUATION = "evaluation"
    ENVIRONMENTAL_IMPACT = "environmental_impact"
    CITATION = "citation"


class DatasetItem(StrEnum):
    DATASET_CREATION = "dataset_creation"
    CURATION_RATIONALE = "curation_rationale"
    SOURCE_DATA = "source_data"
    ANNOTATIONS = "annotations"
    PERSONAL_INFORMATION = "personal_information"
    SOCIAL_IMPACT = "social_impact"
    BIASES = "biases"
    OTHER_LIMITATIONS = "other_limitations"


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str
    status: SectionStatus
    # The card's own headings that matched, so a reply can quote them.
    headings: tuple[str, ...]


def _status_of(items: Sequence[ChecklistItem], key: str) -> SectionStatus:
    for item in items:
        if item.key == key:
            return item.status
    raise KeyError(key)


@dataclass(frozen=True)
class ModelCardReport:
    metadata: Mapping[str, object]
    has_front_matter: bool
    metadata_error: str | None
    title: str | None
    headings: tuple[str, ...]
    checklist: tuple[ChecklistItem, ...]
    license: str | None
    licenses: tuple[str, ...]
    license_name: str | None
    datasets: tuple[str, ...]
    languages: tuple[str, ...]
    tags: tuple[str, ...]
    arxiv_ids: tuple[str, ...]
    base_models: tuple[str, ...]
    pipeline_tag: str | None
    library_name: str | None

    def status(self, item: ModelItem | str) -> SectionStatus:
        return _status_of(self.checklist, str(item))

    @property
    def present(self) -> tuple[str, ...]:
        return tuple(i.key for i in self.checklist if i.status is SectionStatus.PRESENT)

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(i.key for i in self.checklist if i.status is SectionStatus.PLACEHOLDER)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(i.key for i in self.checklist if i.status is SectionStatus.MISSING)


@dataclass(frozen=True)
class SplitInfo:
    config: str
    name: str
    num_rows: int | None
    num_bytes: int | None


@dataclass(frozen=True)
class DatasetCardReport:
    metadata: Mapping[str, object]
    has_front_matter: bool
    metadata_error: str | None
    title: str | None
    license: str | None
    licenses: tuple[str, ...]
    languages: tuple[str, ...]
    task_categories: tuple[str, ...]
    task_ids: tuple[str, ...]
    size_categories: tuple[str, ...]
    source_datasets: tuple[str, ...]
    annotations_creators: tuple[str, ...]
    language_creators: tuple[str, ...]
    multilinguality: tuple[str, ...]
    arxiv_ids: tuple[str, ...]
    # "How it was made": Dataset Creation and its parts.
    creation: tuple[ChecklistItem, ...]
    # The lesson's ethics checklist.
    ethics: tuple[ChecklistItem, ...]
    splits: tuple[SplitInfo, ...]

    @property
    def size_category(self) -> str | None:
        return self.size_categories[0] if self.size_categories else None

    def status(self, item: DatasetItem | str) -> SectionStatus:
        return _status_of(self.creation + self.ethics, str(item))

    @property
    def total_rows(self) -> int | None:
        counts = [s.num_rows for s in self.splits if s.num_rows is not None]
        return sum(counts) if counts else None


# Headings are matched after md.normalize_title (lower case, markup and punctuation gone).
_MODEL_PATTERNS: dict[str, tuple[str, re.Pattern[str]]] = {
    ModelItem.DESCRIPTION: (
        "Description / overview",
        re.compile(
            r"\bdescription\b|\boverview\b|\bsummary\b|\bmodel details\b|\babout\b|\bintroduction\b"
        ),
    ),
    ModelItem.HOW_TO_USE: (
        "How to use it",
        re.compile(
            r"\bhow to (use|get started|run)\b|\busage\b|\bget(ting)? started\b|\bquick ?start\b"
            r"|\bexamples?\b|\binference\b|\buse (this|the) model\b|\bcode snippet\b"
        ),
    ),
    ModelItem.INTENDED_USES: (
        "Intended uses & out-of-scope uses",
        re.compile(
            r"\bintended\b|\buses\b|\bout of scope\b|\bdirect use\b|\bdownstream use\b|\bmisuse\b"
            r"|\buse cases?\b|\bapplications?\b"
        ),
    ),
    ModelItem.LIMITATIONS: (
        "Limitations and biases",
        re.compile(r"\blimitations?\b|\bbias(es)?\b|\brisks?\b|\bethic(s|al)\b|\bcaveats?\b"),
    ),
    ModelItem.TRAINING: (
        "Training data and procedure",
        re.compile(r"\btrain(ing|ed)?\b|\bfine ?tun|\bpre ?train"),
    ),
    ModelItem.EVALUATION: (
        "Evaluation results",
        re.compile(
            r"\beval(uation|uations)?\b|\bresults?\b|\bmetrics?\b|\bbenchmarks?\b|\bperformance\b"
            r"|\baccuracy\b"
        ),
    ),
    ModelItem.ENVIRONMENTAL_IMPACT: (
        "Environmental impact",
        re.compile(r"\benvironment(al)?\b|\bcarbon\b|\bemissions?\b|\bco2\b|\bco₂\b"),
    ),
    ModelItem.CITATION: ("Citation", re.compile(r"\bcitation\b|\bcite\b|\bciting\b|\bbibtex\b")),
}

_DATASET_PATTERNS: dict[str, tuple[str, re.Pattern[str]]] = {
    DatasetItem.DATASET_CREATION: ("Dataset Creation", re.compile(r"\bdataset creation\b")),
    DatasetItem.CURATION_RATIONALE: ("Curation Rationale", re.compile(r"\bcuration rationale\b")),
    DatasetItem.SOURCE_DATA: ("Source Data", re.compile(r"\bsource data\b")),
    DatasetItem.ANNOTATIONS: ("Annotations", re.compile(r"^annotations?\b")),
    DatasetItem.PERSONAL_INFORMATION: (
        "Personal and Sensitive Information",
        re.compile(
            r"\bpersonal\b.*\bsensitive\b|\bsensitive information\b|\bpersonal information\b"
        ),
    ),
    DatasetItem.SOCIAL_IMPACT: ("Social Impact of Dataset", re.compile(r"\bsocial impact\b")),
    DatasetItem.BIASES: ("Discussion of Biases", re.compile(r"\bbias(es)?\b")),
    DatasetItem.OTHER_LIMITATIONS: (
        "Other Known Limitations",
        re.compile(r"\bknown limitations\b|^limitations\b"),
    ),
}
_CREATION_ITEMS = (
    DatasetItem.DATASET_CREATION,
    DatasetItem.CURATION_RATIONALE,
    DatasetItem.SOURCE_DATA,
    DatasetItem.ANNOTATIONS,
)
_ETHICS_ITEMS = (
    DatasetItem.PERSONAL_INFORMATION,
    DatasetItem.SOCIAL_IMPACT,
    DatasetItem.BIASES,
    DatasetItem.OTHER_LIMITATIONS,
)

_ARXIV_LINK = re.compile(
    r"arxiv\.org/(?:abs|pdf)/((?:\d{4}\.\d{4,5})|(?:[a-z][a-z.\-]*/\d{7}))(?:v\d+)?", re.IGNORECASE
)


def _strings(value: object) -> tuple[str, ...]:
    """YAML fields are a string or a list of strings by convention, anything in practice."""
    if value is None or isinstance(value, (dict, bool)):
        return ()
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if item is None or isinstance(item, (dict, list, bool)):
            continue
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    return tuple(out)


def _first(value: object) -> str | None:
    found = _strings(value)
    return found[0] if found else None


def _arxiv_ids(tags: Sequence[str], body: str) -> tuple[str, ...]:
    found: list[str] = []
    for tag in tags:
        if tag.lower().startswith("arxiv:"):
            found.append(tag.split(":", 1)[1].strip())
    found.extend(m.group(1) for m in _ARXIV_LINK.finditer(body))
    return tuple(dict.fromkeys(i for i in found if i))


def _has_results(model_index: object) -> bool:
    if not isinstance(model_index, list):
        return False
    return any(isinstance(e, dict) and bool(e.get("results")) for e in model_index)


def _checklist(
    doc: md.Document,
    patterns: Mapping[str, tuple[str, re.Pattern[str]]],
    keys: Sequence[str],
    extra_present: Mapping[str, bool] | None = None,
) -> tuple[ChecklistItem, ...]:
    items: list[ChecklistItem] = []
    for key in keys:
        label, pattern = patterns[key]
        status = SectionStatus.MISSING
        headings: list[str] = []
        for section in doc.sections:
            if pattern.search(section.key):
                headings.append(section.title)
                status = md.best(status, section.status)
        if extra_present and extra_present.get(key):
            status = SectionStatus.PRESENT
        items.append(ChecklistItem(key, label, status, tuple(headings)))
    return tuple(items)


def analyze_model_card(text: str) -> ModelCardReport:
    """Split a model card into metadata and body and check it against the lesson's list."""
    meta, has_front_matter, error, body = md.split_front_matter(text)
    doc = md.parse(body)
    tags = _strings(meta.get("tags"))
    # A heading that already names a checklist item is not the free-text introduction.
    named = [p for _, p in _MODEL_PATTERNS.values()]
    extra: dict[str, bool] = {
        ModelItem.DESCRIPTION: doc.has_lead_prose(named),
        ModelItem.HOW_TO_USE: doc.has_usage_code,
        ModelItem.EVALUATION: _has_results(meta.get("model-index")),
        ModelItem.ENVIRONMENTAL_IMPACT: meta.get("co2_eq_emissions") not in (None, "", {}, []),
        ModelItem.CITATION: doc.has_bibtex,
    }
    licenses = _strings(meta.get("license"))
    return ModelCardReport(
        metadata=meta,
        has_front_matter=has_front_matter,
        metadata_error=error,
        title=_first(meta.get("model_name")) or doc.title,
        headings=tuple(s.title for s in doc.sections),
        checklist=_checklist(doc, _MODEL_PATTERNS, list(ModelItem), extra),
        license=licenses[0] if licenses else None,
        licenses=licenses,
        license_name=_first(meta.get("license_name")),
        datasets=_strings(meta.get("datasets")),
        languages=_strings(meta.get("language")) or _strings(meta.get("languages")),
        tags=tags,
        arxiv_ids=_arxiv_ids(tags, body),
        base_models=_strings(meta.get("base_model")),
        pipeline_tag=_first(meta.get("pipeline_tag")),
        library_name=_first(meta.get("library_name")),
    )


def _as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _splits(infos: Mapping[str, object] | None) -> tuple[SplitInfo, ...]:
    """Read splits from dataset_infos.json: {config: {"splits": {name: {...}} or [...]}}."""
    if not infos:
        return ()
    out: list[SplitInfo] = []
    for config, info in infos.items():
        if not isinstance(info, Mapping):
            continue
        raw = info.get("splits")
        entries: list[tuple[str, object]] = []
        if isinstance(raw, Mapping):
            entries = [(str(k), v) for k, v in raw.items()]
        elif isinstance(raw, list):
            entries = [(str(v.get("name", "")), v) for v in raw if isinstance(v, Mapping)]
        for name, split in entries:
            if not isinstance(split, Mapping):
                continue
            out.append(
                SplitInfo(
                    config=str(config),
                    name=name,
                    num_rows=_as_int(split.get("num_examples")),
                    num_bytes=_as_int(split.get("num_bytes")),
                )
            )
    return tuple(out)


def analyze_dataset_card(text: str, infos: Mapping[str, object] | None = None) -> DatasetCardReport:
    """Report how a dataset was made, its ethics checklist, and its splits (from infos)."""
    meta, has_front_matter, error, body = md.split_front_matter(text)
    doc = md.parse(body)
    licenses = _strings(meta.get("license"))
    keys = [str(k) for k in _CREATION_ITEMS + _ETHICS_ITEMS]
    items = _checklist(doc, _DATASET_PATTERNS, keys)
    n_creation = len(_CREATION_ITEMS)
    return DatasetCardReport(
        metadata=meta,
        has_front_matter=has_front_matter,
        metadata_error=error,
        title=_first(meta.get("pretty_name")) or doc.title,
        license=licenses[0] if licenses else None,
        licenses=licenses,
        languages=_strings(meta.get("language")) or _strings(meta.get("languages")),
        task_categories=_strings(meta.get("task_categories")),
        task_ids=_strings(meta.get("task_ids")),
        size_categories=_strings(meta.get("size_categories")),
        source_datasets=_strings(meta.get("source_datasets")),
        annotations_creators=_strings(meta.get("annotations_creators")),
        language_creators=_strings(meta.get("language_creators")),
        multilinguality=_strings(meta.get("multilinguality")),
        arxiv_ids=_arxiv_ids(_strings(meta.get("tags")), body),
        creation=items[:n_creation],
        ethics=items[n_creation:],
        splits=_splits(infos),
    )


# The words students type for a section (`section:limitations`), per kind of card.
MODEL_SECTIONS: dict[str, str] = {
    "description": ModelItem.DESCRIPTION,
    "how-to-use": ModelItem.HOW_TO_USE,
    "uses": ModelItem.INTENDED_USES,
    "limitations": ModelItem.LIMITATIONS,
    "training": ModelItem.TRAINING,
    "evaluation": ModelItem.EVALUATION,
    "environmental-impact": ModelItem.ENVIRONMENTAL_IMPACT,
    "citation": ModelItem.CITATION,
}
DATASET_SECTIONS: dict[str, str] = {
    "creation": DatasetItem.DATASET_CREATION,
    "curation": DatasetItem.CURATION_RATIONALE,
    "source-data": DatasetItem.SOURCE_DATA,
    "annotations": DatasetItem.ANNOTATIONS,
    "personal-information": DatasetItem.PERSONAL_INFORMATION,
    "social-impact": DatasetItem.SOCIAL_IMPACT,
    "biases": DatasetItem.BIASES,
    "other-limitations": DatasetItem.OTHER_LIMITATIONS,
}


@dataclass(frozen=True)
class CardSection:
    """One checklist item's text as the card writes it."""

    key: str
    label: str  # the checklist's name for it, e.g. "Limitations and biases"
    heading: str  # the card's own heading
    status: SectionStatus
    text: str  # plain lines (bot.hub._markdown.section_texts)


def section_word(key: str) -> str:
    """The `section:` word of a checklist item key (e.g. "limitations")."""
    for words in (MODEL_SECTIONS, DATASET_SECTIONS):
        for word, item in words.items():
            if item == key:
                return word
    raise KeyError(key)


def card_section(text: str, key: str) -> CardSection | None:
    """The card's section for a checklist item (`ModelItem` or `DatasetItem` key): a matching
    heading with real text (the most specific), else one that holds only the template; None
    when the card has no heading for it."""
    patterns = _MODEL_PATTERNS if key in _MODEL_PATTERNS else _DATASET_PATTERNS
    label, pattern = patterns[key]
    _, _, _, body = md.split_front_matter(text)
    found = [(s, t) for s, t in md.section_texts(body) if pattern.search(s.key)]

    # Written text first; then the heading that names this item alone ("Limitations and
    # Biases" before "Intended Use and Limitations"), then the card's order.
    def rank(pair: tuple[md.Section, str]) -> tuple[bool, int]:
        named = sum(1 for _, p in patterns.values() if p.search(pair[0].key))
        return pair[0].status is not SectionStatus.PRESENT, named

    found.sort(key=rank)
    if not found and key == ModelItem.DESCRIPTION:
        # Most cards introduce the model under their title, with no "Description" heading
        # (the checklist counts that prose: see analyze_model_card).
        doc = md.parse(body)
        if doc.has_lead_prose([p for _, p in _MODEL_PATTERNS.values()]):
            intro = "the card's introduction"
            return CardSection(key, label, intro, SectionStatus.PRESENT, md.lead_text(body))
    if not found:
        return None
    section, body_text = found[0]
    return CardSection(key, label, section.title, section.status, body_text)
