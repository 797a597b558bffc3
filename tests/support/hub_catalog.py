"""The Hub stand-in's data: tests/data/hubdata turned into API records, loaded once.

Everything served comes from the recorded files. Where the Hub has a field the data lacks
(sha, _id, dates, dataset downloads), the value is derived deterministically and the
comment next to it says so. See hub_stub.py for the HTTP side.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

# The trimmed copy kept in the repository (its README says what was kept and from where).
# HubStub(root) serves another copy, such as the full recording, laid out the same way.
HUBDATA_DIR = Path(__file__).resolve().parents[1] / "data" / "hubdata"

# The Hub's own createdAt for every repo made before it stored creation dates (README).
LEGACY_CREATED_AT = "2022-03-02T23:29:04.000Z"
# models.jsonl and datasets.jsonl carry no dates; "early 2023" is when they were scraped.
SCRAPED_AT = "2023-03-01T00:00:00.000Z"
DELETED_MODELS = {"runwayml/stable-diffusion-v1-5": "stable-diffusion-v1-5/stable-diffusion-v1-5"}

YAML_BLOCK = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")
ARXIV = re.compile(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})", re.IGNORECASE)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Tasks whose 2023 top models are diffusers pipelines, not transformers models.
_DIFFUSERS_TASKS = {"text-to-image", "text-to-video"}

Record = dict[str, Any]


def _hex(*parts: str, size: int = 40) -> str:
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:size]


def blob_etag(content: bytes) -> str:
    """The Hub's ETag for a non-LFS file is its git blob id."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _strings(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items if v is not None and not isinstance(v, (dict, list, bool))]


def front_matter(text: str) -> dict[str, Any]:
    match = YAML_BLOCK.search(text)
    if not match:
        return {}
    try:
        data = yaml.load(match.group(2), Loader=_LOADER)
    except Exception:  # the Hub serves such cards with empty cardData too
        return {}
    return data if isinstance(data, dict) else {}


def trending_score(likes: int) -> int:
    # models.jsonl has no trending score: a deterministic stand-in, likes-weighted.
    return likes // 10


def _library(meta: dict[str, Any], pipeline_tag: str | None) -> str:
    named = _strings(meta.get("library_name"))
    if named:
        return named[0]
    tags = " ".join(_strings(meta.get("tags"))).lower()
    if pipeline_tag in _DIFFUSERS_TASKS or "diffusers" in tags or "stable-diffusion" in tags:
        return "diffusers"
    return "transformers"


def model_tags(meta: dict[str, Any], pipeline_tag: str | None, body: str) -> tuple[list[str], str]:
    library = _library(meta, pipeline_tag)
    tags = [library, *_strings(meta.get("tags"))]
    if pipeline_tag:
        tags.append(pipeline_tag)
    tags += _strings(meta.get("language")) + _strings(meta.get("languages"))
    tags += [f"dataset:{d}" for d in _strings(meta.get("datasets"))]
    tags += [f"base_model:{b}" for b in _strings(meta.get("base_model"))]
    tags += [f"arxiv:{a}" for a in dict.fromkeys(ARXIV.findall(body))]
    tags += [f"license:{lic}" for lic in _strings(meta.get("license"))]
    tags.append("region:us")
    return list(dict.fromkeys(tags)), library


def build_card(meta: dict[str, Any] | None, body: str) -> str:
    if not meta:
        return body
    dumped = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    return f"---\n{dumped}---\n{body}"


def _synth_model(rid: str, meta: dict[str, Any], pipeline_tag: str | None, body: str) -> Record:
    tags, library = model_tags(meta, pipeline_tag, body)
    return {
        "_id": _hex("id", rid, size=24),
        "id": rid,
        "modelId": rid,
        "author": rid.split("/")[0] if "/" in rid else None,
        "sha": _hex("commit", rid),
        "lastModified": SCRAPED_AT,
        "createdAt": LEGACY_CREATED_AT,
        "private": False,
        "gated": False,
        "disabled": False,
        "pipeline_tag": pipeline_tag,
        "library_name": library,
        "tags": tags,
        "downloads": 0,
        "likes": 0,
        "trendingScore": 0,
        "cardData": meta or None,
        "widgetData": meta.get("widget"),
        "model-index": meta.get("model-index"),
        "siblings": [{"rfilename": ".gitattributes"}, {"rfilename": "README.md"}],
    }


@dataclass
class ModelCatalog:
    records: dict[str, Record] = field(default_factory=dict)
    # Models listed by /api/models (a partial recorded body is answered but not listed).
    listed: list[str] = field(default_factory=list)
    # A README as recorded, or (meta, body) to build one on first request: dumping 673
    # YAML blocks up front would cost most of a second.
    cards: dict[str, str | tuple[dict[str, Any] | None, str]] = field(default_factory=dict)
    renames: dict[str, str] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    def card(self, repo_id: str) -> str | None:
        source = self.cards.get(repo_id)
        if isinstance(source, tuple):
            source = self.cards[repo_id] = build_card(*source)
        return source


@dataclass
class DatasetCatalog:
    records: dict[str, Record] = field(default_factory=dict)
    cards: dict[str, str] = field(default_factory=dict)
    infos: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class ViewerData:
    # (endpoint, dataset, config, split) -> recorded payload; config/split None at dataset level.
    recorded: dict[tuple[str, str, str | None, str | None], Any] = field(default_factory=dict)
    # Legacy id without org -> the org/name the recorded examples use (imdb -> stanfordnlp/imdb).
    aliases: dict[str, str] = field(default_factory=dict)
    errors: dict[str, Any] = field(default_factory=dict)
    capabilities: dict[str, Any] = field(default_factory=dict)


def jsonl_rows(root: Path, name: str) -> Iterator[dict[str, Any]]:
    """The rows of `root/name`, or of `root/name.gz` (the trimmed copy is compressed)."""
    plain = root / name
    with plain.open("rb") if plain.exists() else gzip.open(root / f"{name}.gz") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def load_models(root: Path) -> ModelCatalog:
    cat = ModelCatalog()
    flat_ids: set[str] = set()
    for row in jsonl_rows(root, "models.jsonl"):
        meta = row.get("meta") or {}
        rec = _synth_model(row["id"], meta, row.get("pipeline_tag"), row.get("description") or "")
        rec.update(downloads=row["downloads"], likes=row["likes"])
        rec["trendingScore"] = trending_score(row["likes"])
        cat.records[row["id"]] = rec
        cat.listed.append(row["id"])
        cat.cards[row["id"]] = (meta, row.get("description") or "")
        if "/" not in row["id"]:
            flat_ids.add(row["id"])

    for path in sorted((root / "model_cards").glob("*_README.md")):
        text = path.read_text(encoding="utf-8")
        org, _, name = path.name.removesuffix("_README.md").partition("_")
        rid = f"{org}/{name}"
        cat.cards[rid] = text
        if rid not in cat.records:
            meta = front_matter(text)
            pipeline = _strings(meta.get("pipeline_tag"))
            cat.records[rid] = _synth_model(rid, meta, pipeline[0] if pipeline else None, text)
            cat.listed.append(rid)

    for path in sorted((root / "model_info").glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))["body"]
        rid = body["id"]
        if "pipeline_tag" not in body:  # an ?expand= answer, not a full record
            cat.records.setdefault(rid, body)
            continue
        org, _, name = rid.rpartition("/")
        base = cat.records.get(rid)
        # Renamed canonical repos: listed without an org in models.jsonl, or dated like the
        # Hub's pre-2022 repos that were moved into orgs in 2024 (bert-base-uncased).
        if org and (name in flat_ids or body.get("createdAt") == LEGACY_CREATED_AT):
            cat.renames[name] = rid
            base = cat.records.pop(name, None)
            if base is not None:
                cat.listed[cat.listed.index(name)] = rid
                cat.cards[rid] = cat.cards.pop(name)
        if base is None:
            cat.listed.append(rid)
        merged = {**(base or {}), **copy.deepcopy(body)}  # recorded fields win
        merged.setdefault("trendingScore", trending_score(int(merged.get("likes") or 0)))
        cat.records[rid] = merged
        if rid not in cat.cards:
            cat.cards[rid] = (body.get("cardData"), "")

    lists = sorted((root / "model_lists").glob("*.json"))
    for path in lists:
        for item in json.loads(path.read_text(encoding="utf-8")):
            rid = item["id"]
            base = cat.records.get(rid) or _synth_model(rid, {}, item.get("pipeline_tag"), "")
            cat.records[rid] = {**base, **item, "modelId": rid}
            if rid not in cat.listed:
                cat.listed.append(rid)
                cat.cards[rid] = ({"tags": item.get("tags", [])}, "")

    for old, new in DELETED_MODELS.items():
        rec = copy.deepcopy(cat.records.pop(old))
        rec.update(id=new, modelId=new, author=new.split("/")[0], _id=_hex("id", new, size=24))
        rec["sha"] = _hex("commit", new)
        cat.records[new] = rec
        cat.listed[cat.listed.index(old)] = new
        cat.cards[new] = cat.cards.pop(old)
        cat.deleted.add(old)
    return cat


def _dataset_tags(meta: dict[str, Any], card: str) -> list[str]:
    tags: list[str] = []
    for key in (
        "task_categories",
        "task_ids",
        "annotations_creators",
        "language_creators",
        "language",
        "multilinguality",
        "size_categories",
        "source_datasets",
        "license",
    ):
        tags += [f"{key}:{v}" for v in _strings(meta.get(key))]
    tags += _strings(meta.get("tags"))
    tags += [f"arxiv:{a}" for a in dict.fromkeys(ARXIV.findall(card))]
    tags.append("region:us")
    return list(dict.fromkeys(tags))


def load_datasets(root: Path) -> DatasetCatalog:
    cat = DatasetCatalog()
    for row in jsonl_rows(root, "datasets.jsonl"):
        did = row["id"]
        card, infos = row["card"], row.get("dataset_infos") or {}
        card_file = root / "dataset_cards" / f"{did}_README.md"
        infos_file = root / "dataset_cards" / f"{did}_dataset_infos.json"
        if card_file.exists():
            card = card_file.read_text(encoding="utf-8")
        if infos_file.exists():
            infos = json.loads(infos_file.read_text(encoding="utf-8"))
        meta = front_matter(card)
        first: dict[str, Any] = next(iter(infos.values()), {}) if infos else {}
        cat.cards[did] = card
        cat.infos[did] = infos
        cat.records[did] = {
            "_id": _hex("dataset", did, size=24),
            "id": did,
            "author": did.split("/")[0] if "/" in did else None,
            "sha": _hex("dataset-commit", did),
            "lastModified": SCRAPED_AT,
            "createdAt": LEGACY_CREATED_AT,
            "private": False,
            "gated": False,
            "disabled": False,
            # Not in the data: 0 rather than an invented count.
            "downloads": 0,
            "likes": 0,
            "trendingScore": 0,
            "tags": _dataset_tags(meta, card),
            "cardData": meta or None,
            "description": first.get("description"),
            "citation": first.get("citation"),
            "paperswithcode_id": meta.get("paperswithcode_id"),
            "siblings": [
                {"rfilename": ".gitattributes"},
                {"rfilename": "README.md"},
                {"rfilename": "dataset_infos.json"},
            ],
        }
    return cat


_NAME_IN_EXAMPLE = re.compile(r"\(([\w.-]+/[\w.-]+)\)")
_ASSET_URL = re.compile(r"cached-assets/([\w.-]+/[\w.-]+)/--/[^/]+/--/([^/]+)/([^/]+)/")


def _viewer_key(
    endpoint: str, name: str, value: Any, first_rows: dict[str, tuple[str, str]]
) -> tuple[str | None, str | None, str | None]:
    """Which dataset/config/split a recorded example answers, read from the example itself."""
    if not isinstance(value, dict):
        return None, None, None
    if endpoint == "first-rows":
        return value.get("dataset"), value.get("config"), value.get("split")
    if endpoint in ("rows", "search"):
        found = _ASSET_URL.search(json.dumps(value))
        if found:
            return found.group(1), found.group(2), found.group(3)
        named = _NAME_IN_EXAMPLE.search(name)
        if named and named.group(1) in first_rows:
            return (named.group(1), *first_rows[named.group(1)])
        return None, None, None
    dataset_level = "pending" in value
    entries = value.get("splits") or value.get("parquet_files") or []
    if endpoint == "size" and isinstance(value.get("size"), dict):
        size = value["size"]
        head = size.get("dataset") or size.get("config") or {}
        return head.get("dataset"), None if dataset_level else head.get("config"), None
    if endpoint == "info" and dataset_level:
        names = list(value.get("dataset_info", {}))
        return (names[0], None, None) if names else (None, None, None)
    if entries and isinstance(entries[0], dict):
        head = entries[0]
        return head.get("dataset"), None if dataset_level else head.get("config"), None
    return None, None, None


def load_viewer(root: Path, dataset_ids: set[str]) -> ViewerData:
    data = ViewerData()
    first_rows: dict[str, tuple[str, str]] = {}
    files = sorted((root / "dataset_viewer").glob("*.json"))
    examples = [(p.name.split("_")[0], json.loads(p.read_text(encoding="utf-8"))) for p in files]
    for endpoint, doc in examples:
        value = doc.get("value") if "_source_example_name" in doc else None
        if endpoint == "first-rows" and isinstance(value, dict):
            first_rows[value["dataset"]] = (value["config"], value["split"])
    for path, (endpoint, doc) in zip(files, examples, strict=True):
        if "_source_example_name" not in doc:
            data.errors[path.stem] = doc
            continue
        if endpoint == "is-valid":
            data.capabilities[path.stem.removeprefix("is-valid_200_")] = doc["value"]
            continue
        dataset, config, split = _viewer_key(
            endpoint, doc["_source_example_name"], doc["value"], first_rows
        )
        if dataset is None:
            continue
        data.recorded.setdefault((endpoint, dataset, config, split), doc["value"])
        legacy = dataset.rpartition("/")[2]
        if legacy in dataset_ids:
            data.aliases.setdefault(legacy, dataset)
    return data


class HubData:
    """Lazily loaded, shared, read-only after loading: one per stub."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._models: ModelCatalog | None = None
        self._datasets: DatasetCatalog | None = None
        self._viewer: ViewerData | None = None

    @property
    def models(self) -> ModelCatalog:
        with self._lock:
            if self._models is None:
                self._models = load_models(self.root)
            return self._models

    @property
    def datasets(self) -> DatasetCatalog:
        with self._lock:
            if self._datasets is None:
                self._datasets = load_datasets(self.root)
            return self._datasets

    @property
    def viewer(self) -> ViewerData:
        datasets = self.datasets
        with self._lock:
            if self._viewer is None:
                self._viewer = load_viewer(self.root, set(datasets.records))
            return self._viewer
