from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import create_app
from bot.identity import Actor, Role
from bot.ratelimit import RateLimiter
from bot.replies import Error, Progress, Reply, Text
from bot.router import Command, Context, Invocation, Option, Router
from tests.support.botdriver import FakeClock, settings_for_tests


async def echo(ctx: Context, prompt: str, steps: int, scale: float, loud: bool, sort: str) -> Reply:
    """Echo the options back (a test command)."""
    return Text(text=f"{prompt}|{steps}|{scale}|{loud}|{sort}|{ctx.actor.user_id}")


async def search(ctx: Context, text: str | None, limit: int) -> Reply:
    """Search with free words."""
    return Text(text=f"text={text!r} limit={limit}")


async def slow(ctx: Context) -> AsyncIterator[Reply]:
    """Yields progress, then a result."""
    for step in range(1, 4):
        yield Progress(step=step, total=3, label="working")
    yield Text(text="done")


async def boom(ctx: Context) -> Reply:
    """Always fails."""
    raise RuntimeError("secret internal detail")


async def admin_only(ctx: Context) -> Reply:
    """Instructors only."""
    return Text(text="ok")


COMMANDS = [
    Command(
        name="echo",
        handler=echo,
        options=(
            Option("prompt", str, "What to say", required=True, max_length=20),
            Option("steps", int, "How many", default=4, min_value=1, max_value=50),
            Option("scale", float, "How much", default=7.5, min_value=0, max_value=20),
            Option("loud", bool, "Shout", default=False),
            Option("sort", str, "Order", default="likes", choices=("downloads", "likes")),
        ),
    ),
    Command(
        name="search",
        handler=search,
        options=(
            Option("text", str, "Words", rest=True, max_length=100),
            Option("limit", int, "How many", default=10, min_value=1, max_value=25),
        ),
    ),
    Command(name="slow", handler=slow),
    Command(name="boom", handler=boom),
    Command(
        name="activity",
        description="Class activities",
        subcommands=(
            Command(name="post", handler=admin_only, role=Role.INSTRUCTOR),
            Command(name="list", handler=admin_only),
        ),
    ),
]


def actor(user: str = "ana", role: Role = Role.STUDENT) -> Actor:
    return Actor("console", user, user, role, "g1", "c1")


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[Router]:
    app = await create_app(settings_for_tests(tmp_path), clock=FakeClock())
    yield Router(COMMANDS, app.services, RateLimiter(per_minute=600, burst=100))
    await app.close()


async def run(router: Router, line: str, who: Actor | None = None) -> list[Reply]:
    return [r async for r in router.run_line(line, who or actor())]


async def one(router: Router, line: str, who: Actor | None = None) -> Reply:
    replies = await run(router, line, who)
    assert len(replies) == 1, replies
    return replies[0]


async def error(router: Router, line: str, who: Actor | None = None) -> Error:
    reply = await one(router, line, who)
    assert isinstance(reply, Error), reply
    return reply


async def test_values_are_typed_and_defaults_filled(router: Router) -> None:
    reply = await one(router, '/echo prompt:"a red fox" steps:12 scale:3.5 loud:yes sort:DOWNLOADS')
    assert reply == Text(text="a red fox|12|3.5|True|downloads|ana")
    reply = await one(router, "echo prompt:hi")
    assert reply == Text(text="hi|4|7.5|False|likes|ana")


async def test_free_words_fill_the_rest_option(router: Router) -> None:
    assert await one(router, "/search gpt neo limit:5") == Text(text="text='gpt neo' limit=5")
    assert await one(router, "/search") == Text(text="text=None limit=10")


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("/echo prompt:hi steps:0", "steps: must be between 1 and 50."),
        ("/echo prompt:hi steps:51", "steps: must be between 1 and 50."),
        ("/echo prompt:hi steps:many", "steps: expected a whole number, got 'many'."),
        ("/echo prompt:hi steps:2.5", "steps: expected a whole number, got '2.5'."),
        ("/echo prompt:hi scale:nan", "scale: expected a finite number, got 'nan'."),
        (
            "/echo prompt:hi scale:1,5",
            "scale: expected a number, got '1,5'. Write it with a point: 1.5.",
        ),
        ("/echo prompt:hi loud:maybe", "loud: expected true or false, got 'maybe'."),
        ("/echo prompt:hi sort:like", "sort: choose one of downloads, likes. Did you mean likes?"),
        ("/echo steps:3", "prompt is required."),
        ('/echo prompt:""', "prompt is required."),
        ("/echo prompt:hi stepz:3", "Unknown option stepz:. Did you mean steps:?"),
        ("/echo prompt:hi prompt:again", "prompt: is given twice."),
        ("/echo prompt:hi stray words", "Unexpected text: 'stray words'."),
        ("/echo prompt:" + "x" * 21, "prompt: is 21 characters; the limit is 20. Shorten it."),
    ],
)
async def test_bad_options_reply_with_usage(router: Router, line: str, what: str) -> None:
    reply = await error(router, line)
    assert reply.what == what
    assert reply.usage == (
        "/echo prompt:<text> [steps:1-50] [scale:0-20] [loud:true|false] [sort:downloads|likes]"
    )
    assert reply.private


def test_a_usage_line_names_a_long_list_of_choices_by_the_option() -> None:
    few = Option("sort", str, "Order", choices=("downloads", "likes"))
    many = Option("task", str, "Task", choices=tuple(f"task-{n}" for n in range(9)))
    assert (few.usage(), many.usage()) == ("[sort:downloads|likes]", "[task:<task>]")


async def test_a_space_after_the_slash_is_forgiven(router: Router) -> None:
    assert await one(router, "/ search gpt neo") == Text(text="text='gpt neo' limit=10")
    assert (await error(router, "/ ")).what == "Type a command."


async def test_unknown_command_suggests_the_closest(router: Router) -> None:
    reply = await error(router, "/serch gpt")
    assert reply.what == "There is no /serch command."
    assert "Did you mean /search?" in reply.todo


async def test_unclosed_quote_is_explained(router: Router) -> None:
    reply = await error(router, '/echo prompt:"a red fox')
    assert "quote" in reply.what


async def test_apostrophes_are_not_quotes(router: Router) -> None:
    assert await one(router, "/search don't stop") == Text(text='text="don\'t stop" limit=10')


@pytest.mark.parametrize(
    ("line", "text"),
    [
        # Only declared names are options; any other `word:` is text.
        ("/search Note: the 8B model was refused", "Note: the 8B model was refused"),
        ("/search Q: What is the capital of France? A:", "Q: What is the capital of France? A:"),
        ("/search note:x limit:3", "note:x"),
        # Quotes inside free text are kept, a lone quote is text.
        ('/search it looped "went went"', 'it looped "went went"'),
        ('/search a " b', 'a " b'),
        ('/search "', '"'),
        # Spaces and lines as typed; a declared option leaves one gap.
        ("/search two  spaces\nnext line", "two  spaces\nnext line"),
        ("/search before limit:3 after", "before after"),
        # `limit: 3` is prose (nothing right after the colon), a URL is a word.
        ("/search https://x.org/?limit=3&a:b", "https://x.org/?limit=3&a:b"),
    ],
)
async def test_free_text_is_kept_as_typed(router: Router, line: str, text: str) -> None:
    reply = await one(router, line)
    assert isinstance(reply, Text) and reply.text.startswith(f"text={text!r} ")


@pytest.mark.parametrize("line", ["/search text:gpt neo", "/search limit:5 text:gpt neo"])
async def test_the_free_words_may_be_named_like_an_option(router: Router, line: str) -> None:
    # As the usage writes them (`/search [text]`), not "text is given twice".
    reply = await one(router, line)
    assert isinstance(reply, Text) and reply.text.startswith("text='gpt neo' ")


async def test_a_colon_without_a_value_is_text(router: Router) -> None:
    reply = await one(router, "/search limit: 3")
    assert reply == Text(text="text='limit: 3' limit=10")


async def test_subcommands(router: Router) -> None:
    missing = await error(router, "/activity")
    assert missing.what == "/activity needs a subcommand: post, list."
    unknown = await error(router, "/activity pots")
    assert "Did you mean /activity post?" in unknown.what
    assert await one(router, "/activity list") == Text(text="ok")


async def test_roles(router: Router) -> None:
    denied = await error(router, "/activity post", actor(role=Role.STUDENT))
    assert denied.what == "/activity post is for instructors."
    assert await one(router, "/activity post", actor(role=Role.INSTRUCTOR)) == Text(text="ok")


async def test_typed_values_from_a_platform_are_checked_too(router: Router) -> None:
    # Discord sends numbers as numbers and does not enforce ranges itself (FACTS.md).
    invocation = Invocation(path=("echo",), options={"prompt": "hi", "steps": 99}, actor=actor())
    replies = [r async for r in router.dispatch(invocation)]
    assert isinstance(replies[0], Error)
    assert replies[0].what == "steps: must be between 1 and 50."
    invocation = Invocation(path=("echo",), options={"prompt": "hi", "steps": True}, actor=actor())
    replies = [r async for r in router.dispatch(invocation)]
    assert isinstance(replies[0], Error)


async def test_progress_then_result(router: Router) -> None:
    replies = await run(router, "/slow")
    assert [type(r) for r in replies] == [Progress, Progress, Progress, Text]
    assert [r.step for r in replies if isinstance(r, Progress)] == [1, 2, 3]


async def test_internal_errors_give_a_reference_not_details(
    router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        reply = await error(router, "/boom")
    assert reply.ref and len(reply.ref) == 8
    assert "secret" not in reply.what + reply.todo
    assert any(reply.ref in record.getMessage() for record in caplog.records)


async def test_rate_limit_per_user(tmp_path: Path) -> None:
    app = await create_app(settings_for_tests(tmp_path), clock=FakeClock())
    now = [0.0]
    limiter = RateLimiter(per_minute=6, burst=2, clock=lambda: now[0])
    router = Router(COMMANDS, app.services, limiter)
    try:
        assert isinstance(await one(router, "/search a"), Text)
        assert isinstance(await one(router, "/search b"), Text)
        limited = await error(router, "/search c")
        assert limited.todo == "Try again in 10 s."
        # Another student is not slowed down by the first one.
        assert isinstance(await one(router, "/search d", actor("bo")), Text)
        now[0] += 10
        assert isinstance(await one(router, "/search e"), Text)
    finally:
        await app.close()


async def test_every_command_is_declared_once(tmp_path: Path) -> None:
    app = await create_app(settings_for_tests(tmp_path), clock=FakeClock())
    try:
        with pytest.raises(ValueError, match="declared twice"):
            Router([COMMANDS[0], COMMANDS[0]], app.services)
    finally:
        await app.close()


async def test_complete_offers_matching_choices(router: Router) -> None:
    assert await router.complete(("echo",), "sort", "do") == ["downloads"]
    assert await router.complete(("echo",), "prompt", "x") == []
