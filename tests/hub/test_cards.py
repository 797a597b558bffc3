"""Card analysis (bot.hub.cards) and license explanations (bot.hub.licenses) on real cards."""

from __future__ import annotations

import json
import time

import pytest

from bot.hub.cards import (
    DatasetItem,
    ModelCardReport,
    ModelItem,
    SectionStatus,
    analyze_dataset_card,
    analyze_model_card,
)
from bot.hub.licenses import LicenseFamily, explain_license, known_license_ids
from tests.support.hub_catalog import HUBDATA_DIR as HUBDATA
from tests.support.hub_catalog import jsonl_rows

PRESENT, PLACEHOLDER, MISSING = (
    SectionStatus.PRESENT,
    SectionStatus.PLACEHOLDER,
    SectionStatus.MISSING,
)


def model_card(name: str) -> str:
    return (HUBDATA / "model_cards" / f"{name}_README.md").read_text(encoding="utf-8")


def test_gpt_neo_125m_card() -> None:
    report = analyze_model_card(model_card("EleutherAI_gpt-neo-125M"))
    assert report.metadata_error is None and report.has_front_matter
    assert report.license == "mit"
    assert report.datasets == ("the_pile",)
    assert report.languages == ("en",)
    assert report.tags == ("text generation", "pytorch", "causal-lm")
    assert report.title == "GPT-Neo 125M"
    assert report.pipeline_tag is None and report.library_name is None
    # What the card really has: description, training data/procedure, "Intended Use and
    # Limitations" with "How to use" and "Limitations and Biases", a BibTeX entry; its
    # "Eval results" section says only "TBD"; nothing on environmental impact.
    assert report.status(ModelItem.DESCRIPTION) is PRESENT
    assert report.status(ModelItem.HOW_TO_USE) is PRESENT
    assert report.status(ModelItem.INTENDED_USES) is PRESENT
    assert report.status(ModelItem.LIMITATIONS) is PRESENT
    assert report.status(ModelItem.TRAINING) is PRESENT
    assert report.status(ModelItem.EVALUATION) is PLACEHOLDER
    assert report.status(ModelItem.ENVIRONMENTAL_IMPACT) is MISSING
    assert report.status(ModelItem.CITATION) is PRESENT
    assert report.missing == ("environmental_impact",)
    assert report.placeholders == ("evaluation",)
    limitations = next(i for i in report.checklist if i.key == "limitations")
    assert "Limitations and Biases" in limitations.headings
    # "arXiv:2101.00027" appears only as text inside the BibTeX, not as an arxiv.org link.
    assert report.arxiv_ids == ()


def test_stable_diffusion_v1_5_card() -> None:
    report = analyze_model_card(model_card("runwayml_stable-diffusion-v1-5"))
    assert report.license == "creativeml-openrail-m"
    assert explain_license(report.license).family is LicenseFamily.USE_RESTRICTIONS
    assert report.status(ModelItem.LIMITATIONS) is PRESENT
    assert report.status(ModelItem.ENVIRONMENTAL_IMPACT) is PRESENT
    assert report.missing == ()
    assert "stable-diffusion" in report.tags
    assert report.arxiv_ids[:2] == ("2207.12598", "2112.10752")
    intended = next(i for i in report.checklist if i.key == "intended_uses")
    assert "Out-of-Scope Use" in intended.headings


def test_pythia_card_has_no_citation() -> None:
    report = analyze_model_card(model_card("EleutherAI_pythia-70m"))
    assert report.license == "apache-2.0"
    assert report.status(ModelItem.HOW_TO_USE) is PRESENT  # "Quickstart" with code
    assert report.status(ModelItem.EVALUATION) is PRESENT  # "Evaluations"
    assert report.status(ModelItem.CITATION) is MISSING
    assert report.arxiv_ids == ("2101.00027", "2201.07311")


def test_imdb_dataset_card() -> None:
    text = (HUBDATA / "dataset_cards" / "imdb_README.md").read_text(encoding="utf-8")
    infos = json.loads((HUBDATA / "dataset_cards" / "imdb_dataset_infos.json").read_text())
    report = analyze_dataset_card(text, infos)
    assert report.title == "IMDB"
    assert report.license == "other"
    assert report.languages == ("en",)
    assert report.task_categories == ("text-classification",)
    assert report.task_ids == ("sentiment-classification",)
    assert report.size_category == "10K<n<100K"
    assert report.source_datasets == ("original",)
    assert report.annotations_creators == ("expert-generated",)
    assert report.language_creators == ("expert-generated",)
    assert report.multilinguality == ("monolingual",)
    # Every creation and ethics section of the imdb card is a "[More Information Needed]" stub.
    assert [i.status for i in report.creation] == [PLACEHOLDER] * 4
    assert [i.status for i in report.ethics] == [PLACEHOLDER] * 4
    assert [i.label for i in report.ethics] == [
        "Personal and Sensitive Information",
        "Social Impact of Dataset",
        "Discussion of Biases",
        "Other Known Limitations",
    ]
    assert report.status(DatasetItem.BIASES) is PLACEHOLDER
    splits = {(s.config, s.name): (s.num_rows, s.num_bytes) for s in report.splits}
    assert splits == {
        ("plain_text", "train"): (25000, 33442202),
        ("plain_text", "test"): (25000, 32660064),
        ("plain_text", "unsupervised"): (50000, 67125548),
    }
    assert report.total_rows == 100_000


def test_dataset_card_with_written_sections_and_trimmed_infos() -> None:
    row = next(
        r for r in jsonl_rows(HUBDATA, "datasets.jsonl") if r["id"] == "acronym_identification"
    )
    report = analyze_dataset_card(row["card"], row["dataset_infos"])
    assert report.license == "mit"
    assert report.annotations_creators == ("expert-generated",)
    assert {s.name for s in report.splits} == {"train", "validation", "test"}
    assert report.total_rows == 14006 + 1717 + 1750
    assert all(item.status is not MISSING for item in report.creation + report.ethics)
    assert analyze_dataset_card(row["card"]).splits == ()


def test_malformed_yaml_never_raises() -> None:
    text = "---\nlicense: mit\ntags: [unclosed\n  - x: : y\n---\n# Title\n\nSome words about it.\n"
    report = analyze_model_card(text)
    assert report.has_front_matter
    assert report.metadata_error is not None
    assert report.metadata == {} and report.license is None
    assert report.status(ModelItem.DESCRIPTION) is PRESENT

    impossible_date = analyze_model_card("---\ndate: 2023-02-30\n---\nbody")
    assert impossible_date.metadata_error is not None

    not_a_mapping = analyze_model_card("---\n- just\n- a list\n---\n")
    assert not_a_mapping.metadata == {} and not_a_mapping.metadata_error is not None

    dataset = analyze_dataset_card("---\nlicense: [mit\n---\n")
    assert dataset.metadata_error is not None and dataset.license is None


def test_empty_text() -> None:
    report = analyze_model_card("")
    assert not report.has_front_matter and report.metadata_error is None
    assert report.missing == tuple(str(i) for i in ModelItem)
    assert report.title is None and report.headings == ()
    dataset = analyze_dataset_card("", None)
    assert all(i.status is MISSING for i in dataset.creation + dataset.ethics)
    assert dataset.splits == () and dataset.total_rows is None


def test_card_that_is_only_front_matter() -> None:
    report = analyze_model_card("---\nlicense: apache-2.0\nco2_eq_emissions: 10\n---")
    assert report.has_front_matter and report.license == "apache-2.0"
    assert report.status(ModelItem.ENVIRONMENTAL_IMPACT) is PRESENT  # from the metadata
    assert report.status(ModelItem.DESCRIPTION) is MISSING
    assert report.headings == ()


def test_placeholder_versus_missing_versus_present() -> None:
    text = "\n".join(
        [
            "---",
            "license: cc-by-nc-4.0",
            "base_model: [gpt2]",
            "tags: ['arxiv:2101.00027']",
            "model-index:",
            "- name: x",
            "  results: []",
            "---",
            "  # **My model**",
            "<!-- Provide a quick summary of what the model is. -->",
            "",
            "## Uses",
            "### Direct Use",
            "[More Information Needed]",
            "## Bias, Risks, and Limitations",
            "- **Known risks:** [More Information Needed]",
            "## Training Details",
            "",
            "### Training Data",
            "Trained on [the pile](https://arxiv.org/abs/2101.00027v2) for 3 epochs.",
            "## Evaluation",
            "More information needed",
            "## Environmental Impact",
            "",
            "## How to Get Started with the Model",
            "```python",
            "# Use a pipeline",
            "```",
        ]
    )
    report = analyze_model_card(text)
    assert report.title == "My model"
    assert report.base_models == ("gpt2",)
    assert report.arxiv_ids == ("2101.00027",)
    assert report.status(ModelItem.INTENDED_USES) is PLACEHOLDER
    assert report.status(ModelItem.LIMITATIONS) is PLACEHOLDER
    assert report.status(ModelItem.TRAINING) is PRESENT
    assert report.status(ModelItem.EVALUATION) is PLACEHOLDER  # empty model-index results
    assert report.status(ModelItem.ENVIRONMENTAL_IMPACT) is PLACEHOLDER  # empty section
    assert report.status(ModelItem.HOW_TO_USE) is PRESENT
    assert report.status(ModelItem.DESCRIPTION) is MISSING  # only a comment under the title
    assert report.status(ModelItem.CITATION) is MISSING


@pytest.fixture(scope="module")
def corpus() -> tuple[list[ModelCardReport], float]:
    cards = [row["card"] for row in jsonl_rows(HUBDATA, "model_cards_corpus.jsonl")]
    started = time.perf_counter()
    reports = [analyze_model_card(card) for card in cards]
    return reports, time.perf_counter() - started


def test_every_card_of_the_corpus(corpus: tuple[list[ModelCardReport], float]) -> None:
    reports, elapsed = corpus
    # The repository keeps a seeded sample of the 4,000 (tests/data/hubdata/README.md); the
    # whole corpus runs in bench/bench_cards.py.
    assert len(reports) == 323
    assert sum(r.has_front_matter for r in reports) > 0.9 * len(reports)
    assert sum(r.metadata_error is not None for r in reports) == 0
    assert elapsed < 15  # about 1-2 s here; generous for a loaded CI machine


# -- licenses --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("license_id", "family", "words", "commercial"),
    [
        ("mit", LicenseFamily.PERMISSIVE, "MIT: permissive open source: use, change, sell", True),
        ("apache-2.0", LicenseFamily.PERMISSIVE, "Apache-2.0: permissive open source", True),
        ("openrail", LicenseFamily.USE_RESTRICTIONS, "OpenRAIL: open with use restrictions", True),
        (
            "openrail-m",
            LicenseFamily.USE_RESTRICTIONS,
            "OpenRAIL-M: open with use restrictions",
            True,
        ),
        ("cc-by-nc-4.0", LicenseFamily.NON_COMMERCIAL, "CC-BY-NC-4.0: no commercial use", False),
        ("gpl-3.0", LicenseFamily.COPYLEFT, "GPL-3.0: copyleft", True),
        ("llama3.1", LicenseFamily.USE_RESTRICTIONS, "Llama 3.1 Community License", True),
        ("MIT ", LicenseFamily.PERMISSIVE, "MIT:", True),
    ],
)
def test_explain_license(
    license_id: str, family: LicenseFamily, words: str, commercial: bool
) -> None:
    explanation = explain_license(license_id)
    assert explanation.family is family
    assert explanation.summary.startswith(words)
    assert explanation.commercial_use is commercial
    assert explanation.known


def test_unknown_and_missing_licenses() -> None:
    unknown = explain_license("my-own-license-v9")
    assert unknown.family is LicenseFamily.UNKNOWN and not unknown.known
    assert "see the license file" in unknown.summary
    assert explain_license("unknown").family is LicenseFamily.UNKNOWN
    assert explain_license("other").family is LicenseFamily.UNKNOWN
    for missing in (None, "", "  "):
        none = explain_license(missing)
        assert none.family is LicenseFamily.NONE and none.license_id is None
        assert none.commercial_use is False


def _license_ids(value: object) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else [value]
    return [str(v).strip().lower() for v in items if v]


def test_every_license_id_in_hubdata_is_explained(
    corpus: tuple[list[ModelCardReport], float],
) -> None:
    seen: set[str] = set()
    # The trimmed data keeps at least one row for each license id of the full recording.
    for row in jsonl_rows(HUBDATA, "models.jsonl"):
        seen.update(_license_ids((row["meta"] or {}).get("license")))
    for row in jsonl_rows(HUBDATA, "datasets.jsonl"):
        seen.update(_license_ids(analyze_dataset_card(row["card"]).licenses))
    for report in corpus[0]:
        seen.update(_license_ids(report.licenses))
    assert len(seen) > 40
    unexplained = {s for s in seen if not explain_license(s).known}
    assert unexplained == set()
    assert seen <= known_license_ids()
