"""Verbs: sub-actions typed as the first word of a command's free text, resolved by the router
(with their own options and role), from typed lines and from flat platform trees alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import create_app
from bot.identity import Actor, Role
from bot.replies import Card, Error, Reply, Text
from bot.router import Command, Context, Invocation, Option, Router
from tests.support.botdriver import BotDriver, FakeClock, settings_for_tests


async def game(ctx: Context, text: str | None, level: int) -> Reply:
    """The command itself."""
    return Text(text=f"game text={text!r} level={level}")


async def play(ctx: Context, answer: str | None, round: int | None) -> Reply:
    """Answer a round."""
    return Text(text=f"play answer={answer!r} round={round}")


async def reveal(ctx: Context, round: int | None) -> Reply:
    """Reveal a round (instructors)."""
    return Text(text=f"reveal round={round}")


ROUND = Option("round", int, "A round", min_value=1)
GAME = Command(
    name="game",
    handler=game,
    options=(
        Option("text", str, "Words", rest=True, max_length=50),
        Option("level", int, "Level", default=1, min_value=1, max_value=3),
    ),
    verbs=(
        Command(
            name="play",
            handler=play,
            options=(Option("answer", str, "An answer", rest=True, max_length=20), ROUND),
            verbs=(Command(name="reveal", handler=reveal, options=(ROUND,), role=Role.INSTRUCTOR),),
        ),
    ),
)


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[Router]:
    app = await create_app(settings_for_tests(tmp_path), clock=FakeClock())
    yield Router([GAME], app.services)
    await app.close()


def actor(role: Role = Role.STUDENT) -> Actor:
    return Actor("console", "ana", "ana", role, "g1", "c1")


async def one(router: Router, line: str, role: Role = Role.STUDENT) -> Reply:
    (reply,) = [r async for r in router.run_line(line, actor(role))]
    return reply


async def flat(router: Router, options: dict[str, object], role: Role = Role.STUDENT) -> Reply:
    """As Discord sends it: the command's path only, the verb in the free text."""
    invocation = Invocation(path=("game",), options=options, actor=actor(role))
    (reply,) = [r async for r in router.dispatch(invocation)]
    return reply


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("/game", "game text=None level=1"),
        ("/game hello there level:2", "game text='hello there' level=2"),
        ("/game player one", "game text='player one' level=1"),
        ("/game play", "play answer=None round=None"),
        ("/game PLAY summarization", "play answer='summarization' round=None"),
        ("/game play answer:x round:3", "play answer='x' round=3"),
        ("/game play reveal round:2", "reveal round=2"),
        # Given by name, a verb's word is a value.
        ("/game play answer:reveal", "play answer='reveal' round=None"),
        ('/game text:"play x"', "play answer='x' round=None"),
    ],
)
async def test_typed_lines_resolve_verbs(router: Router, line: str, text: str) -> None:
    reply = await one(router, line, Role.INSTRUCTOR)
    assert reply == Text(text=text)


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({"text": "hello"}, "game text='hello' level=1"),
        ({"text": "play"}, "play answer=None round=None"),
        ({"text": "play", "answer": "x", "round": 4}, "play answer='x' round=4"),
        ({"text": "play summarization"}, "play answer='summarization' round=None"),
        ({"text": "play reveal", "round": 2}, "reveal round=2"),
    ],
)
async def test_flat_invocations_resolve_verbs_the_same_way(
    router: Router, options: dict[str, object], text: str
) -> None:
    assert await flat(router, options, Role.INSTRUCTOR) == Text(text=text)


async def test_a_verb_checks_its_own_options(router: Router) -> None:
    reply = await one(router, "/game play round:0")
    assert isinstance(reply, Error) and reply.what == "round: must be at least 1."
    assert reply.usage == "/game play [answer] [round:<number>]"
    # Only declared names are options: the rest is the verb's free text, as typed.
    reply = await one(router, "/game play level:2")
    assert reply == Text(text="play answer='level:2' round=None")


async def test_a_verb_option_without_its_verb_says_where_it_goes(router: Router) -> None:
    reply = await flat(router, {"answer": "x"})
    assert isinstance(reply, Error) and reply.what == "answer: goes with /game play."
    reply = await one(router, "/game round:2")
    assert isinstance(reply, Error) and reply.what == "round: goes with /game play."


async def test_the_text_and_the_verb_option_cannot_both_give_the_answer(router: Router) -> None:
    reply = await flat(router, {"text": "play one", "answer": "two"})
    assert isinstance(reply, Error) and "answer is given twice" in reply.what


async def test_roles_are_checked_for_verbs_in_the_router(router: Router) -> None:
    denied = await one(router, "/game play reveal")
    assert isinstance(denied, Error) and denied.what == "/game play reveal is for instructors."
    denied = await flat(router, {"text": "play reveal"})
    assert isinstance(denied, Error) and denied.what == "/game play reveal is for instructors."
    assert await one(router, "/game play reveal", Role.INSTRUCTOR) == Text(text="reveal round=None")


async def test_help_lists_the_verbs_with_their_usage(bot: BotDriver) -> None:
    card = await bot.run("/help search")
    assert isinstance(card, Card)
    names = [f.name for f in card.fields]
    assert "/search guess [answer] [round:<number>] [model:<text>]" in names
    # Marked as the top-level /help marks instructors' commands, once.
    assert "/search guess reveal [round:<number>] (instructor)" in names
    reveal_field = next(f for f in card.fields if f.name.startswith("/search guess reveal"))
    assert "instructor" not in reveal_field.value
    verb = await bot.run("/help search guess")
    assert isinstance(verb, Card) and verb.title == "/search guess"
    assert verb.fields[0].value == "/search guess [answer] [round:<number>] [model:<text>]"


async def test_search_guess_reveal_is_refused_to_students_by_the_router(bot: BotDriver) -> None:
    reply = await bot.run("/search guess reveal")
    assert isinstance(reply, Error) and reply.what == "/search guess reveal is for instructors."
