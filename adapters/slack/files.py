"""Slack files as the core's `Attachment` (bot/attachments.py).

Slash commands carry no files. A student uploads the clip or image in the channel, then
types its link (or its id) after `file:`; Slack sends a pasted link as `<https://…|label>`.
The source finds the file with `files.info` (the bot token, scope `files:read`) and downloads
`url_private` with the same token, from Slack's file host only: a link to another host is
refused before anything is fetched, and the token never goes anywhere else (nor to a log).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.attachments import Attachment, unreadable

FILE_ID = re.compile(r"F[A-Z0-9]{6,}")
# Where Slack serves uploaded files (url_private); the Web API's own host is trusted too.
FILE_HOSTS = frozenset({"files.slack.com"})
_TODO = (
    "Upload the file in this channel, copy its link (… → Copy link), then type file:<that link>."
)
_TIMEOUT = aiohttp.ClientTimeout(total=60)


class SlackFile(Attachment):
    def __init__(
        self, info: dict[str, Any], url: str, token: str, session: aiohttp.ClientSession
    ) -> None:
        size = info.get("size")
        super().__init__(
            str(info.get("name") or info.get("title") or "file"),
            int(size) if isinstance(size, int) else None,
            str(info.get("mimetype") or ""),
        )
        self.file_id = str(info.get("id") or "")
        self._url, self._token, self._session = url, token, session

    async def chunks(self) -> AsyncIterator[bytes]:
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with self._session.get(
                self._url, headers=headers, timeout=_TIMEOUT, allow_redirects=False
            ) as response:
                if response.status != 200:
                    raise unreadable(f"Slack did not hand over {self.name}.", _TODO)
                async for chunk in response.content.iter_chunked(1 << 16):
                    yield chunk
        except (aiohttp.ClientError, TimeoutError):
            raise unreadable(f"Slack did not hand over {self.name}.", _TODO) from None

    def __str__(self) -> str:
        return self.file_id  # files.info finds it again after a restart


class SlackFiles:
    """The Slack source: a typed link or file id → the file, through files.info."""

    def __init__(self, client: AsyncWebClient, session: aiohttp.ClientSession) -> None:
        self.client, self.session = client, session
        api_host = urlsplit(client.base_url).hostname
        self.hosts = FILE_HOSTS | ({api_host} if api_host else set())

    async def __call__(self, reference: str) -> Attachment:
        file_id = file_id_of(reference)
        try:
            answer = await self.client.files_info(file=file_id)
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            what = (
                "The bot may not read files here (it needs the files:read scope)."
                if code in ("missing_scope", "not_allowed_token_type", "no_permission")
                else f"Slack has no file {file_id} the bot can see."
            )
            raise unreadable(what, _TODO) from None
        except (aiohttp.ClientError, TimeoutError):
            raise unreadable(
                "Slack did not answer about the file.", "Try again in a moment."
            ) from None
        info = dict(answer.get("file") or {})
        url = str(info.get("url_private_download") or info.get("url_private") or "")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or parts.hostname not in self.hosts:
            raise unreadable(f"Slack gave no download for {file_id}.", _TODO)
        token = self.client.token or ""
        return SlackFile(info, url, token, self.session)


def file_id_of(reference: str) -> str:
    """The file id in a typed reference: `F0123ABCD`, a Slack file link, or Slack's
    `<link|label>` form; UsageError for anything else (a link to another site included)."""
    text = reference.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    link = text.partition("|")[0].strip()  # the label is only what Slack shows
    if FILE_ID.fullmatch(link):
        return link
    parts = urlsplit(link)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and (host == "slack.com" or host.endswith(".slack.com")):
        for segment in parts.path.split("/"):
            if FILE_ID.fullmatch(segment):
                return segment
    raise unreadable(f"file: takes a Slack file's link or id, not {clip_ref(reference)}.", _TODO)


def clip_ref(text: str) -> str:
    return text if len(text) <= 60 else text[:59] + "…"
