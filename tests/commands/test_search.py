"""/search against the Hub stand-in: lists, model details, faults, the cache."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.delivery import Member
from bot.identity import Actor, Role
from bot.replies import Button, Card, Error, Reply, Table, Text, as_plain_text
from bot.store.models import UsageEvent
from tests.support.botdriver import BotDriver, FakeClock
from tests.support.cli import run_classbot
from tests.support.hub_catalog import DELETED_MODELS, HUBDATA_DIR, jsonl_rows
from tests.support.hub_stub import HubStub


def recorded_models() -> dict[str, dict[str, Any]]:
    """What the recorded files say about each model: models.jsonl, then the newer recordings
    (model_info/, model_lists/) whose fields win, with the deleted repo under its new id."""
    models = {}
    for row in jsonl_rows(HUBDATA_DIR, "models.jsonl"):
        models[row["id"]] = {k: row.get(k) for k in ("pipeline_tag", "likes", "downloads")}
    for path in sorted((HUBDATA_DIR / "model_info").glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))["body"]
        if "pipeline_tag" in body:
            name = body["id"].rsplit("/", 1)[-1]
            base = models.pop(name, None) if name != body["id"] else None
            merged = {**(base or {}), **models.get(body["id"], {})}
            merged.update({k: body[k] for k in ("pipeline_tag", "likes", "downloads") if k in body})
            models[body["id"]] = merged
    for path in sorted((HUBDATA_DIR / "model_lists").glob("*.json")):
        for item in json.loads(path.read_text(encoding="utf-8")):
            models.setdefault(item["id"], {}).update(
                {k: item[k] for k in ("pipeline_tag", "likes", "downloads") if k in item}
            )
    for old, new in DELETED_MODELS.items():
        models[new] = models.pop(old)
    return models


async def test_most_liked_text_generation_models_in_order(
    hub_bot: BotDriver, fresh_hub_stub: HubStub
) -> None:
    generation = [
        (m, r) for m, r in recorded_models().items() if r.get("pipeline_tag") == "text-generation"
    ]
    expected = [m for m, _ in sorted(generation, key=lambda item: -item[1]["likes"])[:5]]

    reply = await hub_bot.run("/search task:text-generation sort:likes limit:5")

    assert isinstance(reply, Table)
    assert [row[1] for row in reply.rows] == expected
    assert [row[0] for row in reply.rows] == ["1", "2", "3", "4", "5"]
    likes = [int(row[4].replace(",", "")) for row in reply.rows]
    assert likes == sorted(likes, reverse=True)
    assert {row[2] for row in reply.rows} == {"text-generation"}
    gpt2 = next(row for row in reply.rows if row[1] == "gpt2")
    assert gpt2[5] == "137M" and gpt2[6] == "mit"
    assert fresh_hub_stub.count("/api/models") == 1


async def test_more_button_shows_the_next_page(hub_bot: BotDriver) -> None:
    first = await hub_bot.run("/search task:text-generation sort:likes limit:5")
    assert isinstance(first, Table)
    # The answer is private by default: Share posts it to the channel.
    more, chart, share = first.buttons
    assert share.label == "Share" and first.private
    assert more == Button(
        label="More", action="/search task:text-generation sort:likes limit:5 page:2"
    )
    assert chart.action == "/search task:text-generation sort:likes limit:5 page:1 chart:true"
    second = await hub_bot.run(more.action)
    assert isinstance(second, Table)
    assert [row[0] for row in second.rows] == ["6", "7", "8", "9", "10"]
    assert not {row[1] for row in second.rows} & {row[1] for row in first.rows}


async def test_words_search_names_and_spaces_mean_hyphens(hub_bot: BotDriver) -> None:
    reply = await hub_bot.run("/search gpt neo sort:likes")
    assert isinstance(reply, Table)
    assert reply.rows and all("gpt-neo" in row[1].lower() for row in reply.rows)
    assert "EleutherAI/gpt-neo-125M" in {row[1] for row in reply.rows}
    # Words in quotes are the same search: the quotes are not part of any name.
    quoted = await hub_bot.run('/search "gpt neo" sort:likes')
    assert isinstance(quoted, Table) and quoted.rows == reply.rows


async def test_a_misspelled_task_gets_a_suggestion(hub_bot: BotDriver) -> None:
    reply = await hub_bot.run("/search task:text-genration")
    assert isinstance(reply, Error)
    assert "task:text-generation" in reply.todo


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("sentiment", "text-classification"),  # spelled like sentence-similarity
        ("sentiment-analysis", "text-classification"),
        ("ner", "token-classification"),
        ('"speech to text"', "automatic-speech-recognition"),  # the lesson's words for Wav2Vec
        ("image", "image-classification"),
        ('"image captioning"', "image-to-text"),
    ],
)
async def test_a_task_in_a_students_words_gets_the_hubs_name(
    hub_bot: BotDriver, typed: str, meant: str
) -> None:
    reply = await hub_bot.run(f"/search task:{typed}")
    assert isinstance(reply, Error)
    assert reply.todo.startswith(f"Did you mean task:{meant}?")


async def test_a_task_typed_as_words_is_that_task(hub_bot: BotDriver) -> None:
    wanted = await hub_bot.run("/search bert task:text-classification")
    assert isinstance(wanted, Table) and wanted.rows
    for typed in ("/search task:Text Classification bert", "/search bert task:text classification"):
        reply = await hub_bot.run(typed)
        assert isinstance(reply, Table)
        assert (reply.title, reply.rows) == (wanted.title, wanted.rows)


async def test_gpt2_details(hub_bot: BotDriver) -> None:
    reply = await hub_bot.run("/search model:gpt2")
    assert isinstance(reply, Card)
    text = as_plain_text(reply)
    assert reply.url == "https://huggingface.co/gpt2"
    assert "Parameters: 137M (137,022,720)" in text
    assert "MIT: permissive open source" in text and "Commercial use: yes" in text
    assert "Task: text-generation" in text and "Author: openai-community" in text
    assert "Downloads (30 days): 17,272,637" in text
    assert "✓ Limitations and biases" in text
    assert "✗ Environmental impact" in text
    assert "Gated: no" in text
    assert reply.footer == "Try it: /generate model:gpt2"

    async with hub_bot.app.services.store.session() as session:
        events = (await session.scalars(select(UsageEvent))).all()
    assert [(e.command, e.model_id, e.model_params) for e in events] == [
        ("search", "gpt2", 137_022_720)
    ]


async def test_a_pasted_model_address_opens_the_model(hub_bot: BotDriver) -> None:
    # The lesson links the model's page; students paste what their browser shows.
    typed = await hub_bot.run("/search model:EleutherAI/gpt-neo-125M")
    for line in (
        "/search https://huggingface.co/EleutherAI/gpt-neo-125M",
        "/search model:https://huggingface.co/EleutherAI/gpt-neo-125M/tree/main",
    ):
        pasted = await hub_bot.run(line)
        assert isinstance(pasted, Card) and isinstance(typed, Card)
        assert (pasted.title, pasted.description) == (typed.title, typed.description)
    space = await hub_bot.run("/search model:https://huggingface.co/spaces/openai/whisper")
    assert isinstance(space, Error)
    assert (
        space.what
        == "model: https://huggingface.co/spaces/openai/whisper is a Space's (an app) page."
    )
    assert space.todo.startswith("Copy the address of the model's page")
    dataset = await hub_bot.run("/search https://huggingface.co/datasets/imdb")
    assert isinstance(dataset, Error) and dataset.todo == "Open it with /dataset id:imdb."


async def test_the_address_of_the_models_list_shows_that_list(hub_bot: BotDriver) -> None:
    # The lesson: "go back to the models page, choose a task, filter by most likes".
    typed = await hub_bot.run("/search task:text-classification sort:likes limit:5")
    pasted = await hub_bot.run(
        "/search https://huggingface.co/models?pipeline_tag=text-classification&sort=likes limit:5"
    )
    assert isinstance(pasted, Table) and isinstance(typed, Table)
    assert pasted.title == typed.title == "Models (text-classification), most liked"
    assert pasted.rows == typed.rows and len(pasted.rows) == 5


async def test_an_option_typed_among_the_words_is_answered_as_one(
    hub_bot: BotDriver, fresh_hub_stub: HubStub
) -> None:
    # No Hub name holds a colon: searching for "bert-license:mit" would only find nothing.
    before = fresh_hub_stub.count()
    cases = {
        "/search bert license:mit": "Unknown option license:.",
        "/search id:gpt2": "Unknown option id:. Did you mean model:?",  # /dataset's word
        "/dataset model:imdb": "Unknown option model:. Did you mean id:?",
        "/search gpt neo sortby:likes": "Unknown option sortby:. Did you mean sort:?",
    }
    for line, what in cases.items():
        reply = await hub_bot.run(line)
        assert isinstance(reply, Error) and reply.what == what, line
    # A space after the colon (which elsewhere makes `Answer: Paris` prose).
    for line, todo in {
        "/search model: gpt2": "Write model:gpt2 with no space after the colon.",
        "/search model:": "Write model:<value> with no space after the colon.",
        "/dataset id: imdb": "Write id:imdb with no space after the colon.",
    }.items():
        reply = await hub_bot.run(line)
        assert isinstance(reply, Error) and reply.todo == todo, line
    assert fresh_hub_stub.count() == before  # the Hub was not asked


async def test_an_id_typed_with_spaces_is_not_cut_silently(
    hub_bot: BotDriver, fresh_hub_stub: HubStub
) -> None:
    before = fresh_hub_stub.count()
    reply = await hub_bot.run("/search model:google-bert / bert-base-uncased")
    assert isinstance(reply, Error)
    assert reply.what.startswith("model:google-bert is followed by more words")
    assert reply.todo.endswith("/search google-bert / bert-base-uncased")
    refused = await hub_bot.run("/dataset id:rotten tomatoes")
    assert isinstance(refused, Error) and refused.todo.endswith("/dataset rotten tomatoes")
    assert fresh_hub_stub.count() == before  # the Hub was not asked


async def test_every_license_of_a_card_is_shown(hub_bot: BotDriver) -> None:
    card = await hub_bot.run("/search model:pszemraj/flan-t5-large-grammar-synthesis")
    licenses = field(card, "Licenses").splitlines()
    assert licenses[0].startswith("CC-BY-NC-SA-4.0: no commercial use")
    assert any(line.startswith("Apache-2.0: permissive") for line in licenses)


async def test_gpt_neo_details_from_its_real_card(hub_bot: BotDriver) -> None:
    text = as_plain_text(await hub_bot.run("/search model:EleutherAI/gpt-neo-125M"))
    assert "MIT: permissive open source" in text
    assert "Training data: the_pile" in text
    assert "Languages: en" in text
    for line in (
        "✓ Description / overview",
        "✓ How to use it",
        "✓ Limitations and biases",
        "✓ Training data and procedure",
        "⚠ Evaluation results: placeholder “TBD”",
        "✗ Environmental impact",
        "✓ Citation",
    ):
        assert line in text


async def test_renamed_deleted_gated_and_diffusers_models(hub_bot: BotDriver) -> None:
    bert = await hub_bot.run("/search model:bert-base-uncased")
    assert isinstance(bert, Card) and bert.title == "google-bert/bert-base-uncased"
    assert "bert-base-uncased is now google-bert/bert-base-uncased" in bert.description

    deleted = await hub_bot.run("/search model:runwayml/stable-diffusion-v1-5")
    assert isinstance(deleted, Error)
    assert "no public model called runwayml/stable-diffusion-v1-5" in deleted.what
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in deleted.todo

    llama = as_plain_text(await hub_bot.run("/search model:meta-llama/Llama-3.1-8B-Instruct"))
    assert "Gated: yes: the authors approve each request by hand" in llama
    assert "Llama 3.1 Community License" in llama

    # The recorded answer lists no files, so the guard (and /imagine) would refuse it: the
    # page says why instead of offering /imagine.
    sd = await hub_bot.run("/search model:stable-diffusion-v1-5/stable-diffusion-v1-5")
    assert isinstance(sd, Card) and sd.footer is not None
    assert sd.footer.startswith("/imagine can't run it here: ")
    assert "no model_index.json" in sd.footer and "Try it: /imagine" not in sd.footer
    text = as_plain_text(sd)
    assert "Parameters: not published: a diffusers pipeline" in text
    assert "https://arxiv.org/abs/2112.10752" in text
    assert "CreativeML OpenRAIL-M" in text

    typo = await hub_bot.run("/search model:EleutherAI/gpt-neo-125m")
    assert isinstance(typo, Error) and "EleutherAI/gpt-neo-125M" in typo.todo

    bad = await hub_bot.run('/search model:"gpt neo"')
    assert isinstance(bad, Error) and bad.what.startswith("“gpt neo” is not a model id")


async def test_a_model_without_a_card(hub_bot: BotDriver, fresh_hub_stub: HubStub) -> None:
    fresh_hub_stub.inject("/gpt2/resolve/main/README.md", status=404)
    text = as_plain_text(await hub_bot.run("/search model:gpt2"))
    assert "This model has no card" in text
    assert "Parameters: 137M (137,022,720)" in text


async def test_autocomplete_tasks_and_models_from_cached_searches(
    hub_bot: BotDriver, fresh_hub_stub: HubStub
) -> None:
    router = hub_bot.app.router
    assert "text-generation" in await router.complete(("search",), "task", "text-gen")
    assert await router.complete(("search",), "answer", "summ") == ["summarization"]
    await hub_bot.run("/search gpt-neo")
    before = fresh_hub_stub.count("/api/models")
    models = await router.complete(("search",), "model", "gpt-neo-1")
    assert "EleutherAI/gpt-neo-125M" in models
    assert fresh_hub_stub.count("/api/models") == before  # answered from what was seen


# -- the Hub misbehaving -----------------------------------------------------------------------
async def test_a_500_is_a_clear_error_after_one_request(
    hub_bot: BotDriver, fresh_hub_stub: HubStub
) -> None:
    fresh_hub_stub.inject("/api/models", status=500, times=10)
    reply = await hub_bot.run("/search gpt")
    assert isinstance(reply, Error)
    assert reply.what == "The Hugging Face Hub had a problem (error 500)."
    assert "not something you typed" in reply.todo
    assert fresh_hub_stub.count("/api/models") == 1  # no retry loop while the student waits


async def test_429_says_when_to_try_again(hub_bot: BotDriver, fresh_hub_stub: HubStub) -> None:
    fresh_hub_stub.inject("/api/models", retry_after=30)
    started = time.perf_counter()
    reply = await hub_bot.run("/search gpt")
    assert time.perf_counter() - started < 5  # not sleeping out the 30 s
    assert isinstance(reply, Error)
    assert "too many requests" in reply.what
    assert reply.todo == "Try again in 30 s."


async def test_garbage_and_timeouts_are_clear(hub_bot: BotDriver, fresh_hub_stub: HubStub) -> None:
    fresh_hub_stub.inject("/api/models/gpt2", garbage=True)
    reply = await hub_bot.run("/search model:gpt2")
    assert isinstance(reply, Error) and "could not read" in reply.what

    hub_bot.app.services.hub.timeout = 0.3  # type: ignore[union-attr]
    fresh_hub_stub.inject("/api/models/gpt2", delay=0.8)
    reply = await hub_bot.run("/search model:gpt2")
    assert isinstance(reply, Error) and reply.what == "The Hugging Face Hub did not answer in time."
    # The stand-in logs the slow request when it ends: let it, so no later test counts it.
    deadline = time.monotonic() + 5
    while fresh_hub_stub.count("/api/models/gpt2") < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def test_same_search_is_cached_then_served_stale_when_the_hub_fails(
    hub_bot: BotDriver, fresh_hub_stub: HubStub, clock: FakeClock
) -> None:
    fresh = await hub_bot.run("/search task:summarization")
    again = await hub_bot.run("/search task:summarization", user="someone-else")
    assert isinstance(fresh, Table) and isinstance(again, Table)
    assert again.rows == fresh.rows
    assert fresh_hub_stub.count("/api/models") == 1

    clock.advance(minutes=12)  # past the 5-minute TTL
    fresh_hub_stub.inject("/api/models", status=503)
    stale = await hub_bot.run("/search task:summarization")
    assert isinstance(stale, Table)
    assert stale.rows == fresh.rows
    assert stale.footer is not None
    assert stale.footer.startswith("(cached 12 min ago — the Hub is not answering)")

    fresh_hub_stub.inject("/api/models/gpt2", status=500)  # never fetched: nothing to fall back on
    assert isinstance(await hub_bot.run("/search model:gpt2"), Error)
    await hub_bot.run("/search model:gpt2")
    clock.advance(minutes=6)
    fresh_hub_stub.inject("/api/models/gpt2", status=500)
    details = await hub_bot.run("/search model:gpt2")
    assert isinstance(details, Card)
    assert "(cached 6 min ago — the Hub is not answering)" in details.description


# -- the guess game ----------------------------------------------------------------------------
async def play(
    bot: BotDriver, line: str, user: str, *, channel: str = "console", teacher: bool = False
) -> list[Reply]:
    actor = Actor(
        platform="console",
        user_id=user,
        display_name=user,
        role=Role.INSTRUCTOR if teacher else Role.STUDENT,
        guild_id="console",
        channel_id=channel,
    )
    return [reply async for reply in bot.app.router.run_line(line, actor)]


def round_of(card: Reply, hub: HubStub) -> tuple[int, str, str]:
    """(round id, model id, the right task) of a round card, the task from the Hub's data."""
    assert isinstance(card, Card), card
    round_id = int(card.title.rsplit(" ", 1)[-1])
    model_id = card.description.split("What does ", 1)[1].split(" do?", 1)[0]
    return round_id, model_id, hub.data.models.records[model_id]["pipeline_tag"]


def field(card: Reply, name: str) -> str:
    assert isinstance(card, Card), card
    return next(f.value for f in card.fields if f.name == name)


async def test_guess_round_trip_and_scores_per_channel(
    hub_bot: BotDriver, fresh_hub_stub: HubStub
) -> None:
    (card,) = await play(hub_bot, "/search guess", "teacher", teacher=True)
    round_id, model_id, task = round_of(card, fresh_hub_stub)
    assert isinstance(card, Card) and len(card.buttons) == 4
    labels = [b.label for b in card.buttons]
    assert task in labels and len(set(labels)) == 4
    right = next(b for b in card.buttons if b.label == task)
    assert right.action == f"/search guess answer:{task} round:{round_id}"
    wrong = next(label for label in labels if label != task)

    (ok,) = await play(hub_bot, right.action, "alice")  # a click runs the button's action
    assert isinstance(ok, Text) and ok.private and task in ok.text
    (ok,) = await play(hub_bot, f"/search guess answer:{wrong}", "bob")  # typed
    assert isinstance(ok, Text) and "2 answered so far" in ok.text
    (twice,) = await play(hub_bot, f"/search guess answer:{wrong} round:{round_id}", "alice")
    assert isinstance(twice, Error) and "already answered" in twice.what
    (shown,) = await play(hub_bot, "/search guess", "carol")
    assert isinstance(shown, Card) and shown.buttons == card.buttons  # the same open round
    (denied,) = await play(hub_bot, "/search guess reveal", "alice")
    assert isinstance(denied, Error) and "instructor" in denied.what

    (reveal,) = await play(hub_bot, "/search guess reveal", "teacher", teacher=True)
    assert isinstance(reveal, Card) and reveal.title == f"Round {round_id}: {model_id}"
    record = fresh_hub_stub.data.models.records[model_id]
    assert reveal.description.startswith(f"It does {task}:")
    assert field(reveal, "Downloads (30 days)") == f"{record['downloads']:,}"
    assert field(reveal, "Likes") == f"{record['likes']:,}"
    assert field(reveal, "Right") == "alice"
    assert field(reveal, "Answers") == f"✓ {task}: 1\n✗ {wrong}: 1"
    assert field(reveal, "Channel score") == "1. alice: 1 right of 1\n2. bob: 0 right of 1"
    (late,) = await play(hub_bot, right.action, "carol")
    assert isinstance(late, Error) and f"Round {round_id} is over" in late.what

    # Another channel: its own rounds, its own score; a round id from elsewhere is not found.
    (card2,) = await play(hub_bot, "/search guess", "dave", channel="room-2")
    round2, _, task2 = round_of(card2, fresh_hub_stub)
    assert round2 != round_id
    (elsewhere,) = await play(hub_bot, right.action, "dave", channel="room-2")
    assert isinstance(elsewhere, Error) and f"no round {round_id} here" in elsewhere.what
    await play(hub_bot, f"/search guess answer:{task2}", "dave", channel="room-2")
    (reveal2,) = await play(hub_bot, "/search guess reveal", "t", channel="room-2", teacher=True)
    assert field(reveal2, "Channel score") == "1. dave: 1 right of 1"

    (card3,) = await play(hub_bot, "/search guess", "teacher", teacher=True)
    assert round_of(card3, fresh_hub_stub)[1] != model_id  # a model not played here yet
    (reveal3,) = await play(hub_bot, "/search guess reveal", "teacher", teacher=True)
    assert field(reveal3, "Answers") == "nobody answered"
    assert field(reveal3, "Channel score") == "1. alice: 1 right of 1\n2. bob: 0 right of 1"


class Roster:
    def __init__(self, *students: str) -> None:
        self.members = [Member(user_id=s, display_name=s) for s in students]

    async def students(self, guild_id: str, channel_id: str) -> list[Member] | None:
        return self.members


async def test_a_round_reveals_itself_once_every_student_answered(
    hub_bot: BotDriver, fresh_hub_stub: HubStub
) -> None:
    hub_bot.app.services.rosters["console"] = Roster("alice", "bob")
    (card,) = await play(hub_bot, "/search guess", "alice")
    _, _, task = round_of(card, fresh_hub_stub)
    first = await play(hub_bot, f"/search guess answer:{task}", "alice")
    assert [type(r) for r in first] == [Text]
    typed = task.replace("-", " ").title()  # "Text Generation" is understood too
    second = await play(hub_bot, f"/search guess {typed}", "bob")
    assert [type(r) for r in second] == [Text, Card]
    assert field(second[1], "Right") == "alice, bob"


async def test_unknown_guess_answers_get_help(hub_bot: BotDriver) -> None:
    (nothing,) = await play(hub_bot, "/search guess answer:summarization", "alice")
    assert isinstance(nothing, Error) and "No round is open" in nothing.what
    await play(hub_bot, "/search guess", "alice")
    (typo,) = await play(hub_bot, "/search guess answer:sumarization", "alice")
    assert isinstance(typo, Error) and "Did you mean summarization?" in typo.todo
    # The hint names no other task: it could give the round away.
    (word,) = await play(hub_bot, "/search guess answer:sentiment", "alice")
    assert isinstance(word, Error)
    assert word.todo == (
        "Did you mean text-classification? Click one of the round's buttons, or type a task"
        " as the Hub names it."
    )
    (spaced,) = await play(hub_bot, "/search guess answer:Summarization Task", "alice")
    assert isinstance(spaced, Error) and "Summarization" in spaced.what


# -- the real console, in a subprocess ---------------------------------------------------------
def test_the_console_searches_the_stand_in(tmp_path: Path, fresh_hub_stub: HubStub) -> None:
    env = {
        **os.environ,  # HF_ENDPOINT and HF_HUB_* point at the stand-in (hub_stub fixture)
        "HF_ENDPOINT": fresh_hub_stub.url,
        "CLASSBOT_DATASETS_SERVER_URL": fresh_hub_stub.viewer_url,
        "CLASSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}",
    }
    lines = [
        "/search task:text-generation sort:likes limit:5",
        "/search model:gpt2",
        "/dataset id:imdb",
        "/dataset id:imdb preview:true rows:2",
    ]
    result = run_classbot(
        "console",
        input="\n".join(lines) + "\n",
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "== Models (text-generation), most liked ==" in out
    assert "Parameters: 137M (137,022,720)" in out
    assert "⚠ Discussion of Biases: placeholder" in out
    assert "plain_text/train: first 2 rows" in out
    assert fresh_hub_stub.count("/api/models/gpt2") == 1
    assert fresh_hub_stub.count("/datasets-server/first-rows") == 1
