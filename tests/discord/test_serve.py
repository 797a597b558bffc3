"""`classbot discord`: clear errors before anything connects."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from adapters.discord import serve
from bot.app import create_app
from bot.cli import main
from tests.discord.rest_stub import DiscordRestStub
from tests.support.botdriver import settings_for_tests


@pytest.fixture
def no_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no developer .env
    for name in ("DISCORD_TOKEN", "CLASSBOT_DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLASSBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("CLASSBOT_QUEUE_BACKEND", "embedded")
    return tmp_path


def test_a_missing_token_is_a_clear_error(no_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discord"]) == 2
    error = capsys.readouterr().err
    assert "DISCORD_TOKEN is not set" in error and "Discord app set-up" in error


def test_a_bad_sync_target_is_a_clear_error(
    no_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "abc.def.ghi")
    assert main(["discord", "--sync", "my-server"]) == 2
    error = capsys.readouterr().err
    assert "--sync takes 'global' or a server (guild) id" in error
    assert "abc.def.ghi" not in error


async def _serve_once(tmp_path: Path, api_url: str, token: str, sync: str = "global") -> int:
    """`classbot discord` on these settings until it stops (here: at a start-up error)."""
    settings = settings_for_tests(tmp_path, discord_api_url=api_url, discord_token=token)
    app = await create_app(settings)
    app.background.clear()
    try:
        return await serve(app, argparse.Namespace(sync=sync))
    finally:
        await app.close()


async def test_a_refused_token_is_a_clear_error(
    tmp_path: Path, stub: DiscordRestStub, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.reject_token = True
    assert await _serve_once(tmp_path, stub.url, "reset.long.ago") == 2
    error = capsys.readouterr().err
    assert "Discord refused DISCORD_TOKEN" in error and "reset.long.ago" not in error
    assert [r.path for r in stub.requests] == ["/users/@me"]
    assert stub.requests[0].authorization == "Bot reset.long.ago"


async def test_syncing_to_a_server_the_bot_is_not_in_says_to_invite_it(
    tmp_path: Path, stub: DiscordRestStub, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.foreign_guilds.add("123456789")
    assert await _serve_once(tmp_path, stub.url, "a.b.c", sync="123456789") == 2
    error = capsys.readouterr().err
    assert error.startswith(
        "Discord refused to register the commands in server 123456789 (Missing Access):"
        " invite the bot to that server first"
    )


async def test_an_unreachable_discord_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _serve_once(tmp_path, "http://127.0.0.1:1/api/v10", "a.b.c") == 2
    error = capsys.readouterr().err
    assert error.startswith("cannot reach Discord (")
    assert "a firewall, or a proxy (HTTPS_PROXY) to set." in error
