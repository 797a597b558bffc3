"""/search says which models this bot runs: a Run button (/run's form) on a model page, the
guard's reason where it refuses, and a mark per row of a list (from the listing alone)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.replies import Card, Error, Modal, Table, as_plain_text
from tests.support.botdriver import BotDriver, FakeClock, running_bot, settings_for_tests
from tests.support.hub_stub import HubStub

SST2 = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"


def _record(repo_id: str, tag: str, params: int, languages: list[str]) -> dict[str, Any]:
    return {
        "_id": f"runs{abs(hash(repo_id)):020d}"[:24],
        "id": repo_id,
        "modelId": repo_id,
        "sha": "1" * 40,
        "pipeline_tag": tag,
        "library_name": "transformers",
        "tags": ["transformers", "safetensors", tag],
        "siblings": [{"rfilename": "config.json"}, {"rfilename": "model.safetensors"}],
        "safetensors": {"parameters": {"F32": params}, "total": params},
        "cardData": {"language": languages, "license": "apache-2.0"},
        "private": False,
        "disabled": False,
        "gated": False,
        "downloads": 10,
        "likes": 1,
    }


# Translation models as today's Hub describes them: sizes from safetensors, languages from
# the card (directions are not in the record).
RECORDS = {
    "classbot-test/m2m-small": _record(
        "classbot-test/m2m-small", "translation", 40_000_000, ["multilingual", "en", "fr", "de"]
    ),
    "classbot-test/opus-mt-en-fr": _record(
        "classbot-test/opus-mt-en-fr", "translation", 75_000_000, ["en", "fr"]
    ),
    "classbot-test/sentiment-xxl": _record(
        "classbot-test/sentiment-xxl", "text-classification", 5_000_000_000, ["en"]
    ),
}


@pytest.fixture
def translators(fresh_hub_stub: HubStub) -> Iterator[HubStub]:
    records = fresh_hub_stub.data.models.records
    records.update(RECORDS)
    try:
        yield fresh_hub_stub
    finally:
        for repo_id in RECORDS:
            records.pop(repo_id, None)


@asynccontextmanager
async def search_bot(tmp_path: Path, clock: FakeClock, **values: Any) -> AsyncIterator[BotDriver]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    settings = settings_for_tests(
        tmp_path, rate_limit_per_minute=10_000, rate_limit_burst=10_000, **values
    )
    async with running_bot(settings, clock) as driver:
        yield driver


async def test_a_model_page_runs_the_model_through_runs_form(hub_bot: BotDriver) -> None:
    page = await hub_bot.run(f"/search model:{SST2}")
    assert isinstance(page, Card)
    run = page.buttons[0]
    assert (run.label, run.action, run.style) == ("Run", f"/run model:{SST2}", "primary")
    assert page.footer == f"Try it: Run, or /run model:{SST2} <your text>"
    form = await hub_bot.run(run.action)
    assert isinstance(form, Modal)
    assert form.submit_action == f"/run model:{SST2}"
    assert [f.name for f in form.fields] == ["input"]

    qa = await hub_bot.run("/search model:deepset/roberta-base-squad2")
    assert isinstance(qa, Card) and qa.buttons[0].label == "Run"
    qa_form = await hub_bot.run(qa.buttons[0].action)
    assert isinstance(qa_form, Modal) and [f.name for f in qa_form.fields] == ["input", "context"]

    # A text-generation page keeps /generate (its own command), with no Run button.
    gpt2 = await hub_bot.run("/search model:gpt2")
    assert isinstance(gpt2, Card) and "Run" not in [b.label for b in gpt2.buttons]
    assert gpt2.footer == "Try it: /generate model:gpt2"


async def test_where_the_guard_refuses_the_page_says_why_and_offers_no_run(
    tmp_path: Path, clock: FakeClock, translators: HubStub
) -> None:
    async with search_bot(tmp_path, clock) as bot:
        # Recorded in 2023, before the Hub listed safetensors weights.
        t5 = await bot.run("/search model:t5-small")
        assert isinstance(t5, Card) and t5.footer is not None
        first = t5.footer.splitlines()[0]
        assert first.startswith("/run can't run it here: t5-small has no safetensors weights")
        assert "Run" not in [b.label for b in t5.buttons]
        big = await bot.run("/search model:classbot-test/sentiment-xxl")
        assert isinstance(big, Card) and big.footer is not None
        assert "sentiment-xxl has 5B parameters; the limit here is" in big.footer
        assert "hosted inference" not in big.footer  # no token here: nobody asked
        # A task no command runs: the page names the tasks the bot does.
        depth = await bot.run("/search model:Intel/dpt-large")
        assert isinstance(depth, Card) and depth.footer is not None
        assert "the Hub lists this one as depth-estimation" in depth.footer
        assert "translation" in depth.footer and "image-classification" in depth.footer
        assert "Run" not in [b.label for b in depth.buttons]

    # Off the class's list: the way on is the class's model for the page's task.
    async with search_bot(tmp_path / "listed", clock, model_allowlist="deepset/*") as bot:
        bert = await bot.run("/search model:google-bert/bert-base-uncased")
        assert isinstance(bert, Card) and bert.footer is not None
        default = bot.app.services.settings.fill_mask_model
        assert f"is not on this class's list of models. You can use: {default}," in bert.footer


async def test_translation_languages_come_from_the_card_and_the_name(
    tmp_path: Path, clock: FakeClock, translators: HubStub
) -> None:
    async with search_bot(tmp_path, clock) as bot:
        page = await bot.run("/search model:classbot-test/m2m-small")
        assert isinstance(page, Card) and page.buttons[0].label == "Run"
        form = await bot.run(page.buttons[0].action)
        assert isinstance(form, Modal)
        assert [(f.name, f.placeholder) for f in form.fields[1:]] == [
            ("source", "one of: en, fr, de"),
            ("target", "one of: en, fr, de"),
        ]
        unknown = await bot.run("/run model:classbot-test/m2m-small Hello source:en target:ro")
        assert isinstance(unknown, Error)
        assert unknown.what == "m2m-small does not know ro; it knows: en, fr, de."
        assert unknown.todo == "Use codes it knows, e.g. source:en target:fr."

        # A single pair (its name says which): no language fields, another pair refused.
        pair = await bot.run("/run model:classbot-test/opus-mt-en-fr")
        assert isinstance(pair, Modal) and [f.name for f in pair.fields] == ["input"]
        wrong = await bot.run("/run model:classbot-test/opus-mt-en-fr Hallo source:de")
        assert isinstance(wrong, Error)
        assert wrong.what == "opus-mt-en-fr translates only from en to fr."
        other = await bot.run("/run model:classbot-test/opus-mt-en-fr Hello target:fra")
        assert not isinstance(other, Error), as_plain_text(other)


async def test_a_list_marks_the_models_that_run_here_from_the_listing_alone(
    hub_bot: BotDriver, fresh_hub_stub: HubStub
) -> None:
    fresh_hub_stub.reset()
    listed = await hub_bot.run("/search task:text-classification limit:5")
    assert isinstance(listed, Table)
    assert listed.columns[-1] == "runs here"
    marks = {row[1]: row[-1] for row in listed.rows}
    assert marks[SST2] == "✓"  # transformers, safetensors, 67M: within the cap
    # The others were recorded before the Hub listed safetensors weights: no weights to load.
    assert set(marks.values()) == {"✓", "✗"} and list(marks.values()).count("✓") == 1
    assert listed.footer is not None and "Runs here: ✓ yes · ✗ no" in listed.footer
    # One listing request, none per row.
    assert fresh_hub_stub.count("/api/models") == 1
    assert fresh_hub_stub.count("/api/models/") == 0

    # A diffusers pipeline's size is the sum of its files, which a listing does not give.
    images = await hub_bot.run("/search task:text-to-image limit:3")
    assert isinstance(images, Table) and {row[-1] for row in images.rows} == {"?"}
    generation = await hub_bot.run("/search task:text-generation sort:likes limit:5")
    assert isinstance(generation, Table)
    assert {row[-1] for row in generation.rows if row[1] == "gpt2"} == {"✓"}


async def test_a_smaller_cap_and_the_class_lists_change_the_marks(
    tmp_path: Path, clock: FakeClock, fresh_hub_stub: HubStub
) -> None:
    async with search_bot(tmp_path, clock, max_model_params=50_000_000) as bot:
        listed = await bot.run("/search task:text-classification limit:5")
        assert isinstance(listed, Table)
        assert {row[-1] for row in listed.rows} == {"✗"}  # 67M is over 50M
    async with search_bot(tmp_path / "b", clock, model_denylist=SST2) as bot:
        listed = await bot.run("/search task:text-classification limit:5")
        assert isinstance(listed, Table) and {row[-1] for row in listed.rows} == {"✗"}
