"""Drive the real discord.py client against the local REST stand-in.

async def test_x(discord_bot):
    await discord_bot.interact(slash("help"))
    assert discord_bot.stub.find("POST", r"/interactions/\\d+/.+/callback")
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import discord
import pytest

from adapters.discord import use_api_url
from adapters.discord.client import ClassbotClient
from bot.app import App, create_app
from bot.attachments import Attachment
from bot.router import Command, Router
from tests.discord.commands import COMMANDS, DESTINATIONS, TICKS
from tests.discord.rest_stub import APP_ID, CHANNEL_ID, GUILD_ID, DiscordRestStub
from tests.support.botdriver import FakeClock, settings_for_tests

STUDENT_ID = 1400000000000000001
INSTRUCTOR_ID = 1400000000000000002
INSTRUCTOR_ROLE_ID = 1600000000000000001
STUDENT_ROLE_ID = 1600000000000000002
DM_CHANNEL_ID = 1300000000000000009
OPTION_TYPES: dict[type, int] = {str: 3, int: 4, bool: 5, float: 10, Attachment: 11}

_numbers = itertools.count(1)


def user(user_id: int = STUDENT_ID, name: str = "ana") -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name.title(),
        "avatar": None,
    }


def interaction(
    kind: int,
    data: dict[str, Any],
    *,
    created: datetime,
    who: dict[str, Any] | None = None,
    roles: Iterable[int] = (),
    permissions: int = 0,
    in_guild: bool = True,
    message: dict[str, Any] | None = None,
    thread: int | None = None,
) -> dict[str, Any]:
    """A raw INTERACTION_CREATE payload as Discord sends it (`thread`: typed in a public
    thread of that id, in the class channel)."""
    number = next(_numbers)
    who = who or user()
    payload: dict[str, Any] = {
        # The id is a snowflake: its time is when the interaction was created.
        "id": str(discord.utils.time_snowflake(created) + number),
        "application_id": str(APP_ID),
        "type": kind,
        "data": data,
        "token": f"token-{number}",
        "version": 1,
        "locale": "en-US",
        "app_permissions": "2248473465835073",
        "attachment_size_limit": 10 * 1024 * 1024,
        "entitlements": [],
    }
    if in_guild:
        payload.update(
            guild_id=str(GUILD_ID),
            guild_locale="en-US",
            guild={"id": str(GUILD_ID), "locale": "en-US", "features": []},
            channel_id=str(CHANNEL_ID),
            channel={
                "id": str(CHANNEL_ID),
                "type": 0,
                "guild_id": str(GUILD_ID),
                "name": "class",
                "position": 0,
                "flags": 0,
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "permissions": str(permissions),
            },
            member={
                "user": who,
                "roles": [str(r) for r in roles],
                "permissions": str(permissions),
                "joined_at": "2026-01-05T10:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "nick": None,
                "avatar": None,
                "pending": False,
            },
            context=0,
            authorizing_integration_owners={"0": str(GUILD_ID)},
        )
    else:
        payload.update(
            user=who,
            channel_id=str(DM_CHANNEL_ID),
            channel={"id": str(DM_CHANNEL_ID), "type": 1, "recipients": [who]},
            context=1,
            authorizing_integration_owners={"1": who["id"]},
        )
    if thread is not None and in_guild:
        payload["channel_id"] = str(thread)
        payload["channel"] = {
            "id": str(thread),
            "type": 11,  # a public thread
            "guild_id": str(GUILD_ID),
            "parent_id": str(CHANNEL_ID),
            "owner_id": who["id"],
            "name": "discussion",
            "flags": 0,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 1,
            "member_count": 1,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": "2026-01-05T10:00:00+00:00",
                "locked": False,
            },
            "permissions": str(permissions),
        }
    if message is not None:
        payload["message"] = message
    return payload


def options(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": name, "type": OPTION_TYPES[type(value)], "value": value}
        for name, value in values.items()
    ]


def command_data(path: tuple[str, ...], values: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"id": "1700000000000000001", "name": path[0], "type": 1}
    if len(path) == 2:
        data["options"] = [{"name": path[1], "type": 1, "options": options(values)}]
    else:
        data["options"] = options(values)
    return data


@dataclass
class DiscordBot:
    app: App
    client: ClassbotClient
    stub: DiscordRestStub
    clock: FakeClock
    ticks: list[float]
    fed_at: float = 0.0  # time.monotonic() when the last interaction was fed

    def slash(self, *path: str, **values: Any) -> dict[str, Any]:
        """A slash command payload, e.g. slash("help", command="search")."""
        created = values.pop("created", None) or self.clock()
        extra = {
            k: values.pop(k)
            for k in ("who", "roles", "permissions", "in_guild", "thread")
            if k in values
        }
        return interaction(2, command_data(path, values), created=created, **extra)

    def click(self, message: dict[str, Any], custom_id: str, **extra: Any) -> dict[str, Any]:
        data = {"custom_id": custom_id, "component_type": 2}
        return interaction(3, data, created=self.clock(), message=message, **extra)

    def submit(self, custom_id: str, fields: dict[str, str], **extra: Any) -> dict[str, Any]:
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in fields.items()
        ]
        data = {"custom_id": custom_id, "components": rows}
        return interaction(5, data, created=self.clock(), **extra)

    async def interact(self, payload: dict[str, Any]) -> None:
        """Feed one interaction and wait until the client has answered it completely."""
        before = self.client.answered
        self.feed(payload)
        await self.until(lambda: self.client.answered > before)

    def feed(self, payload: dict[str, Any]) -> None:
        """Hand a raw payload to discord.py as the gateway would (INTERACTION_CREATE)."""
        self.fed_at = time.monotonic()
        state: Any = self.client._connection
        state.parse_interaction_create(payload)

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.005)


@asynccontextmanager
async def discord_bot_for(
    tmp_path: Path,
    clock: FakeClock,
    stub: DiscordRestStub,
    commands: list[Command] | None = None,
    budget: float = 1.0,
    **settings: Any,
) -> AsyncIterator[DiscordBot]:
    app = await create_app(settings_for_tests(tmp_path, **settings), clock=clock)
    # These tests are about the adapter: no job workers or schedulers (they cost seconds to
    # start and stop, and would deliver through the outbox on their own).
    app.background.clear()
    if commands is not None:
        app.router = Router(commands, app.services)
    TICKS[0] = 1000.0  # a monotonic clock the test moves (progress throttle)
    client = ClassbotClient(app, first_reply_budget=budget, monotonic=lambda: TICKS[0])
    try:
        await client.login("test-token")
        yield DiscordBot(app, client, stub, clock, TICKS)
    finally:
        await client.close()
        await app.close()


@pytest.fixture
async def stub(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordRestStub]:
    server = await DiscordRestStub().start()
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)  # restored after
    use_api_url(server.url)
    yield server
    await server.stop()


@pytest.fixture
async def discord_bot(
    tmp_path: Path, clock: FakeClock, stub: DiscordRestStub
) -> AsyncIterator[DiscordBot]:
    async with discord_bot_for(tmp_path, clock, stub) as bot:
        yield bot


@pytest.fixture
async def test_bot(
    tmp_path: Path, clock: FakeClock, stub: DiscordRestStub
) -> AsyncIterator[DiscordBot]:
    """The test commands (tests/discord/commands.py); slow ones outlast a 0.1 s budget."""
    DESTINATIONS.clear()
    async with discord_bot_for(tmp_path, clock, stub, commands=COMMANDS, budget=0.1) as bot:
        yield bot
