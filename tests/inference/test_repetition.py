"""The repetition meter on hand-made texts whose answers can be counted by hand."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from bot.charts import repetition_chart
from bot.inference.repetition import (
    distinct_n,
    longest_repeated_span,
    meter,
    repeated_ngrams,
    repetition_report,
    words_of,
)


def test_the_cat_the_cat_the_cat() -> None:
    report = repetition_report("the cat the cat the cat")
    assert report.words == 6
    assert report.distinct_1 == pytest.approx(2 / 6)
    assert report.distinct_2 == pytest.approx(2 / 5)  # (the cat), (cat the) among 5 pairs
    assert report.repeated_trigram_share == pytest.approx(1 - 2 / 4)
    assert report.longest_repeat == "the cat the cat"  # occurrences may overlap
    assert report.longest_repeat_words == 4
    assert report.score == 60
    assert report.meter == "▓▓▓▓▓▓░░░░ 60%"
    assert report.explanation == (
        "60% of word pairs are repeats — the model keeps choosing the most likely words"
        " (a 4-word chunk appears twice)."
    )


def test_text_without_repetition() -> None:
    report = repetition_report("A small robot helped every student with homework today.")
    assert report.words == 9
    assert report.distinct_1 == report.distinct_2 == 1.0
    assert report.repeated_trigram_share == 0.0
    assert report.longest_repeat == "" and report.longest_repeat_words == 0
    assert report.score == 0
    assert report.meter == "░░░░░░░░░░ 0%"
    assert report.explanation.startswith("No word pair is repeated")


def test_case_and_punctuation_are_ignored() -> None:
    assert words_of("The cat, THE cat! the... cat? It's") == [
        "the",
        "cat",
        "the",
        "cat",
        "the",
        "cat",
        "it's",
    ]
    report = repetition_report("The cat, THE cat! the... cat?")
    assert report.distinct_2 == pytest.approx(2 / 5)


def test_some_repetition() -> None:
    # 10 words, 9 pairs; "sat on" and "on the" come back -> 7 distinct -> 2/9 repeats = 22%.
    report = repetition_report("the dog sat on the mat and sat on the")
    assert report.distinct_2 == pytest.approx(7 / 9)
    assert report.longest_repeat == "sat on the"
    assert report.score == 22
    assert "some phrases come back" in report.explanation
    assert "3-word chunk" in report.explanation


@pytest.mark.parametrize("text", ["", "   ", "!!!", "hello", "hello world"])
def test_empty_and_tiny_texts(text: str) -> None:
    report = repetition_report(text)
    assert report.score == 0
    assert report.distinct_1 == 1.0 and report.distinct_2 == 1.0
    assert report.repeated_trigram_share == 0.0
    assert report.longest_repeat_words == 0
    assert report.explanation.startswith("Too short to measure repetition")


def test_one_word_repeated() -> None:
    report = repetition_report("on on on on on")
    assert report.distinct_1 == pytest.approx(1 / 5)
    assert report.distinct_2 == pytest.approx(1 / 4)
    assert report.score == 75
    assert report.longest_repeat == "on on on on"


def test_distinct_n_and_span_helpers() -> None:
    assert distinct_n([], 2) == 1.0
    assert distinct_n(["a", "b", "a", "b"], 1) == 0.5
    assert longest_repeated_span(["a", "b", "c", "x", "a", "b", "c"]) == ["a", "b", "c"]
    assert longest_repeated_span(["a"]) == []


@pytest.mark.parametrize(
    ("score", "bar"),
    [
        (0, "░░░░░░░░░░ 0%"),
        (40, "▓▓▓▓░░░░░░ 40%"),
        (45, "▓▓▓▓▓░░░░░ 45%"),
        (100, "▓▓▓▓▓▓▓▓▓▓ 100%"),
        (130, "▓▓▓▓▓▓▓▓▓▓ 100%"),
    ],
)
def test_meter(score: int, bar: str) -> None:
    assert meter(score) == bar


def test_long_degenerate_text_is_fast() -> None:
    report = repetition_report("the model " * 2500)
    assert report.words == 5000
    assert report.score == 100


def test_repeated_ngrams_mark_where_the_text_loops() -> None:
    words = words_of("the cat sat on the mat the cat sat on the mat")
    marks = repeated_ngrams(words, 3)
    assert len(marks) == len(words) - 2
    # "the cat sat" comes back at word 7 and every chunk after it repeats.
    assert marks == [False] * 6 + [True] * 4
    assert repeated_ngrams(words_of("all different words here"), 3) == [False, False]


async def test_the_repetition_chart_is_a_png_with_the_same_numbers() -> None:
    chart = await repetition_chart("the cat sat on the mat the cat sat on the mat")
    picture = PILImage.open(io.BytesIO(chart.data))
    assert picture.format == "PNG" and picture.width >= 300
    assert chart.alt == (
        "Repeated 3-word chunks along the text: 4 of 10 (40%) repeat an earlier one; "
        "the first repeat starts at word 7."
    )
    calm = await repetition_chart("every word here is new")
    assert calm.alt.endswith(": 0 of 3 (0%) repeat an earlier one.")


def test_an_eight_word_chunk_reads_as_english() -> None:
    chunk = "one two three four five six seven eight"
    assert "(an 8-word chunk appears twice)" in repetition_report(f"{chunk} {chunk}").explanation
