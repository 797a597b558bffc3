from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.slack.commands import TEST_COMMANDS
from tests.slack.harness import SlackWorld, slack_world
from tests.slack.webapi_stub import SlackStub

STUDENT = {"id": "U0STUDENT", "name": "ana", "profile": {"display_name": "Ana"}}
ADMIN = {"id": "U0ADMIN", "name": "root", "is_admin": True, "profile": {"display_name": "Root"}}


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    stub = await SlackStub(users={"U0STUDENT": STUDENT, "U0ADMIN": ADMIN}).start()
    try:
        yield stub
    finally:
        await stub.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SlackWorld]:
    stub = SlackStub(users={"U0STUDENT": STUDENT, "U0ADMIN": ADMIN})
    async with slack_world(
        tmp_path, extra_commands=TEST_COMMANDS, stub=stub, instructors=["U0TEACH"]
    ) as world:
        yield world
