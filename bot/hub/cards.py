"""What a model or dataset card says, and which of the lesson's checklist items it covers.

Pure functions over the README text (and optionally the dataset_infos.json mapping): no
network, no I/O. They never raise on a real card: bad YAML front matter gives empty
metadata and `metadata_error`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TypeVar

from bot.hub import _markdown as md
from bot.hub._markdown import SectionStatus

__all__ = [
    "DATASET_SECTIONS",
    "MODEL_SECTIONS",
    "CardSection",
    "ChecklistItem",
    "DatasetCardReport",
    "DatasetItem",
    "Evidence",
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


class Evidence(StrEnum):
    """Where a card has a checklist item when no section of it is written about the item."""

    INTRODUCTION = "introduction"  # prose under the title, with no "Description" heading
    METADATA = "metadata"  # model-index results, co2_eq_emissions
    CODE = "code"  # a usage code block under some other heading
    BIBTEX = "bibtex"  # a BibTeX entry under some other heading


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str
    status: SectionStatus
    # The card's own headings that matched, so a reply can quote them.
    headings: tuple[str, ...]
    # Set when the ✓ comes from outside the matching headings: the section view shows that
    # evidence, so that it never says "nobody wrote it down" under a ✓.
    found_in: Evidence | None = None
    # The template text a ⚠ item holds, as the card writes it ("TBD"); None for an empty
    # heading.
    placeholder: str | None = None


def _item_of(items: Sequence[ChecklistItem], key: str) -> ChecklistItem:
    for item in items:
        if item.key == key:
            return item
    raise KeyError(key)


def _status_of(items: Sequence[ChecklistItem], key: str) -> SectionStatus:
    return _item_of(items, key).status


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

    def item(self, key: ModelItem | str) -> ChecklistItem:
        return _item_of(self.checklist, str(key))

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

    def item(self, key: DatasetItem | str) -> ChecklistItem:
        return _item_of(self.creation + self.ethics, str(key))

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


# The metadata field that can stand for a checklist item with no section written about it.
_METADATA_FIELDS = {
    ModelItem.EVALUATION: "model-index",
    ModelItem.ENVIRONMENTAL_IMPACT: "co2_eq_emissions",
}


def _has_results(model_index: object) -> bool:
    if not isinstance(model_index, list):
        return False
    return any(isinstance(e, dict) and bool(e.get("results")) for e in model_index)


def _checklist(
    doc: md.Document,
    patterns: Mapping[str, tuple[str, re.Pattern[str]]],
    keys: Sequence[str],
    elsewhere: Mapping[str, Evidence | None] | None = None,
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
        found_in = (elsewhere or {}).get(key)
        # A written section is the better thing to show; the evidence only fills in for none.
        if status is SectionStatus.PRESENT:
            found_in = None
        elif found_in is not None:
            status = SectionStatus.PRESENT
        items.append(ChecklistItem(key, label, status, tuple(headings), found_in))
    return tuple(items)


def _model_evidence(meta: Mapping[str, object], doc: md.Document) -> dict[str, Evidence | None]:
    """Where the card has an item outside its headings, if it does."""
    # A heading that already names a checklist item is not the free-text introduction.
    named = [p for _, p in _MODEL_PATTERNS.values()]
    co2 = meta.get(_METADATA_FIELDS[ModelItem.ENVIRONMENTAL_IMPACT])
    found = {
        ModelItem.DESCRIPTION: (Evidence.INTRODUCTION, doc.has_lead_prose(named)),
        ModelItem.HOW_TO_USE: (Evidence.CODE, doc.has_usage_code),
        ModelItem.EVALUATION: (
            Evidence.METADATA,
            _has_results(meta.get(_METADATA_FIELDS[ModelItem.EVALUATION])),
        ),
        ModelItem.ENVIRONMENTAL_IMPACT: (Evidence.METADATA, co2 not in (None, "", {}, [])),
        ModelItem.CITATION: (Evidence.BIBTEX, doc.has_bibtex),
    }
    return {str(key): evidence if has else None for key, (evidence, has) in found.items()}


def analyze_model_card(text: str) -> ModelCardReport:
    """Split a model card into metadata and body and check it against the lesson's list."""
    meta, has_front_matter, error, body = md.split_front_matter(text)
    doc = md.parse(body)
    tags = _strings(meta.get("tags"))
    checklist = _checklist(doc, _MODEL_PATTERNS, list(ModelItem), _model_evidence(meta, doc))
    licenses = _strings(meta.get("license"))
    return ModelCardReport(
        metadata=meta,
        has_front_matter=has_front_matter,
        metadata_error=error,
        title=_first(meta.get("model_name")) or doc.title,
        headings=tuple(s.title for s in doc.sections),
        checklist=_quote_placeholders(checklist, body),
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
    items = _quote_placeholders(_checklist(doc, _DATASET_PATTERNS, keys), body)
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
    heading: str  # the card's own heading, or where it was found (see found_in)
    status: SectionStatus
    text: str  # plain lines (bot.hub._markdown.section_texts)
    # Set when no section of the card is written about the item and the checklist's ✓ comes
    # from elsewhere: `heading` then says where ("the card's metadata (model-index)").
    found_in: Evidence | None = None


def section_word(key: str) -> str:
    """The `section:` word of a checklist item key (e.g. "limitations")."""
    for words in (MODEL_SECTIONS, DATASET_SECTIONS):
        for word, item in words.items():
            if item == key:
                return word
    raise KeyError(key)


def card_section(text: str, key: str) -> CardSection | None:
    """The card's text for a checklist item (`ModelItem` or `DatasetItem` key), as the
    checklist judged it, so that the two never disagree: the matching heading with real text
    (the most specific), else what the ✓ was found in (metadata, a code example, a BibTeX
    entry, the introduction), else a heading that holds only the template; None exactly when
    the checklist says ✗."""
    meta, _, _, body = md.split_front_matter(text)
    if key in _MODEL_PATTERNS:
        item = analyze_model_card(text).item(key)
    else:
        item = analyze_dataset_card(text).item(key)
    if item.status is SectionStatus.MISSING:
        return None
    if item.found_in is not None:
        return _found_elsewhere(item, meta, body)
    return _best_heading(item, body)


_Found = TypeVar("_Found")


def _ranked(
    sections: Iterable[tuple[md.Section, _Found]], key: str
) -> list[tuple[md.Section, _Found]]:
    """The sections whose heading matches checklist item `key`, best first: written text
    first, then the heading that names this item alone ("Limitations and Biases" before
    "Intended Use and Limitations"), then the card's order."""
    patterns = _MODEL_PATTERNS if key in _MODEL_PATTERNS else _DATASET_PATTERNS
    pattern = patterns[key][1]

    def rank(pair: tuple[md.Section, _Found]) -> tuple[bool, int]:
        named = sum(1 for _, p in patterns.values() if p.search(pair[0].key))
        return pair[0].status is not SectionStatus.PRESENT, named

    return sorted(((s, x) for s, x in sections if pattern.search(s.key)), key=rank)


def _best_heading(item: ChecklistItem, body: str) -> CardSection | None:
    found = _ranked(md.section_texts(body), item.key)
    if not found:  # cannot happen: the checklist matched a heading for a ✓ or ⚠
        return None
    section, text = found[0]
    return CardSection(item.key, item.label, section.title, section.status, text)


def _found_elsewhere(item: ChecklistItem, meta: Mapping[str, object], body: str) -> CardSection:
    evidence = item.found_in
    if evidence is Evidence.INTRODUCTION:
        where, text = "the card's introduction", md.lead_text(body)
    elif evidence is Evidence.CODE:
        where, text = "a code example in the card", _first_code(body, bibtex=False)
    elif evidence is Evidence.BIBTEX:
        where, text = "a BibTeX entry in the card", _first_code(body, bibtex=True)
    else:
        field = _METADATA_FIELDS[ModelItem(item.key)]
        where = f"the card's metadata ({field})"
        if item.key == ModelItem.EVALUATION:
            text = _results_table(meta.get(field))
        else:
            text = _metadata_lines(field, meta.get(field))
    return CardSection(item.key, item.label, where, item.status, text, evidence)


# -- what the checklist counted, read back for the section view ------------------------------
_MAX_RESULT_ROWS = 10


def _dicts(value: object) -> list[Mapping[str, object]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _value_text(value: object) -> str:
    if isinstance(value, float):
        return str(round(value, 4))
    return " ".join(str(value).split())[:40] if value not in (None, "") else "—"


def _dataset_text(dataset: object) -> str:
    """The dataset's name with its config and split, e.g. "glue (sst2, validation)"."""
    if not isinstance(dataset, Mapping):
        return _value_text(dataset)
    name = _first(dataset.get("name")) or _first(dataset.get("type")) or "—"
    details = [d for d in (_first(dataset.get("config")), _first(dataset.get("split"))) if d]
    details = [d for d in details if d != name]
    return f"{name} ({', '.join(details)})" if details else name


def _results_table(model_index: object) -> str:
    """The model-index results as lines of dataset | metric | value (metadata written by hand
    can hold anything: what is not a mapping is skipped)."""
    rows: list[str] = []
    for entry in _dicts(model_index):
        for result in _dicts(entry.get("results")):
            dataset = _dataset_text(result.get("dataset"))
            for metric in _dicts(result.get("metrics")):
                name = _first(metric.get("name")) or _first(metric.get("type")) or "—"
                rows.append(f"{dataset} | {name} | {_value_text(metric.get('value'))}")
    if not rows:
        return "Results are listed, but with no dataset, metric and value to show."
    more = len(rows) - _MAX_RESULT_ROWS
    shown = ["Dataset | Metric | Value", *rows[:_MAX_RESULT_ROWS]]
    if more > 0:
        shown.append(f"… and {more} more in the card's metadata")
    return "\n".join(shown)


def _metadata_lines(field: str, value: object) -> str:
    """A metadata value as "name: value" lines (a mapping, such as co2_eq_emissions with its
    emissions, source and hardware, or a single value)."""
    if isinstance(value, Mapping):
        return "\n".join(f"{k}: {_value_text(v)}" for k, v in value.items())
    return f"{field}: {_value_text(value)}"


# _markdown is internal to this module: these read its tokens with the same tests that set
# Document.has_usage_code / has_bibtex and a section's ⚠, so they find what the checklist did.
def _first_code(body: str, *, bibtex: bool) -> str:
    """The card's first usage code block (bibtex=False) or BibTeX entry (bibtex=True)."""
    tokens = md._tokenize(body)
    for token in tokens:
        if not isinstance(token, md._Code) or md._is_bibtex(token) != bibtex:
            continue
        # has_usage_code skips an empty block; has_bibtex counts any block marked bibtex.
        if bibtex or token.content.strip():
            return token.content.strip("\n")
    return _bibtex_as_text(tokens) if bibtex else ""


def _bibtex_as_text(tokens: Sequence[md._Token]) -> str:
    """A BibTeX entry typed as plain text, not fenced: from its "@article{" to a blank line."""
    lines: list[str] = []
    for token in tokens:
        text = token if isinstance(token, md._Text) and token.weight else None
        if lines and text is None:
            break
        if text is not None and (lines or md._BIBTEX_START.match(text.raw)):
            lines.append(text.raw)
    return "\n".join(lines)


_QUOTE_CHARS = 60
_LINK_TARGET = re.compile(r"(\[[^\]]*\])\([^)]*\)")


def _quote_placeholders(items: tuple[ChecklistItem, ...], body: str) -> tuple[ChecklistItem, ...]:
    """Each ⚠ item with the template text its section holds, from the section the section
    view shows."""
    if not any(i.status is SectionStatus.PLACEHOLDER for i in items):
        return items  # no second pass over a card with no ⚠
    tokens = md._tokenize(body)
    heading_at = [i for i, t in enumerate(tokens) if isinstance(t, md._Heading)]
    spans = list(md._sections(tokens, heading_at))
    quoted = []
    for item in items:
        if item.status is SectionStatus.PLACEHOLDER:
            found = _ranked(spans, item.key)
            item = replace(item, placeholder=_stub_in(found[0][1]) if found else None)
        quoted.append(item)
    return tuple(quoted)


def _stub_in(span: Sequence[md._Token]) -> str | None:
    """The first template stub of a section, as written: "TBD", "[More Information Needed]"
    (a link's address dropped, a "**Developed by:**" label too)."""
    for token in span:
        if isinstance(token, md._Text) and token.weight == 1:
            text = md._clean(_LINK_TARGET.sub(r"\1", token.raw))
            text = md._LABEL.sub("", text, count=1).strip(" \t*_`")
            return text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 1] + "…"
    return None
