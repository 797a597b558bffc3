"""Rebuild this folder from the full recorded data: `python -m tests.data.hubdata.trim SOURCE`.

SOURCE is the full hubdata folder (README.md here names where each file came from). What is
kept, and why, is in README.md; the rules are below. Run it from the repository root; it
writes next to itself and prints what it kept.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bot.hub.cards import analyze_dataset_card, analyze_model_card
from tests.support.hub_catalog import ARXIV, YAML_BLOCK, load_datasets, load_models, load_viewer

HERE = Path(__file__).resolve().parent
# Copied whole: small, and every file of them feeds the stand-in's answers.
FOLDERS = ("model_info", "model_lists", "model_cards", "dataset_cards", "dataset_viewer")
# Models whose README the tests fetch or read (under their models.jsonl ids): full cards.
FULL_MODEL_CARDS = {
    "gpt2",
    "distilgpt2",
    "bert-base-uncased",
    "distilbert-base-uncased-finetuned-sst-2-english",
    "EleutherAI/gpt-neo-125M",
    "EleutherAI/gpt-neo-2.7B",
    "Helsinki-NLP/opus-mt-en-es",
    "ProsusAI/finbert",
    "hustvl/yolos-tiny",
    "impira/layoutlm-document-qa",
    "runwayml/stable-diffusion-v1-5",
    "CompVis/stable-diffusion-v1-4",
    "stabilityai/stable-diffusion-2-1",
}
# Datasets the tests look at by name (cards, infos, the viewer, "did you mean"): full cards.
NAMED_DATASETS = {
    "acronym_identification",
    "ag_news",
    "imdb",
    "imdb_urdu_reviews",
    "rotten_tomatoes",
}
# Every dataset the tests page through: a task filter asked for more than one page.
LISTED_TASK = "task_categories:text-classification"
# Listings sorted by downloads keep file order (datasets.jsonl has no counts): its head.
HEAD_ROWS = 12
CORPUS_SAMPLE = 300
CORPUS_SEED = 577


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _write(name: str, rows: Iterable[dict[str, Any]]) -> int:
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    # mtime=0: the same rows give the same bytes, so a rerun changes nothing in git.
    (HERE / f"{name}.gz").write_bytes(gzip.compress(text.encode("utf-8"), 9, mtime=0))
    return text.count("\n")


def cut_card(text: str) -> str:
    """The YAML front matter and the lines with arxiv.org links: the stand-in derives a
    repo's cardData and tags from exactly these, so listings stay the same."""
    match = YAML_BLOCK.search(text)
    head = text[: match.end()] if match else ""
    links = [line for line in text[len(head) :].splitlines() if ARXIV.search(line)]
    return head + "".join(line + "\n" for line in links)


def _licenses(value: object) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else [value]
    return [str(v).strip().lower() for v in items if v]


def _cover_licenses(cards: list[str], dataset: bool) -> set[int]:
    """One row (the shortest card) per license id, so every id of the full data stays."""
    best: dict[str, int] = {}
    for index, card in enumerate(cards):
        report = analyze_dataset_card(card) if dataset else analyze_model_card(card)
        for license_id in _licenses(report.licenses):
            if license_id not in best or len(card) < len(cards[best[license_id]]):
                best[license_id] = index
    return set(best.values())


def trim_models(source: Path) -> int:
    rows = list(_rows(source / "models.jsonl"))
    for row in rows:
        if row["id"] not in FULL_MODEL_CARDS:
            row["description"] = cut_card(row.get("description") or "")
    return _write("models.jsonl", rows)


def trim_datasets(source: Path) -> int:
    rows = list(_rows(source / "datasets.jsonl"))
    keep = _cover_licenses([row["card"] for row in rows], dataset=True)
    served = load_datasets(source).records  # the tags exactly as the stand-in serves them
    # Legacy ids of the datasets the viewer examples answer for (ett -> ETDataset/ett).
    named = NAMED_DATASETS | set(load_viewer(source, set(served)).aliases)
    for index, row in enumerate(rows):
        tags = served[row["id"]]["tags"]
        if index < HEAD_ROWS or row["id"] in named or LISTED_TASK in tags:
            keep.add(index)
    kept = [rows[i] for i in sorted(keep)]
    for row in kept:
        if row["id"] not in NAMED_DATASETS:
            row["card"] = cut_card(row["card"])
    return _write("datasets.jsonl", kept)


def trim_corpus(source: Path) -> int:
    rows = list(_rows(source / "model_cards_corpus.jsonl"))
    keep = _cover_licenses([row["card"] for row in rows], dataset=False)
    keep |= set(random.Random(CORPUS_SEED).sample(range(len(rows)), CORPUS_SAMPLE))
    return _write("model_cards_corpus.jsonl", [rows[i] for i in sorted(keep)])


def check(source: Path) -> None:
    """The stand-in answers from this copy as from the full recording, cards aside."""
    full, trimmed = load_models(source), load_models(HERE)
    assert full.records == trimmed.records and full.listed == trimmed.listed
    assert (full.renames, full.deleted) == (trimmed.renames, trimmed.deleted)
    full_sets, kept = load_datasets(source), load_datasets(HERE)
    for dataset_id, record in kept.records.items():
        assert record == full_sets.records[dataset_id], dataset_id
        assert kept.infos[dataset_id] == full_sets.infos[dataset_id], dataset_id
    full_viewer = load_viewer(source, set(full_sets.records))
    assert full_viewer == load_viewer(HERE, set(kept.records))


def main(source: Path) -> None:
    for folder in FOLDERS:
        shutil.rmtree(HERE / folder, ignore_errors=True)
        shutil.copytree(source / folder, HERE / folder)
        for path in (HERE / folder, *(HERE / folder).iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)  # the source may be read-only
    counts = {
        "models.jsonl": trim_models(source),
        "datasets.jsonl": trim_datasets(source),
        "model_cards_corpus.jsonl": trim_corpus(source),
    }
    check(source)
    print(json.dumps(counts))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.data.hubdata.trim SOURCE_HUBDATA_FOLDER")
    main(Path(sys.argv[1]))
