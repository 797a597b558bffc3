"""`classbot run` with Discord and Slack tokens: one process serves both platforms with one
App (store, job engine); each job's result goes back through the platform that asked; a
refused token stops the whole process with a plain message."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest
import yarl
from discord.gateway import DiscordWebSocket
from sqlalchemy import select

from adapters.discord import use_api_url
from bot.app import App, create_app
from bot.cli import pick_platforms, serve_platforms
from bot.jobs.worker import WorkerProcess
from bot.store.models import Job
from tests.discord.conftest import command_data, interaction
from tests.discord.rest_stub import DiscordRestStub
from tests.jobs.support import until
from tests.scale.support import REPO
from tests.slack.webapi_stub import SlackStub
from tests.support.botdriver import settings_for_tests

RUN = argparse.Namespace(command="run", sync="global", port=0)


@pytest.fixture
async def discord_stub(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordRestStub]:
    stub = await DiscordRestStub().start()
    # Both are class attributes of discord.py: restored after the test.
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(stub.gateway_url))
    use_api_url(stub.url)
    yield stub
    await stub.stop()


@pytest.fixture
async def slack_stub() -> AsyncIterator[SlackStub]:
    stub = await SlackStub(users={"U0STUDENT": {"id": "U0STUDENT", "name": "ben"}}).start()
    yield stub
    await stub.close()


async def _app(
    tmp_path: Path, discord_stub: DiscordRestStub, slack_stub: SlackStub, **extra: Any
) -> App:
    settings = settings_for_tests(
        tmp_path,
        discord_token="test-token",
        discord_api_url=discord_stub.url,
        slack_bot_token="xoxb-test",
        slack_app_token="xapp-test",
        slack_api_url=slack_stub.api_url,
        rate_limit_per_minute=10_000,
        rate_limit_burst=10_000,
        **extra,
    )
    assert pick_platforms(settings) == ["discord", "slack"]
    return await create_app(settings)


async def test_one_process_serves_discord_and_slack_each_job_back_where_it_came_from(
    tmp_path: Path,
    discord_stub: DiscordRestStub,
    slack_stub: SlackStub,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
) -> None:
    app = await _app(tmp_path, discord_stub, slack_stub, text_model=str(tiny_model_dir))
    app.queue.use_workers([model_worker])
    app.queue.relay.interval = 0.02
    serving = asyncio.create_task(serve_platforms(app, ["discord", "slack"], RUN))
    try:
        await until(lambda: discord_stub.connected and app.started, what="both adapters up")
        assert set(app.services.outboxes) == {"discord", "slack"}
        data = command_data(("generate",), {"prompt": "asked on discord", "max_new_tokens": 4})
        await discord_stub.dispatch(
            "INTERACTION_CREATE", interaction(2, data, created=discord.utils.utcnow())
        )
        await slack_stub.push(
            "slash_commands",
            {
                "team_id": "T0CLASS",
                "channel_id": "C0CLASS",
                "user_id": "U0STUDENT",
                "user_name": "ben",
                "command": "/classbot",
                "text": 'generate prompt:"asked on slack" max_new_tokens:4',
                "response_url": slack_stub.response_url(),
                "trigger_id": "trigger-1",
            },
        )

        async def delivered() -> list[Job]:
            async with app.services.store.session() as session:
                return list(await session.scalars(select(Job).order_by(Job.id)))

        jobs: list[Job] = []

        async def both_delivered() -> bool:
            nonlocal jobs
            jobs = await delivered()
            return len(jobs) == 2 and all(j.delivered_at is not None for j in jobs)

        async with asyncio.timeout(60):
            while not await both_delivered():
                await asyncio.sleep(0.05)
        by_platform = {j.destination["platform"]: j for j in jobs}
        assert set(by_platform) == {"discord", "slack"}
        assert [(j.state, j.error) for j in jobs] == [("succeeded", None)] * 2
        # Each platform saw its own job's result and never the other's.
        on_discord = json.dumps(discord_stub.bodies())
        on_slack = json.dumps([r.body for r in slack_stub.responds]) + json.dumps(
            [c.params for c in slack_stub.calls]
        )
        assert "asked on discord" in on_discord and "asked on slack" not in on_discord
        assert "asked on slack" in on_slack and "asked on discord" not in on_slack
        assert f"job {by_platform['discord'].id}" not in on_slack
    finally:
        serving.cancel()  # what SIGTERM does (bot.cli._until_signalled)
        with pytest.raises(asyncio.CancelledError):
            await serving
        await app.close()
    # Both adapters stopped: Discord's gateway and Slack's socket are closed.
    await until(lambda: not discord_stub._sockets, what="the gateway closed")


async def test_a_refused_token_stops_every_platform_with_a_plain_message(
    tmp_path: Path,
    discord_stub: DiscordRestStub,
    slack_stub: SlackStub,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    discord_stub.reject_token = True
    app = await _app(tmp_path, discord_stub, slack_stub)
    try:
        code = await asyncio.wait_for(serve_platforms(app, ["discord", "slack"], RUN), 30)
    finally:
        await app.close()
    assert code == 2
    error = capsys.readouterr().err
    assert "Discord refused DISCORD_TOKEN" in error
    assert "discord could not start, so slack stopped too" in error
    assert "Traceback" not in error and not [r for r in caplog.records if r.exc_info]
    assert not app.started  # the job engine never started: Slack waited for Discord


# `classbot run` as a user starts it; only the gateway address is changed (discord.py has
# no setting for it), to the stand-in's.
RUN_CLASSBOT = """
import sys, yarl
from discord.gateway import DiscordWebSocket
DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[1])
from bot.cli import main
raise SystemExit(main(["run"]))
"""


async def test_sigterm_stops_both_platforms_cleanly(
    tmp_path: Path, discord_stub: DiscordRestStub, slack_stub: SlackStub
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CLASSBOT_"))}
    env.update(
        PYTHONPATH=str(REPO),
        DISCORD_TOKEN="test-token",
        CLASSBOT_DISCORD_API_URL=discord_stub.url,
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_APP_TOKEN="xapp-test",
        CLASSBOT_SLACK_API_URL=slack_stub.api_url,
        CLASSBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
        CLASSBOT_QUEUE_BACKEND="embedded",
        CLASSBOT_LOG_LEVEL="INFO",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        RUN_CLASSBOT,
        discord_stub.gateway_url,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await until(
            lambda: discord_stub.connected and bool(slack_stub.of("apps.connections.open")),
            timeout=60,
            what="classbot run connected to Discord and Slack",
        )
        await slack_stub.push(  # served: the Slack side answers while Discord is connected
            "slash_commands",
            {
                "team_id": "T0CLASS",
                "channel_id": "C0CLASS",
                "user_id": "U0STUDENT",
                "user_name": "ben",
                "command": "/classbot",
                "text": "help",
                "response_url": slack_stub.response_url(),
                "trigger_id": "trigger-2",
            },
        )
        await until(lambda: bool(slack_stub.responds), what="the Slack answer")
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = output.decode()
    assert process.returncode == 0, log
    assert "SIGTERM: stopping gracefully" in log
    assert "Traceback" not in log
    await until(lambda: not discord_stub._sockets, what="the gateway closed")
