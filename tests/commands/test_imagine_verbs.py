"""/imagine's sub-actions are verbs the router resolves (reroll, block, unblock, audit): their
own options, the router's role check, /help listing them, typed and flat (Discord) alike. No
model runs here: the word filter answers before any model is loaded."""

from __future__ import annotations

from bot.identity import Actor, Role
from bot.replies import Card, Error, Reply, Table, Text
from bot.router import Invocation
from tests.support.botdriver import BotDriver

INSTRUCTOR = {"user": "tom", "role": "instructor"}


async def flat(bot: BotDriver, options: dict[str, object], role: Role) -> Reply:
    """What a flat platform tree (Discord) sends: the verb is the prompt's first word."""
    actor = Actor("console", "tom", "tom", role, "console", "c")
    invocation = Invocation(path=("imagine",), options=options, actor=actor)
    return [r async for r in bot.app.router.dispatch(invocation)][-1]


async def test_students_are_refused_the_instructor_verbs_by_the_router(bot: BotDriver) -> None:
    for line, path in (
        ("/imagine block word:dragon", "/imagine block"),
        ("/imagine block", "/imagine block"),
        ("/imagine unblock word:ugly", "/imagine unblock"),
        ("/imagine audit limit:5", "/imagine audit"),
    ):
        reply = await bot.run(line)
        assert isinstance(reply, Error) and reply.what == f"{path} is for instructors.", line
    refused = await flat(bot, {"prompt": "block", "word": "dragon"}, Role.STUDENT)
    assert isinstance(refused, Error) and refused.what == "/imagine block is for instructors."
    # Nothing changed: the class's list is still empty.
    listing = await bot.text("/imagine block", **INSTRUCTOR)
    assert "Added to the default list: (none)." in listing


async def test_words_are_named_typed_or_sent_flat_and_audited(bot: BotDriver) -> None:
    said = await bot.run('/imagine block word:"green dragon"', **INSTRUCTOR)
    assert isinstance(said, Text) and "Blocked “green dragon”" in said.text
    refused = await bot.run('/imagine prompt:"a green dragon"')
    assert isinstance(refused, Error) and refused.what.startswith("That prompt has words")
    flat_said = await flat(bot, {"prompt": "unblock", "word": "Green  Dragon"}, Role.INSTRUCTOR)
    assert isinstance(flat_said, Text) and "Unblocked “green dragon”" in flat_said.text
    flat_block = await flat(bot, {"prompt": "BLOCK", "word": "moat"}, Role.INSTRUCTOR)
    assert isinstance(flat_block, Text) and "Blocked “moat”" in flat_block.text
    # Text after the verb is never taken as the word: a prompt that starts with "block" must
    # not change the list by accident.
    for stray in (
        await bot.run("/imagine block tower at dawn", **INSTRUCTOR),
        await flat(bot, {"prompt": "block tower at dawn"}, Role.INSTRUCTOR),
    ):
        assert isinstance(stray, Error) and stray.what == "Unexpected text: 'tower at dawn'."
        assert stray.usage == "/imagine block [word:<text>]"
    which = await bot.run("/imagine unblock", user="ann", role="instructor")
    assert isinstance(which, Error) and which.what == "Which word?"
    # Another instructor reads the log (one person's commands are rate limited).
    log = await bot.run("/imagine audit", user="ann", role="instructor")
    assert isinstance(log, Table)
    assert [row[2:4] for row in log.rows] == [
        ("blocked", "(word list) moat"),
        ("unblocked", "(word list) green dragon"),
        ("refused", "a green dragon"),
        ("blocked", "(word list) green dragon"),
    ]
    one = await bot.run("/imagine audit limit:1", user="ann", role="instructor")
    assert isinstance(one, Table) and len(one.rows) == 1


async def test_options_of_a_verb_say_where_they_go(bot: BotDriver) -> None:
    for line, where in (
        ('/imagine prompt:"a fox" job:3', "job: goes with /imagine reroll."),
        ("/imagine a fox limit:5", "limit: goes with /imagine audit."),
        ("/imagine reroll job:1 seed:4", "Unknown option seed:."),
    ):
        reply = await bot.run(line, **INSTRUCTOR)
        assert isinstance(reply, Error) and reply.what.startswith(where), (line, reply.what)
    extra = await bot.run("/imagine reroll the dice")
    assert isinstance(extra, Error) and extra.what == "Unexpected text: 'the dice'."


async def test_help_lists_the_verbs_with_their_usage_and_roles(bot: BotDriver) -> None:
    card = await bot.run("/help imagine")
    assert isinstance(card, Card)
    fields = {f.name: f.value for f in card.fields}
    assert (
        fields["/imagine reroll [job:<number>]"]
        == "The same image settings as job N, with a new seed."
    )
    assert "/imagine block [word:<text>] (instructor)" in fields
    assert "/imagine unblock [word:<text>] (instructor)" in fields
    assert "/imagine audit [limit:1-100] (instructor)" in fields
    assert "job" not in fields and "word" not in fields  # the verbs' options are theirs
    verb = await bot.run("/help imagine audit")
    assert isinstance(verb, Card) and verb.title == "/imagine audit"
    limit = next(f.value for f in verb.fields if f.name == "limit")
    assert "from 1 to 100" in limit and "default 20" in limit
