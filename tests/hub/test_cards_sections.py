"""bot.hub.cards.card_section follows the checklist of analyze_model_card: one verdict on
"does the card have X", and a ⚠ quotes the template text the card really holds."""

from __future__ import annotations

from bot.hub.cards import (
    Evidence,
    ModelItem,
    SectionStatus,
    analyze_dataset_card,
    analyze_model_card,
    card_section,
)
from bot.hub.records import checklist_text
from tests.support.hub_catalog import HUBDATA_DIR as HUBDATA
from tests.support.hub_catalog import jsonl_rows

PRESENT, PLACEHOLDER = SectionStatus.PRESENT, SectionStatus.PLACEHOLDER


def model_card(name: str) -> str:
    return (HUBDATA / "model_cards" / f"{name}_README.md").read_text(encoding="utf-8")


def test_the_section_view_agrees_with_the_checklist_on_every_recorded_card() -> None:
    cards = [row["card"] for row in jsonl_rows(HUBDATA, "model_cards_corpus.jsonl")]
    cards += [p.read_text(encoding="utf-8") for p in (HUBDATA / "model_cards").glob("*.md")]
    from_elsewhere = 0
    for card in cards:
        for item in analyze_model_card(card).checklist:
            section = card_section(card, item.key)
            if item.status is SectionStatus.MISSING:
                assert section is None
                continue
            assert section is not None and section.status is item.status
            assert section.found_in is item.found_in
            from_elsewhere += item.found_in is not None
    assert from_elsewhere > 100  # the corpus has ✓s from metadata, code and introductions


def test_a_placeholder_heading_gives_way_to_results_in_the_metadata() -> None:
    card = "\n".join(
        [
            "---",
            "model-index:",
            "- name: tiny",
            "  results:",
            "  - dataset: {name: imdb, type: imdb, split: test}",
            "    metrics:",
            "    - {type: accuracy, value: 0.93251}",
            "    - {name: F1, type: f1, value: 91}",
            "  - dataset: not a mapping",
            "co2_eq_emissions: {emissions: 12.5, source: CodeCarbon}",
            "---",
            "# Tiny",
            "## Evaluation",
            "TBD",
        ]
    )
    report = analyze_model_card(card)
    evaluation = report.item(ModelItem.EVALUATION)
    assert evaluation.status is PRESENT and evaluation.found_in is Evidence.METADATA
    assert evaluation.placeholder is None and evaluation.headings == ("Evaluation",)

    section = card_section(card, ModelItem.EVALUATION)
    assert section is not None and section.heading == "the card's metadata (model-index)"
    assert section.text == (
        "Dataset | Metric | Value\nimdb (test) | accuracy | 0.9325\nimdb (test) | F1 | 91"
    )
    co2 = card_section(card, ModelItem.ENVIRONMENTAL_IMPACT)
    assert co2 is not None and co2.found_in is Evidence.METADATA
    assert co2.heading == "the card's metadata (co2_eq_emissions)"
    assert co2.text == "emissions: 12.5\nsource: CodeCarbon"


def test_a_bibtex_entry_under_another_heading_is_the_citation() -> None:
    card = (
        "# Tiny\n\nA tiny model that writes poems.\n\n## Paper\n\n"
        "@misc{tiny2024,\n  title={Tiny},\n  year={2024}\n}\n\nThanks to all.\n"
    )
    assert analyze_model_card(card).item(ModelItem.CITATION).found_in is Evidence.BIBTEX
    section = card_section(card, ModelItem.CITATION)
    assert section is not None and section.heading == "a BibTeX entry in the card"
    assert section.text == "@misc{tiny2024,\n  title={Tiny},\n  year={2024}\n}"


def test_placeholders_are_quoted_as_written() -> None:
    card = "\n".join(
        [
            "# Tiny",
            "## Limitations",
            "- **Known risks:** [More Information Needed](https://example.org/help)",
            "## Training data",
            "*Coming soon*",
            "## Evaluation",
            "",
        ]
    )
    report = analyze_model_card(card)
    quotes = {i.key: i.placeholder for i in report.checklist if i.status is PLACEHOLDER}
    assert quotes == {
        ModelItem.LIMITATIONS: "[More Information Needed]",
        ModelItem.TRAINING: "Coming soon",
        ModelItem.EVALUATION: None,  # a heading with nothing under it
    }
    lines = checklist_text(report.checklist).splitlines()
    assert "⚠ Limitations and biases: placeholder “[More Information Needed]”" in lines
    assert "⚠ Training data and procedure: placeholder “Coming soon”" in lines
    assert "⚠ Evaluation results: empty heading" in lines


def test_gpt_neo_quotes_tbd_and_imdb_its_template() -> None:
    neo = analyze_model_card(model_card("EleutherAI_gpt-neo-125M"))
    assert neo.item(ModelItem.EVALUATION).placeholder == "TBD"
    imdb = (HUBDATA / "dataset_cards" / "imdb_README.md").read_text(encoding="utf-8")
    biases = analyze_dataset_card(imdb).item("biases")
    assert biases.status is PLACEHOLDER and biases.placeholder == "[More Information Needed]"
