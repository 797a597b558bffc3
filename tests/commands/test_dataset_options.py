"""/dataset's config:, split:, rows: and task: as students type them (typos included)."""

from __future__ import annotations

from bot.commands.dataset import _names_within
from bot.replies import Card, Error, Table
from tests.support.botdriver import BotDriver


def field(card: object, name: str) -> str:
    assert isinstance(card, Card), card
    return next(f.value for f in card.fields if f.name == name)


async def test_a_wrong_config_or_split_names_the_right_ones(hub_bot: BotDriver) -> None:
    # Both typed: checked against the viewer's list too, not read as an unknown dataset.
    config = await hub_bot.run("/dataset id:imdb preview:true config:plain_txt split:test")
    assert isinstance(config, Error)
    assert (config.what, config.todo) == (
        "imdb has no config plain_txt.",
        "Choose one of: plain_text.",
    )
    split = await hub_bot.run("/dataset id:imdb preview:true config:plain_text split:tset")
    assert isinstance(split, Error)
    assert (split.what, split.todo) == (
        "imdb (plain_text) has no split tset.",
        "Choose one of: test, train, unsupervised.",
    )


async def test_config_and_split_names_in_another_case(hub_bot: BotDriver) -> None:
    reply = await hub_bot.run("/dataset id:imdb preview:true config:Plain_Text split:Train rows:2")
    assert isinstance(reply, Table)
    assert reply.title == "imdb — plain_text/train: first 2 rows"


async def test_config_split_or_rows_alone_ask_for_the_rows(hub_bot: BotDriver) -> None:
    asked = await hub_bot.run("/dataset id:imdb preview:true")
    split = await hub_bot.run("/dataset id:imdb split:train")
    assert isinstance(split, Table) and isinstance(asked, Table)
    assert (split.title, split.rows) == (asked.title, asked.rows)
    assert split.title.startswith("imdb — plain_text/train: first ")
    rows = await hub_bot.run("/dataset id:imdb rows:2")
    assert isinstance(rows, Table) and rows.title == "imdb — plain_text/train: first 2 rows"
    config = await hub_bot.run("/dataset id:imdb config:plain_text")
    assert isinstance(config, Table) and config.rows == asked.rows
    word = await hub_bot.run("/dataset imdb rows:2")  # one word names the dataset, as with preview:
    assert isinstance(word, Table) and word.title == "imdb — plain_text/train: first 2 rows"
    card = await hub_bot.run("/dataset id:imdb")  # nothing asking for rows: the card
    assert isinstance(card, Card)


async def test_a_mistyped_task_gets_the_closest_tasks(hub_bot: BotDriver) -> None:
    reply = await hub_bot.run("/dataset task:text-clasification")
    assert isinstance(reply, Error)
    assert reply.what == "text-clasification is not a task on the Hub."
    assert reply.todo == (
        "Did you mean task:text-classification, task:token-classification or "
        "task:video-classification? Type task: and pick one from the list, "
        "e.g. task:text-classification."
    )


async def test_no_match_never_suggests_the_task_already_used(hub_bot: BotDriver) -> None:
    past = await hub_bot.run("/dataset task:text-classification page:40")
    assert isinstance(past, Error)
    assert past.what == "No datasets match text-classification on page 40."
    assert past.todo == "Try page:1."
    words = await hub_bot.run("/dataset zzzqqq task:text-classification")
    assert isinstance(words, Error)
    assert words.todo == "Try fewer words or another task:, e.g. task:translation."


async def test_many_splits_say_how_many_more_and_name_every_config(hub_bot: BotDriver) -> None:
    card = await hub_bot.run("/dataset id:glue")
    splits = field(card, "Splits").splitlines()
    assert len(splits) == 13 and splits[0] == "cola/test: 1,063 rows"
    assert splits[-1] == "…and 22 more (see Configs; preview one with config:)"
    assert field(card, "Configs (12)") == (
        "cola, sst2, mrpc, qqp, stsb, mnli, mnli_mismatched, mnli_matched, qnli, rte, wnli, ax"
    )
    # A dataset with one config lists its splits without a Configs field.
    imdb = await hub_bot.run("/dataset id:imdb")
    assert isinstance(imdb, Card) and not any(f.name.startswith("Configs") for f in imdb.fields)


def test_config_names_fit_a_discord_field() -> None:
    names = [f"config_{i:03}" for i in range(200)]
    text = _names_within(names, 1024)
    assert len(text) <= 1024
    assert text.endswith(", …and 116 more") and text.startswith("config_000, config_001")
