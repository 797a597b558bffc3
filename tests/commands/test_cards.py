"""Readable cards through the router: narrow lists on Discord and Slack, a card's sections,
charts as real PNGs with alt text, and a model page that never offers what the bot refuses."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image as PILImage

from bot.charts import render
from bot.commands.cardtext import SECTION_CHARS
from bot.hub.cards import card_section
from bot.hub.tasks import with_article
from bot.identity import Actor, Role
from bot.inference.guard import ModelRefused
from bot.replies import Card, Error, File, Image, Reply, Table, as_plain_text, format_table
from tests.support.botdriver import BotDriver, running_bot, settings_for_tests
from tests.support.hub_catalog import HUBDATA_DIR

# The budget a phone and a Discord embed show without wrapping a row.
WIDTH = 56
# Slack: 3,000 characters per section; Discord: 4,096 per embed description.
SLACK_SECTION, DISCORD_DESCRIPTION = 3000, 4096
PNG = b"\x89PNG\r\n\x1a\n"


def actor(platform: str, role: Role = Role.STUDENT, user: str = "ada") -> Actor:
    return Actor(
        platform=platform,
        user_id=user,
        display_name=user,
        role=role,
        guild_id="guild",
        channel_id="channel",
    )


async def run_on(bot: BotDriver, platform: str, line: str) -> list[Reply]:
    return [reply async for reply in bot.app.router.run_line(line, actor(platform))]


def lines_of(card: Card) -> list[str]:
    return [*card.description.splitlines(), *(card.footer or "").splitlines()]


def csv_rows(reply: Reply) -> list[list[str]]:
    assert isinstance(reply, File) and reply.mime == "text/csv"
    return list(csv.reader(io.StringIO(reply.data.decode("utf-8"))))


# -- narrow lists ----------------------------------------------------------------------------
@pytest.mark.parametrize("platform", ["discord", "slack"])
@pytest.mark.parametrize(
    "line",
    [
        "/search task:text-generation limit:25",
        "/search bert sort:likes limit:25",
        "/dataset limit:25",
        "/dataset id:imdb preview:true rows:10",
    ],
)
async def test_lists_fit_a_phone_and_the_whole_table_is_attached(
    hub_bot: BotDriver, platform: str, line: str
) -> None:
    wide = await hub_bot.run(line)  # the console keeps the wide table
    assert isinstance(wide, Table)
    assert max(len(row) for row in wide_rows(wide)) > WIDTH  # the problem being solved

    compact, attachment = (await run_on(hub_bot, platform, line))[:2]

    assert isinstance(compact, Card)
    for text in lines_of(compact):
        assert len(text) <= WIDTH, text
    assert len(compact.description) <= min(SLACK_SECTION, DISCORD_DESCRIPTION)
    # Each row's first cell and (start of) name are on the narrow card, in order.
    shown = [text for text in compact.description.splitlines() if not text.startswith(" ")]
    assert len(shown) == len(wide.rows)
    for text, row in zip(shown, wide.rows, strict=True):
        assert text.startswith(f"{row[0]}. ") or text == f"Row {row[0]}"
    # Nothing is lost: the attachment is the whole table, cell for cell.
    assert csv_rows(attachment) == [list(wide.columns), *map(list, wide.rows)]
    # The same buttons; each answer has its own Share key.
    assert [b.action for b in compact.buttons if b.label != "Share"] == [
        b.action for b in wide.buttons if b.label != "Share"
    ]
    assert [b.label for b in compact.buttons] == [b.label for b in wide.buttons]


def wide_rows(table: Table) -> list[str]:
    return format_table(table.columns, table.rows).splitlines()


async def test_a_long_model_id_is_cut_on_the_card_and_whole_in_the_csv(
    hub_bot: BotDriver,
) -> None:
    replies = await run_on(hub_bot, "discord", "/search task:text-classification limit:25")
    compact, attachment = replies
    assert isinstance(compact, Card)
    ids = [row[1] for row in csv_rows(attachment)[1:]]
    longest = max(ids, key=len)
    assert len(longest) + 4 > WIDTH  # the data has ids too long for a phone row
    assert any(text.endswith("…") for text in compact.description.splitlines())
    assert all(len(text) <= WIDTH for text in compact.description.splitlines())


# -- a card's sections -----------------------------------------------------------------------
def model_card(name: str) -> str:
    return (HUBDATA_DIR / "model_cards" / f"{name}_README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("platform", ["console", "discord", "slack"])
async def test_a_long_section_is_cut_cleanly_with_a_link(hub_bot: BotDriver, platform: str) -> None:
    line = "/search model:CompVis/stable-diffusion-v1-4 section:limitations"
    (reply,) = await run_on(hub_bot, platform, line)

    assert isinstance(reply, Card)
    assert reply.title == "CompVis/stable-diffusion-v1-4: Limitations and biases"
    assert len(reply.description) <= SLACK_SECTION
    lead, body = reply.description.split("\n\n", 1)
    assert lead == "✓ “Limitations and Bias” (Limitations and biases)"
    assert "The model does not achieve perfect photorealism" in body
    # Cut at the end of a word, sentence or paragraph of the card's own text.
    whole = card_section(model_card("CompVis_stable-diffusion-v1-4"), "limitations")
    assert whole is not None and len(whole.text) > SECTION_CHARS
    assert body.endswith(" …")
    kept = body.removesuffix(" …")
    assert whole.text.startswith(kept) and whole.text[len(kept)] in " \n"
    assert len(kept) <= SECTION_CHARS
    assert (
        reply.footer
        == "Cut here; read the rest: https://huggingface.co/CompVis/stable-diffusion-v1-4"
    )
    # Back to the model page, and Share (the answer is private until shared).
    assert [b.action for b in reply.buttons][:1] == ["/search model:CompVis/stable-diffusion-v1-4"]
    assert [b.label for b in reply.buttons][1:] == ["Share"]


async def test_checklist_items_are_buttons_that_open_their_section(hub_bot: BotDriver) -> None:
    page = await hub_bot.run("/search model:EleutherAI/gpt-neo-125M")
    assert isinstance(page, Card)
    by_label = {b.label: b.action for b in page.buttons}
    limits = by_label["✓ Limitations and biases"]
    assert limits == "/search model:EleutherAI/gpt-neo-125M section:limitations"
    assert "⚠ Evaluation results" in by_label  # a placeholder opens too
    assert not any("Environmental" in label for label in by_label)  # ✗: nothing to open
    assert all(len(action) <= 100 for action in by_label.values())

    section = await hub_bot.run(limits)
    assert isinstance(section, Card)
    # The heading that names limitations alone wins over "Intended Use and Limitations".
    assert section.description.startswith("✓ “Limitations and Biases”\n\n")
    assert "GPT-Neo was trained as an autoregressive language model." in section.description
    assert section.footer == "The whole card: https://huggingface.co/EleutherAI/gpt-neo-125M"


async def test_dataset_sections_placeholders_and_missing_ones(hub_bot: BotDriver) -> None:
    page = await hub_bot.run("/dataset id:imdb")
    assert isinstance(page, Card)
    assert "/dataset id:imdb section:biases" in [b.action for b in page.buttons]

    biases = await hub_bot.run("/dataset id:imdb section:biases")
    assert isinstance(biases, Card) and biases.title == "imdb: Discussion of Biases"
    assert biases.description.startswith(
        "⚠ “Discussion of Biases”: only the template's placeholder, nothing written yet"
    )
    assert biases.url == "https://huggingface.co/datasets/imdb"

    missing = await hub_bot.run(
        "/search model:EleutherAI/gpt-neo-125M section:environmental-impact"
    )
    assert isinstance(missing, Card)
    assert "has no section about environmental impact" in missing.description

    lost = await hub_bot.run("/search section:limitations")
    assert isinstance(lost, Error) and lost.what == "section: needs a model."
    typo = await hub_bot.run("/dataset id:imdb section:bias")
    assert isinstance(typo, Error) and "biases" in as_plain_text(typo)


# -- charts ----------------------------------------------------------------------------------
def picture_of(reply: Reply) -> PILImage.Image:
    assert isinstance(reply, Image) and reply.mime == "image/png"
    assert reply.data.startswith(PNG)
    picture = PILImage.open(io.BytesIO(reply.data))
    picture.load()
    assert picture.format == "PNG" and picture.width >= 300 and picture.height >= 150
    return picture


async def test_search_chart_is_a_png_whose_alt_text_has_the_numbers(hub_bot: BotDriver) -> None:
    table = await hub_bot.run("/search task:text-generation sort:likes limit:5")
    assert isinstance(table, Table)
    chart_button = next(b for b in table.buttons if b.label == "Chart")

    chart, listed = await hub_bot.run_all(chart_button.action)

    picture_of(chart)
    assert isinstance(chart, Image) and isinstance(listed, Table)
    assert listed.rows == table.rows  # the text stays, for screen readers
    assert chart.alt.startswith(f"{table.title}: bar chart of likes. ")
    for row in table.rows:  # model, likes and size, as the table says them
        size = row[5] if row[5] != "—" else "size not published"
        assert f"{row[1]}: {row[4]}, {size}" in chart.alt


# -- the model page --------------------------------------------------------------------------
async def test_the_page_of_a_refused_model_says_why_and_offers_no_command(
    hub_bot: BotDriver,
) -> None:
    page = await hub_bot.run("/search model:meta-llama/Llama-3.1-8B-Instruct")
    assert isinstance(page, Card) and page.footer is not None
    first, *rest = page.footer.splitlines()
    assert first.startswith(
        "/generate can't run it here: meta-llama/Llama-3.1-8B-Instruct is gated"
    )
    assert "Try it: /generate" not in page.footer
    assert rest == ["Try it on https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct"]

    runs = await hub_bot.run("/search model:gpt2")
    assert isinstance(runs, Card) and runs.footer == "Try it: /generate model:gpt2"


async def test_the_page_and_the_command_refuse_in_the_same_words(hub_bot: BotDriver) -> None:
    page = await hub_bot.run("/search model:meta-llama/Llama-3.1-8B-Instruct")
    assert isinstance(page, Card) and page.footer is not None
    guard = hub_bot.app.services.guard
    assert guard is not None
    with pytest.raises(ModelRefused) as refused:
        await guard.check("meta-llama/Llama-3.1-8B-Instruct")
    assert f"{refused.value.error.what} {refused.value.error.todo}" in page.footer


# -- wording ---------------------------------------------------------------------------------
async def test_an_before_a_vowel_in_the_task(hub_bot: BotDriver) -> None:
    page = await hub_bot.run("/search model:openai/whisper-base")
    assert isinstance(page, Card)
    assert page.description.startswith("An automatic-speech-recognition model: it writes down")
    gpt2 = await hub_bot.run("/search model:gpt2")
    assert isinstance(gpt2, Card) and "A text-generation model" in gpt2.description


async def test_only_close_names_are_suggested_for_a_missing_model(hub_bot: BotDriver) -> None:
    unrelated = await hub_bot.run("/search model:someone/model")
    assert isinstance(unrelated, Error) and "Did you mean" not in unrelated.todo
    assert "temp-model" not in unrelated.todo
    typo = await hub_bot.run("/search model:EleutherAI/gpt-neo-125m")
    assert isinstance(typo, Error)
    assert typo.todo.startswith("Did you mean EleutherAI/gpt-neo-125M?")


async def test_the_allow_list_offers_image_models_to_imagine(tmp_path: Path) -> None:
    settings = settings_for_tests(
        tmp_path, model_allowlist=["EleutherAI/gpt-neo-125m", "stabilityai/*"]
    )
    async with running_bot(settings) as bot:
        refused = await bot.run("/imagine a red fox model:someone/other-model")
        assert isinstance(refused, Error)
        assert refused.what == "someone/other-model is not on this class's list of models."
        assert refused.todo == "You can use: stabilityai/sd-turbo, stabilityai/*."


# -- the guess game's model ------------------------------------------------------------------
async def test_an_instructor_chooses_the_guess_games_model(hub_bot: BotDriver) -> None:
    student = await hub_bot.run("/search guess model:openai/whisper-base")
    assert isinstance(student, Error)
    assert student.what == "Only an instructor chooses the guess game's model."

    line = "/search guess model:openai/whisper-base"
    card = await hub_bot.run(line, user="teacher", role="instructor")
    assert isinstance(card, Card) and "What does openai/whisper-base do?" in card.description
    assert "automatic-speech-recognition" in [b.label for b in card.buttons]

    again = await hub_bot.run(line, user="teacher", role="instructor")
    assert isinstance(again, Error) and again.what.endswith("is still open.")
    shown = await hub_bot.run("/search guess reveal", user="teacher", role="instructor")
    assert isinstance(shown, Card)
    assert shown.description.startswith("It does automatic-speech-recognition")


# -- how charts are drawn ----------------------------------------------------------------------
async def test_charts_are_drawn_off_the_event_loop() -> None:
    drawn_on: list[int] = []
    chart = await render(
        lambda figure: drawn_on.append(threading.get_ident()), filename="x.png", alt="empty"
    )
    assert chart.data.startswith(PNG) and chart.alt == "empty"
    assert drawn_on and drawn_on[0] != threading.get_ident()


def test_starting_the_bot_does_not_import_matplotlib() -> None:
    root = Path(__file__).resolve().parents[2]
    code = "import sys, bot.app, bot.charts; print('matplotlib' in sys.modules)"
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == "False"


async def test_no_button_for_an_item_known_from_metadata_or_code_alone(
    hub_bot: BotDriver,
) -> None:
    # The card shows usage code without a "how to use" heading: ✓, but nothing to open.
    page = await hub_bot.run("/search model:stable-diffusion-v1-5/stable-diffusion-v1-5")
    assert isinstance(page, Card)
    assert "✓ How to use it" in page.fields[-1].value
    actions = [b.action for b in page.buttons]
    assert not any(a.endswith("section:how-to-use") for a in actions)
    assert any(a.endswith("section:limitations") for a in actions)


@pytest.mark.parametrize(
    ("word", "said"),
    [
        ("automatic-speech-recognition", "an automatic-speech-recognition"),
        ("image-classification", "an image-classification"),
        ("unconditional-image-generation", "an unconditional-image-generation"),
        ("text-generation", "a text-generation"),
        ("unity-sentis", "a unity-sentis"),
        ("unknown library", "an unknown library"),
    ],
)
def test_the_article_before_a_task_or_library(word: str, said: str) -> None:
    assert with_article(word) == said
