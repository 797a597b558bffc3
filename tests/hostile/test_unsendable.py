"""Code points that no reply or database can carry (lone UTF-16 surrogates, NUL) are shown as
U+FFFD wherever typed text enters: a typed line, or a value from a platform's own form."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from bot.commandline import REPLACEMENT, sendable
from bot.identity import Actor, Role
from bot.replies import Card, Error, Text
from bot.router import Invocation
from bot.store.models import Submission
from tests.activity.conftest import post
from tests.support.botdriver import BotDriver

FREE_TEXT = Path(__file__).parents[1] / "activity" / "data" / "free_text_corpus.json"


def test_only_what_cannot_be_sent_is_replaced() -> None:
    assert sendable("a\x00b\ud800c\udfffd") == f"a{REPLACEMENT}b{REPLACEMENT}c{REPLACEMENT}d"
    # Emoji (astral, two UTF-16 units), right-to-left marks, tabs and newlines stay.
    for typed in json.loads(FREE_TEXT.read_text(encoding="utf-8")):
        assert sendable(typed) == typed
    kept = "🤗 \u202e \t\n\r \x07 \ufeff"
    assert sendable(kept) == kept


async def test_a_typed_answer_with_them_is_saved_and_shown_as_saved(bot: BotDriver) -> None:
    activity = await post(bot)
    saved = await bot.run(f"/activity submit id:{activity} one\x00two \ud83dthree")
    assert isinstance(saved, Text) and saved.text.startswith("Saved"), saved
    mine = await bot.run("/activity mine")
    assert isinstance(mine, Card)
    assert mine.fields[0].value == f"one{REPLACEMENT}two {REPLACEMENT}three"


async def test_a_platform_form_value_with_them_is_saved(bot: BotDriver) -> None:
    activity = await post(bot)
    actor = Actor("console", "ana", "Ana", Role.STUDENT, "console", "console")
    invocation = Invocation(
        ("activity", "submit"), {"id": activity, "answer": "x\udc00y\x00"}, actor
    )
    replies = [r async for r in bot.app.router.dispatch(invocation)]
    assert isinstance(replies[-1], Text) and replies[-1].text.startswith("Saved"), replies
    async with bot.app.services.store.session() as session:
        stored = await session.scalar(select(Submission.answer))
    assert stored == f"x{REPLACEMENT}y{REPLACEMENT}"


async def test_an_unknown_command_made_of_them_is_named_sendably(bot: BotDriver) -> None:
    reply = await bot.run("/\ud800\x00")
    assert isinstance(reply, Error)
    assert reply.what == f"There is no /{REPLACEMENT}{REPLACEMENT} command."
