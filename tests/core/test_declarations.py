"""The declarations check themselves at start-up, and typed ids keep 64-bit bounds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App, create_app
from bot.declare import INT64_MAX, INT64_MIN, DeclarationError
from bot.identity import Actor, Role
from bot.replies import Error, Reply, Text
from bot.router import Command, Context, Option, Router
from tests.support.botdriver import BotDriver, FakeClock, settings_for_tests


async def show(ctx: Context, id: int | None, count: int, note: str | None) -> Reply:
    """Show the values (a test command)."""
    return Text(text=f"{id}|{count}|{note}")


ID = Option("id", int, "A row id", min_value=1)
COUNT = Option("count", int, "Any whole number", default=0)
NOTE = Option("note", str, "A note", max_length=20)
GOOD = Command(name="show", handler=show, options=(ID, COUNT, NOTE))


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    app = await create_app(settings_for_tests(tmp_path), clock=FakeClock())
    yield app
    await app.close()


def refused(app: App, command: Command) -> str:
    with pytest.raises(DeclarationError) as raised:
        Router([command], app.services)
    return str(raised.value)


async def test_a_handler_without_a_declared_option_stops_the_bot(app: App) -> None:
    extra = Option("colour", str, "A colour", choices=("red", "blue"))
    message = refused(app, Command(name="show", handler=show, options=(ID, COUNT, NOTE, extra)))
    assert "/show" in message and "colour" in message and "no such parameter" in message


async def test_a_handler_parameter_nobody_declared_stops_the_bot(app: App) -> None:
    message = refused(app, Command(name="show", handler=show, options=(ID, COUNT)))
    assert "/show" in message and "note" in message


async def test_an_optional_option_needs_a_parameter_that_takes_none(app: App) -> None:
    # count has no default here, so the handler would get None for an `int` parameter.
    loose = Option("count", int, "Any whole number")
    message = refused(app, Command(name="show", handler=show, options=(ID, loose, NOTE)))
    assert "/show option count:" in message and "None" in message


async def test_a_handler_default_must_match_the_declared_one(app: App) -> None:
    async def counted(ctx: Context, count: int = 3) -> Reply:
        """Count."""
        return Text(text=str(count))

    message = refused(app, Command(name="count", handler=counted, options=(COUNT,)))
    assert "/count option count:" in message and "3" in message


async def test_free_text_needs_a_length_limit(app: App) -> None:
    unbounded = Option("note", str, "A note")
    message = refused(app, Command(name="show", handler=show, options=(ID, COUNT, unbounded)))
    assert message == "/show option note: a text option needs max_length (or choices)"


async def test_int_bounds_must_fit_a_64_bit_integer(app: App) -> None:
    huge = Option("id", int, "A row id", min_value=1, max_value=2**64)
    message = refused(app, Command(name="show", handler=show, options=(huge, COUNT, NOTE)))
    assert "/show option id:" in message and "64-bit" in message


async def test_verbs_are_checked_too(app: App) -> None:
    async def play(ctx: Context, answer: str | None) -> Reply:
        """Play."""
        return Text(text=str(answer))

    verb = Command(name="play", handler=play, options=(NOTE,))
    with_text = (*GOOD.options, Option("text", str, "Words", rest=True, max_length=50))

    async def show_text(
        ctx: Context, id: int | None, count: int, note: str | None, text: str | None
    ) -> Reply:
        """Show."""
        return Text(text="")

    command = Command(name="show", handler=show_text, options=with_text, verbs=(verb,))
    message = refused(app, command)
    assert "/show play" in message and "note" in message


async def test_every_command_of_the_bot_passes(app: App) -> None:
    assert {"search", "dataset", "imagine", "generate", "activity", "jobs", "help"} <= set(
        app.router.commands
    )


# -- 64-bit ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("/show id:0", "id: must be at least 1."),
        ("/show id:-5", "id: must be at least 1."),
        (f"/show id:{INT64_MAX + 1}", f"id: must be at most {INT64_MAX}."),
        (f"/show count:{INT64_MIN - 1}", f"count: must be at least {INT64_MIN}."),
        (f"/show count:{10**30}", f"count: must be at most {INT64_MAX}."),
    ],
)
async def test_int_options_keep_64_bit_bounds(app: App, line: str, what: str) -> None:
    router = Router([GOOD], app.services)
    (reply,) = [r async for r in router.run_line(line, _actor())]
    assert isinstance(reply, Error) and reply.what == what


async def test_int_options_at_the_bounds_are_taken(app: App) -> None:
    router = Router([GOOD], app.services)
    line = f"/show id:{INT64_MAX} count:{INT64_MIN}"
    (reply,) = [r async for r in router.run_line(line, _actor())]
    assert reply == Text(text=f"{INT64_MAX}|{INT64_MIN}|None")


@pytest.mark.parametrize(
    ("line", "role"),
    [
        (f"/jobs cancel id:{2**63}", "student"),
        (f"/activity close id:{2**64}", "instructor"),
        (f"/activity results id:{2**63}", "instructor"),
        (f"/activity form id:{2**63}", "student"),
        (f"/activity submit id:{2**63} my answer", "student"),
        (f"/activity extend id:{2**63} minutes:5", "instructor"),
        (f"/imagine reroll job:{2**63}", "student"),
        (f"/search guess answer:summarization round:{2**63}", "student"),
        (f"/search guess reveal round:{-(2**63) - 1}", "instructor"),
    ],
)
async def test_huge_ids_are_a_usage_error_in_every_command(
    bot: BotDriver, line: str, role: str
) -> None:
    reply = await bot.run(line, role=role)
    assert isinstance(reply, Error), reply
    assert "must be" in reply.what and reply.ref is None


async def test_id_zero_says_at_least_one(bot: BotDriver) -> None:
    reply = await bot.run("/jobs cancel id:0")
    assert isinstance(reply, Error) and reply.what == "id: must be at least 1."


@pytest.mark.parametrize("line", ["/generate hello model:{}", "/generate hello compare:{}"])
async def test_long_model_ids_are_a_usage_error(bot: BotDriver, line: str) -> None:
    reply = await bot.run(line.format("a/" + "b" * 300))
    assert isinstance(reply, Error), reply
    assert "the limit is 200" in reply.what and reply.ref is None


def _actor() -> Actor:
    return Actor("console", "ana", "ana", Role.STUDENT, "g1", "c1")
