"""A command with verbs on Discord: one flat command; the verb comes from the free text."""

from __future__ import annotations

import json

from tests.discord.conftest import INSTRUCTOR_ID, DiscordBot, user
from tests.discord.rest_stub import APP_ID

MANAGE_GUILD = 1 << 5  # an instructor on Discord
ORIGINAL = rf"/webhooks/{APP_ID}/[^/]+/messages/@original"


def answer_text(bot: DiscordBot) -> str:
    (edit,) = bot.stub.find("PATCH", ORIGINAL)
    return json.dumps(edit.json, ensure_ascii=False)


async def test_a_verb_in_the_free_text_runs_with_its_role_check(discord_bot: DiscordBot) -> None:
    await discord_bot.interact(discord_bot.slash("search", text="guess reveal", round=3))
    assert "/search guess reveal is for instructors." in answer_text(discord_bot)


async def test_a_verb_option_alone_says_which_verb_takes_it(discord_bot: DiscordBot) -> None:
    await discord_bot.interact(discord_bot.slash("search", answer="summarization"))
    assert "answer: goes with /search guess." in answer_text(discord_bot)


async def test_an_instructor_reaches_the_verb(discord_bot: DiscordBot) -> None:
    payload = discord_bot.slash(
        "search", text="guess reveal", who=user(INSTRUCTOR_ID, "bea"), permissions=MANAGE_GUILD
    )
    await discord_bot.interact(payload)
    # Past the role check: the verb itself answers (no round is open in this channel).
    assert "No round is open here." in answer_text(discord_bot)
