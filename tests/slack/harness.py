"""A Slack world for tests and the benchmark: the real Bolt app served over HTTP on
loopback, fed correctly signed requests, talking to the Web API stand-in.

    async with slack_world(tmp_path) as world:
        status, seconds = await world.command("help", "search")
        await world.idle()                       # the work after the ack
        world.stub.responds[-1].body             # what reached the response_url
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from adapters.slack import SlackAdapter, start_http
from bot.app import App, create_app
from bot.commands import all_commands
from bot.router import Command, Router
from tests.slack.webapi_stub import SlackStub
from tests.support.botdriver import FakeClock, settings_for_tests

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"
TEAM = "T0CLASS"
CHANNEL = "C0CLASS"


def sign(body: str, *, secret: str = SECRET, timestamp: float | None = None) -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    ts = str(int(time.time() if timestamp is None else timestamp))
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


class WallClock:
    """Real time, plus whatever the test skips ahead (response_url and trigger ages)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class SlackWorld:
    def __init__(self, app: App, adapter: SlackAdapter, stub: SlackStub, url: str) -> None:
        self.app = app
        self.adapter = adapter
        self.stub = stub
        self.url = url
        self.clock: WallClock = adapter.clock
        self.http = aiohttp.ClientSession()

    async def post(self, body: str, headers: dict[str, str]) -> tuple[int, str, float]:
        started = time.perf_counter()
        async with self.http.post(self.url, data=body.encode(), headers=headers) as response:
            text = await response.text()
            return response.status, text, time.perf_counter() - started

    def command_body(
        self,
        name: str,
        text: str = "",
        *,
        user: str = "U0STUDENT",
        user_name: str = "ana",
        channel: str = CHANNEL,
        response_url: str | None = None,
    ) -> str:
        return urllib.parse.urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": TEAM,
                "team_domain": "class",
                "channel_id": channel,
                "channel_name": "general",
                "user_id": user,
                "user_name": user_name,
                # As the student types it under the workspace's namespace (by default one
                # command, `/classbot help`; with a prefix `/hf-help`).
                "command": self.slash(name),
                "text": self.text(name, text),
                "api_app_id": "A0CLASSBOT",
                "response_url": response_url or self.stub.response_url(),
                "trigger_id": f"trigger-{time.perf_counter_ns()}",
            }
        )

    def slash(self, name: str) -> str:
        """The Slack command a student types for the classbot command `name`."""
        namespace = self.adapter.namespace
        return f"/{namespace.command}" if namespace.command else f"/{namespace.prefix}{name}"

    def text(self, name: str, text: str) -> str:
        if self.adapter.namespace.command:
            return f"{name} {text}".rstrip()
        return text

    async def command(self, name: str, text: str = "", **who: Any) -> tuple[int, float]:
        """A signed slash command; returns the HTTP status and the seconds to the ack."""
        body = self.command_body(name, text, **who)
        status, _, seconds = await self.post(body, sign(body))
        return status, seconds

    async def interact(self, payload: dict[str, Any]) -> tuple[int, str]:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        status, text, _ = await self.post(body, sign(body))
        return status, text

    async def click(
        self, button: dict[str, Any], *, user: str = "U0OTHER", user_name: str = "ben"
    ) -> tuple[int, str]:
        """Click a button (a block of a message the bot sent) as `user`."""
        return await self.interact(
            {
                "type": "block_actions",
                "team": {"id": TEAM, "domain": "class"},
                "user": {"id": user, "username": user_name, "name": user_name, "team_id": TEAM},
                "api_app_id": "A0CLASSBOT",
                "trigger_id": f"trigger-{time.perf_counter_ns()}",
                "channel": {"id": CHANNEL, "name": "general"},
                "container": {"type": "message", "channel_id": CHANNEL, "message_ts": "1.2"},
                "response_url": self.stub.response_url(),
                "actions": [
                    {
                        "type": "button",
                        "action_id": button["action_id"],
                        "block_id": "b1",
                        "value": button["value"],
                        "action_ts": str(time.time()),
                    }
                ],
            }
        )

    async def submit(
        self, view: dict[str, Any], values: dict[str, str], *, user: str = "U0OTHER"
    ) -> tuple[int, str]:
        """Submit a modal (as views.open received it) with these input values."""

        def state_of(element: dict[str, Any], value: str | None) -> dict[str, Any]:
            if element["type"] == "file_input":  # the value is the uploaded file's id
                return {"type": "file_input", "files": [{"id": value}] if value else []}
            return {"type": "plain_text_input", "value": value}

        state = {
            block["block_id"]: {
                block["element"]["action_id"]: state_of(
                    block["element"], values.get(block["block_id"])
                )
            }
            for block in view["blocks"]
            if block["type"] == "input"
        }
        return await self.interact(
            {
                "type": "view_submission",
                "team": {"id": TEAM, "domain": "class"},
                "user": {"id": user, "username": "ben", "name": "ben", "team_id": TEAM},
                "api_app_id": "A0CLASSBOT",
                "trigger_id": f"trigger-{time.perf_counter_ns()}",
                "view": {
                    "id": "V1",
                    "type": "modal",
                    "callback_id": view["callback_id"],
                    "private_metadata": view["private_metadata"],
                    "blocks": view["blocks"],
                    "state": {"values": state},
                },
            }
        )

    async def idle(self) -> None:
        await self.adapter.wait_idle()


@asynccontextmanager
async def slack_world(
    tmp_path: Path,
    *,
    extra_commands: Sequence[Command] = (),
    stub: SlackStub | None = None,
    signing_secret: str | None = SECRET,
    **settings: Any,
) -> AsyncIterator[SlackWorld]:
    stub = await (stub or SlackStub()).start()
    app = await create_app(
        settings_for_tests(tmp_path, slack_api_url=stub.api_url, **settings), clock=FakeClock()
    )
    if extra_commands:
        app.router = Router([*all_commands(), *extra_commands], app.services)
    adapter = SlackAdapter(
        app, bot_token=BOT_TOKEN, signing_secret=signing_secret, clock=WallClock()
    )
    runner, port = await start_http(adapter.web_app(), "127.0.0.1", 0)
    world = SlackWorld(app, adapter, stub, f"http://127.0.0.1:{port}/slack/events")
    try:
        yield world
    finally:
        await world.http.close()
        await adapter.close()
        await runner.cleanup()
        await app.close()
        await stub.close()
