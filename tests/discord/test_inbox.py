"""The Discord inbox: durable interactions are saved before the first response, marked done
once answered, and replayed after a restart (login) through the outbox."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from adapters.discord.client import FIRST_REPLY_BUDGET
from bot.inbox import ACCEPT_PATIENCE_S
from bot.store.models import InboxEntry, Submission
from tests.discord.conftest import INSTRUCTOR_ID, DiscordBot, discord_bot_for, user
from tests.discord.rest_stub import CHANNEL_ID, DiscordRestStub
from tests.support.botdriver import FakeClock

MANAGE_GUILD = 1 << 5


async def _post(bot: DiscordBot) -> None:
    await bot.interact(
        bot.slash(
            "activity",
            "post",
            title="Cards",
            minutes=30,
            prompt="What is in a model card?",
            who=user(INSTRUCTOR_ID, "bea"),
            permissions=MANAGE_GUILD,
        )
    )


async def _rows(bot: DiscordBot, model: Any) -> list[Any]:
    async with bot.app.services.store.session() as session:
        return list(await session.scalars(select(model).order_by(model.id)))


async def test_a_durable_slash_command_is_saved_and_marked_done(discord_bot: DiscordBot) -> None:
    await _post(discord_bot)
    await discord_bot.interact(discord_bot.slash("activity", "submit", answer="the license", id=1))
    await discord_bot.interact(discord_bot.slash("help"))
    await discord_bot.app.services.store.close()  # writes the grouped done marks
    entries = await _rows(discord_bot, InboxEntry)
    assert [e.command for e in entries] == ["activity post", "activity submit"]
    assert all(e.request_id.startswith("interaction:") for e in entries)
    assert all(e.done_at is not None for e in entries)
    assert entries[0].invocation["actor"]["role"] == "instructor"


async def test_an_interaction_saved_before_a_crash_is_answered_after_the_restart(
    tmp_path: Path, clock: FakeClock, stub: DiscordRestStub
) -> None:
    async with discord_bot_for(tmp_path, clock, stub) as bot:
        await _post(bot)

        async def crash(interaction: Any, replies: Any) -> None:
            # Saved, then the process died before answering: nothing after this runs.
            await replies.aclose()
            bot.client.answered += 1
            raise asyncio.CancelledError

        bot.client.answer = crash  # type: ignore[method-assign]
        await bot.interact(bot.slash("activity", "submit", answer="before the crash", id=1))
        assert await _rows(bot, Submission) == []
    stub.clear()

    async with discord_bot_for(tmp_path, clock, stub) as bot:
        replaying = bot.client._replaying
        assert replaying is not None
        assert await replaying == 1
        (saved,) = await _rows(bot, Submission)
        assert saved.answer == "before the crash"
        # The answer goes to the interaction saved with the command (its token lives 15 min).
        sent = json.dumps(stub.bodies())
        assert "Saved your answer to #1" in sent
        await bot.app.services.store.close()
        assert await bot.client.inbox.pending("discord") == []


async def test_a_slow_save_still_leaves_time_to_answer_inside_three_seconds(
    discord_bot: DiscordBot,
) -> None:
    # The inbox's own patience (2 s) is Slack's, which acknowledges first; Discord then
    # waits up to FIRST_REPLY_BUDGET for the first reply before it defers.
    waited: list[float] = []
    accept = discord_bot.client.inbox.accept

    async def timed(*args: Any, **kwargs: Any) -> Any:
        waited.append(kwargs.get("patience", ACCEPT_PATIENCE_S))
        return await accept(*args, **kwargs)

    discord_bot.client.inbox.accept = timed  # type: ignore[method-assign]
    await _post(discord_bot)
    (patience,) = waited
    assert patience + FIRST_REPLY_BUDGET <= 2.0  # a second to spare for the gateway


async def test_an_answer_typed_in_a_thread_of_the_class_channel_is_taken(
    discord_bot: DiscordBot,
) -> None:
    # Classes discuss in threads: an answer there, without id:, is the channel's activity's.
    await _post(discord_bot)
    thread = 1300000000000000042
    await discord_bot.interact(
        discord_bot.slash("activity", "submit", answer="from the thread", thread=thread)
    )
    (saved,) = await _rows(discord_bot, Submission)
    assert saved.answer == "from the thread"
    (entry,) = [e for e in await _rows(discord_bot, InboxEntry) if e.command == "activity submit"]
    assert entry.invocation["actor"]["channel_id"] == str(thread)
    assert entry.invocation["actor"]["parent_channel_id"] == str(CHANNEL_ID)
