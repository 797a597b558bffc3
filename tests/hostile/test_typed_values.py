"""Values typed into a platform's own form arrive typed (Discord sends integers, numbers,
booleans and text as JSON): every option of every command, given each hostile value of its
kind, gets a reply that is no internal error and fits both platforms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.attachments import Attachment, InMemory
from bot.declare import Command, Option
from bot.identity import Actor, Role
from bot.router import Invocation
from tests.hostile import corpus
from tests.hostile.run import ROLES, Outcome, database_problems, note_problems, note_told
from tests.support.botdriver import BotDriver

HOSTILE: dict[type, tuple[Any, ...]] = {
    int: (2**63, -(2**63) - 1, 2**53 + 1, 0, -1, 10**400, True, 1.5, float("nan"), "1e400"),
    float: (float("nan"), float("inf"), float("-inf"), -0.0, 1e308, 5e-324, 10**400, "NaN"),
    bool: ("maybe", "", 2, float("nan"), "\x00"),
    str: ("\x00", "\ud800", "a" * 10_000, "@everyone <!channel> <@&1>", 12, -0.0, True, " "),
    # A platform's file (garbage, empty, a name that pings), or text where a file goes.
    Attachment: (
        InMemory("@everyone.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50),
        InMemory("<!channel>.ogg", b""),
        InMemory("\x00.wav", b"RIFF" + bytes(100), content_type="\ud800"),
        "no/such/file.wav",
        "\x00",
        12,
        "a" * 10_000,
    ),
}
# A value for a required option that is not the one under test.
PLAIN: dict[type, Any] = {int: 1, float: 1.0, bool: True, str: "x"}


def _base(command: Command, tested: Option) -> dict[str, Any]:
    """Plain values for the required options, and id:1 (the first activity, job or round) so
    that the value under test reaches a real record."""
    return {
        o.name: (o.choices[0] if o.choices else PLAIN[o.type])
        for o in command.options
        if o is not tested and (o.required or (o.name == "id" and o.type is int))
    }


async def test_typed_values_find_no_crack(
    class_bot: BotDriver, tiny_model_dir: Path, tiny_image_model: Path
) -> None:
    router = class_bot.app.router
    outcome = Outcome()
    for path, command in corpus.runnable(router):
        for option in command.options:
            for value in HOSTILE[option.type]:
                for role in ROLES:
                    actor = Actor("console", role, role, Role(role), "console", "console")
                    options = {**_base(command, option), option.name: value}
                    invocation = Invocation(path, options, actor)
                    replies = [r async for r in router.dispatch(invocation)]
                    where = f"/{' '.join(path)} {option.name}={value!r:.40} [{role}]"
                    note_problems(outcome, where, replies)
                    note_told(outcome, role, replies)
    problems = outcome.problems
    problems += await database_problems(class_bot, outcome, {tiny_model_dir, tiny_image_model})
    assert problems == [], "\n".join(problems[:80])
    assert outcome.replies > 500 and outcome.saved and outcome.jobs_told
