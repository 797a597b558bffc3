"""A model page's card checklist and its `section:` views say the same thing: a ✓ found in the
card's metadata or a code example opens that, and a ⚠ quotes the placeholder the card wrote."""

from __future__ import annotations

import pytest

from bot.hub.cards import analyze_model_card, section_word
from bot.replies import Card
from tests.support.botdriver import BotDriver

DISTILBERT = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
SD_1_5 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
GPT_NEO = "EleutherAI/gpt-neo-125M"
NOBODY = "nobody wrote it down"

# The section: word of each checklist label ("Evaluation results" -> "evaluation").
WORDS = {item.label: section_word(item.key) for item in analyze_model_card("").checklist}


async def card_of(bot: BotDriver, line: str) -> Card:
    reply = await bot.run(line)
    assert isinstance(reply, Card), reply
    return reply


def checklist(page: Card) -> dict[str, str]:
    """The page's checklist as {label: mark}."""
    field = next(f for f in page.fields if f.name == "Model card")
    marks = {}
    for line in field.value.splitlines():
        mark, label = line.split(" ", 1)
        marks[label.split(":", 1)[0]] = mark
    return marks


async def test_evaluation_from_model_index_shows_its_results(hub_bot: BotDriver) -> None:
    page = await card_of(hub_bot, f"/search model:{DISTILBERT}")
    assert checklist(page)["Evaluation results"] == "✓"

    section = await card_of(hub_bot, f"/search model:{DISTILBERT} section:evaluation")

    assert section.title == f"{DISTILBERT}: Evaluation results"
    lead, table = section.description.split("\n\n", 1)
    assert lead == (
        "✓ Evaluation results: from the card's metadata (model-index); "
        "no section of the card is written about it."
    )
    rows = table.splitlines()
    assert rows[:3] == [
        "Dataset | Metric | Value",
        "glue (sst2, validation) | Accuracy | 0.9106",
        "glue (sst2, validation) | Precision | 0.8978",
    ]
    assert "sst2 (default, train) | Accuracy | 0.9886" in rows
    assert rows[-1] == "… and 7 more in the card's metadata"  # 17 results, 10 shown
    assert NOBODY not in section.description


async def test_how_to_use_from_a_code_block_shows_the_code(hub_bot: BotDriver) -> None:
    page = await card_of(hub_bot, f"/search model:{SD_1_5}")
    assert checklist(page)["How to use it"] == "✓"

    section = await card_of(hub_bot, f"/search model:{SD_1_5} section:how-to-use")

    lead, code = section.description.split("\n\n", 1)
    assert lead == (
        "✓ How to use it: from a code example in the card; "
        "no section of the card is written about it."
    )
    assert code.startswith("from diffusers import StableDiffusionPipeline\nimport torch\n")
    assert 'image.save("astronaut_rides_horse.png")' in code


@pytest.mark.parametrize("model", [DISTILBERT, SD_1_5, GPT_NEO, "EleutherAI/pythia-70m"])
async def test_every_item_opens_with_the_checklists_mark(hub_bot: BotDriver, model: str) -> None:
    marks = checklist(await card_of(hub_bot, f"/search model:{model}"))
    assert set(marks) == set(WORDS)

    for label, mark in marks.items():
        section = await card_of(hub_bot, f"/search model:{model} section:{WORDS[label]}")
        assert section.description.startswith(mark), (label, section.description[:120])
        # "Nobody wrote it down" exactly where the checklist says ✗.
        assert (NOBODY in section.description) == (mark == "✗"), label


async def test_a_placeholder_is_quoted_as_the_card_writes_it(hub_bot: BotDriver) -> None:
    page = await card_of(hub_bot, f"/search model:{GPT_NEO}")
    field = next(f for f in page.fields if f.name == "Model card")

    assert "⚠ Evaluation results: placeholder “TBD”" in field.value.splitlines()
    assert "[More Information Needed]" not in field.value
