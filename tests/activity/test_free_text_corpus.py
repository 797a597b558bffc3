"""Free text is free: real-looking answers and prompts are stored and shown as typed.

The corpus (data/free_text_corpus.json) holds colons that are not options (`Note:`,
`Q: … A:`), quotes (a lone one too), apostrophes, URLs with `key=value`, code, emoji and
several lines.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.identity import Actor, Role
from bot.replies import Card, Text
from bot.store.models import Activity, Submission
from tests.activity.conftest import post
from tests.support.botdriver import BotDriver

CORPUS: list[str] = json.loads(
    (Path(__file__).parent / "data" / "free_text_corpus.json").read_text(encoding="utf-8")
)


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 50
    joined = "".join(CORPUS)
    for kind in ('"', "'", "\n", "=", "://", "🤗", "`", "\t", "Note:", "Q:"):
        assert kind in joined, kind


async def test_every_answer_is_stored_and_shown_as_typed(bot: BotDriver) -> None:
    activity = await post(bot)
    for number, typed in enumerate(CORPUS):
        saved = await bot.run(f"/activity submit id:{activity} {typed}", user=f"s{number}")
        assert isinstance(saved, Text) and "Saved" in saved.text, (typed, saved)
        mine = await bot.run("/activity mine", user=f"s{number}")
        assert isinstance(mine, Card) and mine.fields[0].value == typed
    async with bot.app.services.store.session() as session:
        stored = list(await session.scalars(select(Submission.answer).order_by(Submission.id)))
    assert stored == CORPUS


async def test_every_prompt_is_stored_as_typed(bot: BotDriver) -> None:
    for number, typed in enumerate(CORPUS):
        line = f'/activity post title:"Corpus" minutes:10 {typed}'
        # One instructor each: the class rate limit is not what this test is about.
        posted = await bot.run(line, user=f"teacher{number}", role="instructor")
        assert isinstance(posted, Card), (typed, posted)
    async with bot.app.services.store.session() as session:
        stored = list(await session.scalars(select(Activity.prompt).order_by(Activity.id)))
    assert stored == CORPUS


@pytest.mark.parametrize("command", ["/generate", "/imagine"])
@pytest.mark.parametrize("typed", CORPUS)
def test_a_model_prompt_reaches_the_command_as_typed(
    bot: BotDriver, command: str, typed: str
) -> None:
    router = bot.app.router
    actor = Actor("console", "ana", "ana", Role.STUDENT, "console", "console")
    invocation = router.parse(f"{command} seed:3 {typed}", actor)
    values = router.validate(invocation.path, invocation.options)
    assert values["prompt"] == typed
    assert values["seed"] == 3


@pytest.mark.parametrize(
    ("line", "prompt"),
    [
        ('/generate prompt:"a red fox" seed:1', "a red fox"),
        ('/generate prompt:"say \\"hi\\"" seed:1', 'say "hi"'),
        ("/generate prompt:“curly quotes” seed:1", "curly quotes"),
        ('/generate seed:1 it looped "went went"', 'it looped "went went"'),
        ("/generate seed:1 Q: capital of France?\nA:", "Q: capital of France?\nA:"),
        ("/generate a seed:1 b", "a b"),
        ("/generate a\nseed:1\nb", "a\nb"),
    ],
)
def test_quoted_values_lose_only_their_quotes(bot: BotDriver, line: str, prompt: str) -> None:
    actor = Actor("console", "ana", "ana", Role.STUDENT, "console", "console")
    invocation = bot.app.router.parse(line, actor)
    assert invocation.options == {"prompt": prompt, "seed": "1"}
