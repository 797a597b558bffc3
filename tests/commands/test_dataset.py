"""/dataset against the Hub stand-in and its dataset viewer."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.replies import Button, Card, Error, Table, Text, as_plain_text
from bot.store.models import UsageEvent
from tests.support.botdriver import BotDriver, FakeClock
from tests.support.hub_catalog import HUBDATA_DIR
from tests.support.hub_stub import HubStub


def field(card: object, name: str) -> str:
    assert isinstance(card, Card), card
    return next(f.value for f in card.fields if f.name == name)


async def test_search_datasets_by_task(hub_bot: BotDriver, fresh_hub_stub: HubStub) -> None:
    reply = await hub_bot.run("/dataset task:text-classification limit:3")
    assert isinstance(reply, Table)
    assert len(reply.rows) == 3
    assert all("text-classification" in row[2] for row in reply.rows)
    # The answer is private by default: Share posts it to the channel.
    assert reply.buttons[:-1] == (
        Button(
            label="More", action="/dataset task:text-classification sort:downloads limit:3 page:2"
        ),
    )
    assert reply.buttons[-1].label == "Share" and reply.private
    names = await hub_bot.run("/dataset imdb")
    assert isinstance(names, Table)
    assert [row[1] for row in names.rows] == ["imdb", "imdb_urdu_reviews"]
    assert names.rows[0][3:5] == ("10K<n<100K", "other")
    quoted = await hub_bot.run("/dataset “imdb”")  # a phone's curly quotes
    assert isinstance(quoted, Table) and quoted.rows == names.rows
    assert fresh_hub_stub.count("/api/datasets") == 2


async def test_imdb_card_facts(hub_bot: BotDriver) -> None:
    infos = json.loads((HUBDATA_DIR / "dataset_cards" / "imdb_dataset_infos.json").read_text())
    rows = {name: s["num_examples"] for name, s in infos["plain_text"]["splits"].items()}

    card = await hub_bot.run("/dataset id:imdb")

    assert isinstance(card, Card)
    assert card.url == "https://huggingface.co/datasets/imdb"
    assert card.title == "IMDB"
    assert field(card, "Splits") == "\n".join(f"{n}: {r:,} rows" for n, r in rows.items())
    assert field(card, "Size") == f"10K<n<100K ({sum(rows.values()):,} rows)"
    assert field(card, "License").startswith("Other: a license not in the Hub's list")
    assert field(card, "Languages") == "en"
    assert field(card, "How it was made") == (
        "Source: original\n"
        "Annotations by: expert-generated: specialists\n"
        "Text by: expert-generated: specialists"
    )
    # imdb's card keeps the template's headings with no text under them.
    assert field(card, "Card: ethics") == "\n".join(
        f"⚠ {label}: placeholder “[More Information Needed]”"
        for label in (
            "Personal and Sensitive Information",
            "Social Impact of Dataset",
            "Discussion of Biases",
            "Other Known Limitations",
        )
    )
    assert "⚠ Source Data" in field(card, "Card: how it was made")
    assert card.footer == "See its first rows: /dataset id:imdb preview:true"

    async with hub_bot.app.services.store.session() as session:
        (event,) = (await session.scalars(select(UsageEvent))).all()
    assert event.command == "dataset" and event.detail["dataset"] == "imdb"


async def test_a_dataset_with_written_ethics_sections(hub_bot: BotDriver) -> None:
    text = as_plain_text(await hub_bot.run("/dataset id:rotten_tomatoes"))
    assert "Card: ethics:" in text
    assert "Splits:" in text and "train: 8,530 rows" in text


async def test_missing_dataset(hub_bot: BotDriver) -> None:
    reply = await hub_bot.run("/dataset id:imdb_urdu")
    assert isinstance(reply, Error)
    assert "no public dataset called imdb_urdu" in reply.what
    assert reply.todo.startswith(
        "Did you mean imdb_urdu_reviews? Type /dataset id:imdb_urdu_reviews"
    )


async def test_preview_rows(hub_bot: BotDriver, fresh_hub_stub: HubStub) -> None:
    reply = await hub_bot.run("/dataset id:imdb preview:true rows:3")
    assert isinstance(reply, Table)
    assert reply.title == "imdb — plain_text/train: first 3 rows"
    assert reply.columns == ("#", "text", "label")
    assert [row[0] for row in reply.rows] == ["0", "1", "2"]
    assert reply.rows[0][1].startswith("I rented I AM CURIOUS-YELLOW")
    assert all(len(row[1]) <= 60 and row[1].endswith("…") for row in reply.rows)
    assert reply.rows[0][2] == "neg (0)"  # class labels by name
    assert fresh_hub_stub.count("/datasets-server/splits") == 1


async def test_one_word_before_preview_or_section_names_the_dataset(hub_bot: BotDriver) -> None:
    typed = await hub_bot.run("/dataset imdb preview:true rows:3")
    assert isinstance(typed, Table) and typed.title == "imdb — plain_text/train: first 3 rows"
    section = await hub_bot.run("/dataset rotten_tomatoes section:biases")
    named = await hub_bot.run("/dataset id:rotten_tomatoes section:biases")
    assert isinstance(section, Card) and isinstance(named, Card)
    assert (section.title, section.description) == (named.title, named.description)
    # More words are a search, which has no rows to show.
    words = await hub_bot.run("/dataset movie reviews preview:true")
    assert isinstance(words, Error)
    assert words.what == "preview:, config:, split: and rows: need a dataset."


async def test_preview_media_truncated_cells_and_no_preview(hub_bot: BotDriver) -> None:
    images = await hub_bot.run_all(
        "/dataset id:huggan/horse2zebra preview:true config:default split:train rows:2"
    )
    table, links = images
    assert isinstance(table, Table) and table.rows[0][1:] == ("[image 1]", "[image 2]")
    assert isinstance(links, Text)
    assert links.text.splitlines()[0] == (
        "[image 1] https://huggingface.co/datasets/huggan/horse2zebra/viewer/default/train?row=0"
    )

    cut = await hub_bot.run("/dataset id:ETDataset/ett preview:true config:m2 split:test rows:1")
    assert isinstance(cut, Table)
    assert cut.rows[0][2].startswith("[38.66") and cut.rows[0][2].endswith("…")

    none = await hub_bot.run("/dataset id:rotten_tomatoes preview:true")
    assert isinstance(none, Error)
    assert none.what == (
        "No preview available for rotten_tomatoes (default/train): Cannot load the dataset "
        "split (in streaming mode) to extract the first rows."
    )

    wrong = await hub_bot.run("/dataset id:imdb preview:true split:validation")
    assert isinstance(wrong, Error) and "test, train, unsupervised" in wrong.todo


async def test_viewer_faults_and_stale_answers(
    hub_bot: BotDriver, fresh_hub_stub: HubStub, clock: FakeClock
) -> None:
    fresh_hub_stub.inject("/datasets-server/splits", retry_after=12)
    limited = await hub_bot.run("/dataset id:imdb preview:true")
    assert isinstance(limited, Error) and limited.todo == "Try again in 12 s."

    first = await hub_bot.run("/dataset id:imdb preview:true")
    assert isinstance(first, Table)
    clock.advance(minutes=7)
    fresh_hub_stub.inject("/datasets-server/", status=502, times=2)
    stale = await hub_bot.run("/dataset id:imdb preview:true")
    assert isinstance(stale, Table) and stale.rows == first.rows
    assert stale.footer is not None
    assert stale.footer.startswith("(cached 7 min ago — the Hub is not answering)")

    fresh_hub_stub.inject("/api/datasets/imdb", garbage=True)
    clock.advance(minutes=7)
    card = await hub_bot.run("/dataset id:imdb")
    assert isinstance(card, Error) and "could not read" in card.what


async def test_a_pasted_dataset_address_opens_the_dataset(hub_bot: BotDriver) -> None:
    named = await hub_bot.run("/dataset id:imdb")
    for line in (
        "/dataset https://huggingface.co/datasets/imdb",
        "/dataset id:https://huggingface.co/datasets/imdb",
    ):
        pasted = await hub_bot.run(line)
        assert isinstance(pasted, Card) and isinstance(named, Card)
        assert (pasted.title, pasted.description) == (named.title, named.description)
    rows = await hub_bot.run("/dataset https://huggingface.co/datasets/imdb preview:true rows:3")
    assert isinstance(rows, Table) and rows.title == "imdb — plain_text/train: first 3 rows"
    # The address of its viewer, where students look at rows: the rows it shows.
    typed = await hub_bot.run("/dataset id:imdb preview:true config:plain_text split:train rows:2")
    viewer = await hub_bot.run(
        "/dataset https://huggingface.co/datasets/imdb/viewer/plain_text/train rows:2"
    )
    assert isinstance(viewer, Table) and isinstance(typed, Table)
    assert (viewer.title, viewer.rows) == (typed.title, typed.rows)
    model = await hub_bot.run("/dataset https://huggingface.co/openai-community/gpt2")
    assert isinstance(model, Error)
    assert model.what == "https://huggingface.co/openai-community/gpt2 is a model's page."
    assert model.todo == "Open it with /search model:openai-community/gpt2."


async def test_the_address_of_the_datasets_list_shows_that_list(hub_bot: BotDriver) -> None:
    typed = await hub_bot.run("/dataset task:text-classification limit:4")
    pasted = await hub_bot.run(
        "/dataset https://huggingface.co/datasets?task_categories=task_categories:text-classification"
        " limit:4"
    )
    assert isinstance(pasted, Table) and isinstance(typed, Table)
    assert pasted.title == typed.title and pasted.rows == typed.rows and len(pasted.rows) == 4
