"""The Slack adapter: `classbot slack` (Socket Mode) or `classbot slack --http --port N`.

Socket Mode needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN and no public URL; HTTP mode needs
SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET and serves POST /slack/events.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError

from adapters.slack.app import EVENTS_PATH, SlackAdapter
from bot.app import App
from bot.config import Settings

__all__ = ["SlackAdapter", "missing_tokens", "serve", "start_http"]

log = logging.getLogger(__name__)


def missing_tokens(settings: Settings, http: bool) -> list[str]:
    """The environment variables a mode needs that are not set."""
    needed = {
        "SLACK_BOT_TOKEN": settings.slack_bot_token,
        "SLACK_SIGNING_SECRET" if http else "SLACK_APP_TOKEN": (
            settings.slack_signing_secret if http else settings.slack_app_token
        ),
    }
    return [name for name, value in needed.items() if not value or not value.get_secret_value()]


async def serve(app: App, args: argparse.Namespace) -> int:
    """Run until interrupted. Returns 2, naming the variables, when tokens are missing."""
    settings = app.settings
    http = bool(getattr(args, "http", False))
    missing = missing_tokens(settings, http)
    if missing:
        mode = "HTTP mode (--http)" if http else "Socket Mode"
        other = (
            "or Socket Mode without --http and SLACK_APP_TOKEN"
            if http
            else "or HTTP mode: --http and SLACK_SIGNING_SECRET"
        )
        print(
            f"classbot slack: {mode} needs {' and '.join(missing)} ({other};"
            " see README, 'Slack app set-up').",
            file=sys.stderr,
        )
        return 2
    assert settings.slack_bot_token is not None
    signing = settings.slack_signing_secret
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    adapter = SlackAdapter(
        app,
        bot_token=settings.slack_bot_token.get_secret_value(),
        signing_secret=signing.get_secret_value() if http and signing else None,
    )
    try:
        # Fail at start, naming the token, rather than at the first student's command
        # (and the socket client would retry a refused app token forever).
        await _check(adapter.client.auth_test(), "SLACK_BOT_TOKEN")
        if not http:
            await _check(
                adapter.client.apps_connections_open(app_token=app_token), "SLACK_APP_TOKEN"
            )
        await app.start()
        # What was acknowledged before a restart but never finished runs now, beside the
        # new commands.
        adapter.spawn(_replay(adapter))
        if http:
            await _serve_http(adapter, int(getattr(args, "port", 3000)))
        else:
            await _serve_socket_mode(adapter, app_token)
    except _NotStarted as problem:
        print(f"classbot slack: {problem}", file=sys.stderr)
        return 2
    finally:
        await adapter.close()
    return 0


async def _replay(adapter: SlackAdapter) -> None:
    try:
        await adapter.replay_saved()
    except Exception:
        log.exception("could not replay the saved Slack commands")


class _NotStarted(Exception):
    """Slack refused a token, or could not be reached, at start."""


async def _check(call: Awaitable[object], token: str) -> None:
    try:
        await call
    except SlackApiError as error:
        code = error.response.get("error")
        message = f"Slack refused {token} ({code}); check it (README, 'Slack app set-up')."
        raise _NotStarted(message) from None
    except (aiohttp.ClientError, OSError) as error:
        raise _NotStarted(f"cannot reach Slack ({error}). {UNREACHABLE}") from None


UNREACHABLE = "Check this machine's network: a firewall, or a proxy (HTTPS_PROXY) to set."


# A class can send a burst of commands at once; past aiohttp's default listen backlog (128)
# the kernel drops connections and Slack's retry comes a second later.
HTTP_BACKLOG = 1024


async def start_http(
    application: web.Application, host: str, port: int
) -> tuple[web.AppRunner, int]:
    """Serve an aiohttp application; returns the runner (to clean up) and the bound port."""
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=HTTP_BACKLOG)
    await site.start()
    return runner, int(runner.addresses[0][1])


async def _serve_http(adapter: SlackAdapter, port: int) -> None:
    runner, port = await start_http(adapter.web_app(), "0.0.0.0", port)
    try:
        log.info("Slack events at http://0.0.0.0:%d%s", port, EVENTS_PATH)
        await asyncio.Event().wait()  # until cancelled (Ctrl-C)
    finally:
        await runner.cleanup()


async def _serve_socket_mode(adapter: SlackAdapter, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(adapter.bolt, app_token)
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("connected to Slack in Socket Mode")
        await asyncio.Event().wait()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
