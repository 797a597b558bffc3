"""Which commands the inbox keeps: those declared `durable=True` (the writes), by the same
path resolution the router uses (subcommands, verbs); a mistake is never kept."""

from __future__ import annotations

import pytest

from bot.identity import Actor, Role
from bot.inbox import durable
from bot.router import Invocation
from tests.support.botdriver import BotDriver

ACTOR = Actor("console", "ana", "Ana", Role.STUDENT, "console", "console")

KEPT = [
    "/activity submit id:1 my answer",
    '/activity post title:"T" minutes:5 a prompt',
    "/activity close id:1",
    "/activity extend id:1 minutes:5",
    "/generate once upon a time",
    "/imagine a red fox",
]
NOT_KEPT = ["/help", "/activity list", "/activity results id:1", "/search gpt2", "/jobs"]


@pytest.mark.parametrize("line", KEPT)
async def test_writes_are_durable(bot: BotDriver, line: str) -> None:
    router = bot.app.router
    assert durable(router, router.parse(line, ACTOR))


@pytest.mark.parametrize("line", NOT_KEPT)
async def test_reads_are_not_durable(bot: BotDriver, line: str) -> None:
    router = bot.app.router
    assert not durable(router, router.parse(line, ACTOR))


async def test_a_path_the_router_refuses_is_not_durable(bot: BotDriver) -> None:
    unknown = Invocation(path=("activity", "nonsense"), options={}, actor=ACTOR)
    assert not durable(bot.app.router, unknown)
