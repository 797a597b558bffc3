"""Quiet channels on Discord: exploration answers are ephemeral with a Share button whose
click posts the same answer publicly; a job's late result is ephemeral too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.commands.classroom import COMMAND as CLASS
from bot.commands.share import COMMAND as SHARE
from bot.delivery import Destination
from bot.replies import Card, Reply
from bot.router import Command, Context
from tests.discord.conftest import INSTRUCTOR_ID, DiscordBot, discord_bot_for, user
from tests.discord.rest_stub import APP_ID, DiscordRestStub
from tests.support.botdriver import FakeClock

CALLBACK = r"/interactions/\d+/[^/]+/callback"
ORIGINAL = rf"/webhooks/{APP_ID}/[^/]+/messages/@original"
FOLLOWUP = rf"/webhooks/{APP_ID}/[^/]+$"
EPHEMERAL = 64
LATER: list[Destination] = []


async def explore(ctx: Context) -> Reply:
    """Looks a model up (a test exploration command)."""
    LATER.append(ctx.destination)
    return Card(title="gpt2", description="137M parameters", footer="from the Hub")


COMMANDS = [Command(name="explore", handler=explore, exploration=True), SHARE, CLASS]


@pytest.fixture
async def quiet_bot(
    tmp_path: Path, clock: FakeClock, stub: DiscordRestStub
) -> AsyncIterator[DiscordBot]:
    LATER.clear()
    async with discord_bot_for(tmp_path, clock, stub, commands=COMMANDS) as bot:
        yield bot


def _buttons(request_json: dict[str, object]) -> list[tuple[str, str]]:
    rows = request_json.get("components") or []
    assert isinstance(rows, list)
    return [(b["label"], b["custom_id"]) for row in rows for b in row["components"]]


async def test_an_exploration_answer_is_ephemeral_and_share_posts_it(quiet_bot: DiscordBot) -> None:
    bot = quiet_bot
    await bot.interact(bot.slash("explore"))
    (defer,) = bot.stub.find("POST", CALLBACK)
    assert defer.json == {"type": 5, "data": {"flags": EPHEMERAL}}
    (edit,) = bot.stub.find("PATCH", ORIGINAL)
    assert edit.json["embeds"][0]["title"] == "gpt2"
    ((label, action),) = _buttons(edit.json)
    assert label == "Share" and action.startswith("/share id:")

    message = bot.stub.messages[bot.stub.original[next(iter(bot.stub.original))]]
    bot.stub.clear()
    await bot.interact(bot.click(message, action))
    (defer,) = bot.stub.find("POST", CALLBACK)
    assert defer.json == {"type": 5}  # public: the channel sees it
    (shared,) = bot.stub.find("PATCH", ORIGINAL)
    embed = shared.json["embeds"][0]
    assert embed["title"] == "gpt2" and embed["description"] == "137M parameters"
    assert embed["footer"]["text"] == "Shared by Ana · from the Hub"
    assert _buttons(shared.json) == []


async def test_public_replies_class_setting(quiet_bot: DiscordBot) -> None:
    bot = quiet_bot
    teacher = user(INSTRUCTOR_ID, "bea")
    await bot.interact(bot.slash("class", replies="public", who=teacher, permissions=8))
    bot.stub.clear()
    await bot.interact(bot.slash("explore"))
    (defer,) = bot.stub.find("POST", CALLBACK)
    assert defer.json == {"type": 5}
    (edit,) = bot.stub.find("PATCH", ORIGINAL)
    assert edit.json["embeds"][0]["title"] == "gpt2" and _buttons(edit.json) == []


async def test_a_late_job_result_is_ephemeral_with_share(quiet_bot: DiscordBot) -> None:
    bot = quiet_bot
    await bot.interact(bot.slash("explore"))
    (destination,) = LATER
    bot.stub.clear()
    outbox = bot.app.services.outboxes["discord"]
    await outbox.send(destination, Card(title="Once upon a time…"), key="job:5")
    (followup,) = bot.stub.find("POST", FOLLOWUP)
    assert followup.json["flags"] == EPHEMERAL
    assert _buttons(followup.json) == [("Share", "/share job:5")]
