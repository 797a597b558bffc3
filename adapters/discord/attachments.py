"""Discord attachments as the core's `Attachment` (bot/attachments.py).

A slash command's attachment option (type 11) arrives as a `discord.Attachment` whose size
Discord states up front, so an oversized file is refused before any download. After a
restart, a durable command saved in the inbox holds the attachment's CDN URL instead: the
source below fetches it again, from Discord's CDN hosts only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import discord

from bot.attachments import Attachment, unreadable

# Where Discord serves attachments; a saved reference naming any other host is refused.
CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
_TIMEOUT = aiohttp.ClientTimeout(total=60)


class DiscordAttachment(Attachment):
    def __init__(self, attachment: discord.Attachment) -> None:
        super().__init__(attachment.filename, attachment.size, attachment.content_type or "")
        self.attachment = attachment

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            yield await self.attachment.read()
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError):
            raise unreadable(f"Discord did not hand over {self.name}.") from None

    def __str__(self) -> str:
        return self.attachment.url


class CdnFile(Attachment):
    """An attachment fetched by its URL: a saved one (its size comes with the download), or
    one uploaded in a form (Discord states its size in the interaction)."""

    def __init__(
        self, url: str, *, name: str = "", size: int | None = None, content_type: str = ""
    ) -> None:
        super().__init__(name or urlsplit(url).path.rsplit("/", 1)[-1], size, content_type)
        self.url = url

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async with (
                aiohttp.ClientSession(timeout=_TIMEOUT) as session,
                session.get(self.url) as response,
            ):
                if response.status != 200:
                    raise unreadable(f"{self.name} is no longer on Discord.")
                async for chunk in response.content.iter_chunked(1 << 16):
                    yield chunk
        except (aiohttp.ClientError, TimeoutError):
            raise unreadable(f"Discord did not hand over {self.name}.") from None

    def __str__(self) -> str:
        return self.url


def uploaded_file(payload: dict[str, Any]) -> Attachment:
    """A file uploaded in a form, from the attachment the interaction resolves it to."""
    size = payload.get("size")
    return CdnFile(
        str(payload["url"]),
        name=str(payload.get("filename") or ""),
        size=int(size) if size is not None else None,
        content_type=str(payload.get("content_type") or ""),
    )


def as_attachment(value: object) -> object:
    """An option value as the core takes it: Discord's attachments wrapped, the rest as is."""
    return DiscordAttachment(value) if isinstance(value, discord.Attachment) else value


async def saved_attachment(reference: str) -> Attachment:
    """The source for a replayed command: an attachment's URL on Discord's CDN."""
    parts = urlsplit(reference.strip())
    if parts.scheme != "https" or parts.hostname not in CDN_HOSTS:
        raise unreadable(
            "On Discord a file is attached, not typed.",
            "Attach the file in the command's file option.",
        )
    return CdnFile(reference.strip())
