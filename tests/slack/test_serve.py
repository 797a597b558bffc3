"""`classbot slack`: Socket Mode (default), HTTP mode, missing tokens, the app manifest."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from adapters.slack import serve
from adapters.slack.manifest import BOT_SCOPES, manifest
from adapters.slack.namespace import Namespace
from bot.app import App, create_app
from bot.commands import all_commands
from tests.slack.commands import TEST_COMMANDS
from tests.slack.harness import SECRET, sign
from tests.slack.webapi_stub import SlackStub
from tests.support.botdriver import settings_for_tests
from tests.support.cli import run_classbot

REPO = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def _serving(app: App, **args: Any) -> AsyncIterator[asyncio.Task[int]]:
    task = asyncio.create_task(serve(app, argparse.Namespace(**args)))
    try:
        yield task
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await app.close()


async def _until(condition: Any, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _command_payload(stub: SlackStub, name: str, text: str) -> dict[str, str]:
    return {
        "team_id": "T0CLASS",
        "channel_id": "C0CLASS",
        "user_id": "U0STUDENT",
        "user_name": "ana",
        # The default namespace: one /classbot command, the classbot command its first word.
        "command": "/classbot",
        "text": f"{name} {text}".rstrip(),
        "response_url": stub.response_url(),
        "trigger_id": "trigger-1",
    }


async def test_socket_mode_receives_a_command_acks_it_and_answers(
    tmp_path: Path, stub: SlackStub
) -> None:
    settings = settings_for_tests(
        tmp_path,
        slack_api_url=stub.api_url,
        slack_bot_token="xoxb-test",
        slack_app_token="xapp-test",
    )
    app = await create_app(settings)
    async with _serving(app, http=False):
        ack = await stub.push("slash_commands", _command_payload(stub, "help", "help"))
        assert ack["envelope_id"].startswith("env-")
        await _until(lambda: stub.responds)
    opened = stub.of("apps.connections.open")
    assert opened and {call.token for call in opened} == {"xapp-test"}  # the app-level token
    assert "/classbot help" in stub.responds[0].body["text"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _http_app(tmp_path: Path, stub: SlackStub) -> App:
    settings = settings_for_tests(
        tmp_path,
        slack_api_url=stub.api_url,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
    )
    return await create_app(settings)


async def _post_when_up(
    http: aiohttp.ClientSession, url: str, body: str, headers: dict[str, str]
) -> int:
    for _ in range(100):  # the server starts in the background
        try:
            async with http.post(url, data=body, headers=headers) as response:
                return response.status
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.05)
    raise AssertionError("the HTTP server did not start")


async def test_http_mode_serves_signed_events_on_its_port(tmp_path: Path, stub: SlackStub) -> None:
    port = _free_port()
    app = await _http_app(tmp_path, stub)
    async with _serving(app, http=True, port=port), aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{port}/slack/events"
        body = urllib.parse.urlencode(_command_payload(stub, "help", ""))
        assert await _post_when_up(http, url, body, sign(body)) == 200
        async with http.post(url, data=body, headers=sign(body, secret="wrong")) as response:
            assert response.status == 401
        await _until(lambda: stub.responds)
    assert stub.responds[0].body["text"] == "classbot commands"


async def test_a_timestamp_that_is_not_a_number_is_refused_with_401(
    tmp_path: Path, stub: SlackStub, caplog: pytest.LogCaptureFixture
) -> None:
    port = _free_port()
    app = await _http_app(tmp_path, stub)
    async with _serving(app, http=True, port=port), aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{port}/slack/events"
        body = urllib.parse.urlencode(_command_payload(stub, "help", ""))
        for garbage in ("garbage", "", "1.7e9", "12abc"):
            headers = {**sign(body), "X-Slack-Request-Timestamp": garbage}
            assert await _post_when_up(http, url, body, headers) == 401, garbage
        # A good request after them is still served: the server did not trip over them.
        assert await _post_when_up(http, url, body, sign(body)) == 200
        await _until(lambda: stub.responds)
    assert len(stub.responds) == 1
    assert not [r for r in caplog.records if r.exc_info], "no traceback was logged"


@pytest.mark.parametrize(
    ("http", "tokens", "named"),
    [
        (False, {}, ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"]),
        (False, {"slack_bot_token": "xoxb-1"}, ["SLACK_APP_TOKEN"]),
        (
            True,
            {"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-1"},
            ["SLACK_SIGNING_SECRET"],
        ),
    ],
)
async def test_missing_tokens_are_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    http: bool,
    tokens: dict[str, str],
    named: list[str],
) -> None:
    app = await create_app(settings_for_tests(tmp_path, **tokens))
    try:
        assert await serve(app, argparse.Namespace(http=http, port=0)) == 2
    finally:
        await app.close()
    error = capsys.readouterr().err
    needs, _, other = error.partition(" (or ")
    for name in named:
        assert name in needs
    for name in {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"} - set(named):
        assert name not in needs
    # The other mode is named too: the one with the token at hand may be the one meant.
    assert other.startswith("Socket Mode without --http" if http else "HTTP mode: --http and")


async def _socket_mode_once(tmp_path: Path, api_url: str, tokens: str) -> int:
    """`classbot slack` in Socket Mode on this API until it stops (here: at start-up)."""
    settings = settings_for_tests(
        tmp_path,
        slack_api_url=api_url,
        slack_bot_token=f"xoxb-{tokens}",
        slack_app_token=f"xapp-{tokens}",
    )
    app = await create_app(settings)
    try:
        return await asyncio.wait_for(serve(app, argparse.Namespace(http=False)), 60)
    finally:
        await app.close()


@pytest.mark.parametrize(
    ("method", "named"),
    [("auth.test", "SLACK_BOT_TOKEN"), ("apps.connections.open", "SLACK_APP_TOKEN")],
)
async def test_a_refused_token_stops_the_start_naming_it(
    tmp_path: Path,
    stub: SlackStub,
    capsys: pytest.CaptureFixture[str],
    method: str,
    named: str,
) -> None:
    stub.fail[method] = "invalid_auth"
    assert await _socket_mode_once(tmp_path, stub.api_url, "revoked") == 2
    assert f"Slack refused {named} (invalid_auth)" in capsys.readouterr().err


async def test_an_unreachable_slack_stops_the_start_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _socket_mode_once(tmp_path, "http://127.0.0.1:1/api/", "1") == 2
    error = capsys.readouterr().err
    assert error.startswith("classbot slack: cannot reach Slack (")
    assert "a firewall, or a proxy (HTTPS_PROXY) to set." in error


def test_the_cli_names_the_missing_tokens(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CLASSBOT_"))}
    env["CLASSBOT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    result = run_classbot(
        "slack",
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "SLACK_BOT_TOKEN and SLACK_APP_TOKEN" in result.stderr


def test_the_manifest_has_a_slash_command_for_every_command_with_a_prefix() -> None:
    commands = [*all_commands(), *TEST_COMMANDS]
    namespace = Namespace(tuple(c.name for c in commands), prefix="hf-")
    socket_mode = yaml.safe_load(manifest(commands, namespace=namespace))
    declared = socket_mode["features"]["slash_commands"]
    assert [c["command"] for c in declared] == [f"/hf-{c.name}" for c in commands]
    by_name = {c["command"]: c for c in declared}
    assert by_name["/hf-help"]["usage_hint"] == "[command]"
    assert by_name["/hf-quiz"]["usage_hint"] == "start | form | answer | skip"
    assert all(c["should_escape"] is False and "url" not in c for c in declared)
    assert socket_mode["settings"]["socket_mode_enabled"] is True
    assert set(socket_mode["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)
    assert {"commands", "chat:write", "files:write", "users:read"} <= set(BOT_SCOPES)

    url = "https://bot.example.edu/slack/events"
    http = yaml.safe_load(manifest(commands, url=url, namespace=namespace))
    assert all(c["url"] == url for c in http["features"]["slash_commands"])
    assert http["settings"]["interactivity"]["request_url"] == url
    assert http["settings"]["socket_mode_enabled"] is False


def test_by_default_the_manifest_declares_one_namespaced_command() -> None:
    commands = [*all_commands(), *TEST_COMMANDS]
    (declared,) = yaml.safe_load(manifest(commands))["features"]["slash_commands"]
    assert declared["command"] == "/classbot"  # never Slack's own /search
    assert declared["usage_hint"].split(" | ") == [c.name for c in commands]
    assert "/classbot help" in declared["description"]


def _manifest_script(*args: str, **env: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "adapters.slack.manifest", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=True,
        env={**os.environ, **env},
    )
    printed = yaml.safe_load(result.stdout)
    return [c["command"] for c in printed["features"]["slash_commands"]]


def test_the_manifest_script_follows_the_namespace_setting() -> None:
    assert _manifest_script() == ["/classbot"]
    assert _manifest_script(CLASSBOT_SLACK_COMMAND="hub") == ["/hub"]
    prefixed = _manifest_script(CLASSBOT_SLACK_PREFIX="hf-")
    assert "/hf-search" in prefixed and "/hf-help" in prefixed and "/search" not in prefixed
    assert "/hf-help" in _manifest_script("--prefix", "hf-")


def test_the_manifest_script_says_what_is_wrong_with_a_setting() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "adapters.slack.manifest", "--prefix", "HF-"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "Bad configuration:\n  CLASSBOT_SLACK_PREFIX: use up to 20 lowercase letters, digits,"
        " - or _, the first a letter or digit (or leave it empty) (got 'HF-')\n"
    )
