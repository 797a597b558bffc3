"""The Discord adapter (discord.py 2.x): native slash commands generated from the router,
autocomplete, embeds, buttons, forms and files.

    classbot discord [--sync global|GUILD_ID]

`tree.py` builds the app-command tree, `render.py` turns replies into messages (embeds,
files) and `components.py` into buttons and forms, `messages.py` delivers them (interaction
token, then the channel), `client.py` handles interactions and provides the Outbox and
Roster. Set-up: README, "Discord app set-up".
"""

from __future__ import annotations

import argparse
import logging
import sys

import aiohttp
import discord

from adapters.discord.client import ClassbotClient
from bot.app import App

log = logging.getLogger(__name__)

__all__ = ["ClassbotClient", "serve", "use_api_url"]


def use_api_url(url: str) -> None:
    """Point discord.py's REST calls (login, webhooks, channel posts) at `url`.

    discord.py builds every URL from the class attribute `Route.BASE`, webhooks included,
    so it must be set before login; used for a proxy or the tests' local stand-in.
    """
    discord.http.Route.BASE = url.rstrip("/")


async def serve(app: App, args: argparse.Namespace) -> int:
    """Run the bot until it is stopped; returns the process exit code."""
    settings = app.settings
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        print(
            "DISCORD_TOKEN is not set. Create a bot in the Discord Developer Portal"
            " (README: 'Discord app set-up'), then put DISCORD_TOKEN=<bot token> in .env"
            " or the environment.",
            file=sys.stderr,
        )
        return 2
    sync = str(getattr(args, "sync", "global") or "global")
    if sync != "global" and not sync.isdigit():
        print(
            f"--sync takes 'global' or a server (guild) id, not {sync!r}. Copy the id with"
            " Developer Mode on: right-click the server → Copy Server ID.",
            file=sys.stderr,
        )
        return 2
    use_api_url(settings.discord_api_url)
    client = ClassbotClient(app, sync=sync)
    try:
        async with client:
            await client.start(token)
    except discord.LoginFailure:
        print(
            "Discord refused DISCORD_TOKEN: reset the token (Bot → Reset Token).", file=sys.stderr
        )
        return 2
    except discord.Forbidden as refused:
        if sync == "global":
            raise
        # Registering the commands in one server needs the bot in it (README, step 4).
        print(
            f"Discord refused to register the commands in server {sync} ({refused.text}):"
            " invite the bot to that server first (its invite link has the bot and"
            " applications.commands scopes), or check the server id.",
            file=sys.stderr,
        )
        return 2
    except (aiohttp.ClientError, OSError) as error:
        print(
            f"cannot reach Discord ({error}). Check this machine's network: a firewall, or a"
            " proxy (HTTPS_PROXY) to set.",
            file=sys.stderr,
        )
        return 2
    except discord.PrivilegedIntentsRequired:
        print(
            "CLASSBOT_DISCORD_MEMBERS_INTENT=true needs 'Server Members Intent' switched on"
            " (Developer Portal → Bot → Privileged Gateway Intents); or set it to false.",
            file=sys.stderr,
        )
        return 2
    return 0
