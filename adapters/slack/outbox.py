"""Deliver replies to Slack: through the response_url while it lasts, then the Web API.

A slash command or a click comes with a response_url: it can post in the channel (even one
the bot has not joined) and replace what it posted, but only 5 times within 30 minutes. Its
creation time travels in the destination handle; its uses are counted here. Once it is spent
or too old, replies go by chat.postMessage / chat.update (the bot token), and the message `ts`
of each key is kept (and written into the handle) so later replies edit the same message.

Progress edits are throttled to one every ~2 s per message and never take the last use of a
response_url, so the final reply can always replace the progress message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack import render
from bot.delivery import Destination
from bot.replies import (
    Error,
    File,
    Image,
    Modal,
    Progress,
    Reply,
    Text,
    as_plain_text,
    rewrite_text,
)
from bot.share import delivered

log = logging.getLogger(__name__)

RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME = 30 * 60.0
# Do not start on a URL about to expire: a failed call costs a round trip, then we fall back.
RESPONSE_URL_MARGIN = 60.0
TRIGGER_LIFETIME = 3.0
PROGRESS_INTERVAL = 2.0
_REMEMBERED = 5000

# Keys of Destination.handle written by the adapter (strings only: it is stored as JSON).
RESPONSE_URL = "response_url"
RESPONSE_URL_AT = "response_url_at"  # epoch seconds
# "command": replace_original edits what this URL posted; "action"/"view": it would replace
# the message that was clicked, so such a URL only ever posts new messages.
RESPONSE_URL_KIND = "response_url_kind"
TRIGGER_ID = "trigger_id"
TRIGGER_AT = "trigger_at"

# Slack must never turn text into mentions or links on its own.
_NO_PARSE: dict[str, Any] = {"parse": "none", "link_names": False}
_NO_UNFURL: dict[str, Any] = {"unfurl_links": False, "unfurl_media": False}


class FileNotDelivered(Exception):
    """Slack did not take a file: the reply was not delivered (a job relay tries again)."""


def ts_key(key: str) -> str:
    return f"ts:{key}"


@dataclass
class _Slot:
    """The one message that the replies of one key replace in turn."""

    channel: str
    ts: str | None = None  # posted by chat.postMessage: chat.update edits it
    by_url: bool = False  # posted through a command's response_url: it can replace it
    private: bool = False
    shown: bool = False  # something was posted (perhaps not editable: ephemeral, a click's URL)
    progress_at: float = -math.inf
    uploaded: str | None = None  # sha256 of the file this message's upload delivered
    upload_failed: bool = False  # the requester was told once already
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class SlackOutbox:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
        progress_interval: float = PROGRESS_INTERVAL,
        typed: Callable[[str], str] | None = None,
    ) -> None:
        """`typed` writes the commands in a reply's text as students type them here
        (adapters/slack/namespace.py)."""
        self.client = client
        self.typed = typed
        self.session = session
        self.clock = clock
        self.progress_interval = progress_interval
        self._url_uses: dict[str, int] = {}
        self._slots: OrderedDict[tuple[str, str], _Slot] = OrderedDict()
        self._dms: dict[str, str] = {}

    # -- the Outbox protocol ---------------------------------------------------------------

    async def send(self, destination: Destination, reply: Reply, *, key: str | None = None) -> None:
        reply = delivered(destination, reply, key)
        if self.typed is not None:
            reply = rewrite_text(reply, self.typed)
        if isinstance(reply, Modal):
            await self._open_modal(destination, reply)
            return
        if key is None:
            await self._deliver(destination, reply, None, None)
            return
        slot = self._slot(destination, key)
        async with slot.lock:
            if isinstance(reply, Progress):
                now = self.clock()
                if now - slot.progress_at < self.progress_interval:
                    return  # a newer progress or the result will follow
                slot.progress_at = now
            await self._deliver(destination, reply, slot, key)

    # -- delivery ----------------------------------------------------------------------------

    def _slot(self, destination: Destination, key: str) -> _Slot:
        index = (destination.channel_id, key)
        slot = self._slots.get(index)
        if slot is None:
            # After a restart the handle may still know the message to edit.
            ts = destination.handle.get(ts_key(key))
            slot = _Slot(channel=destination.channel_id, ts=ts, shown=ts is not None)
            self._slots[index] = slot
            while len(self._slots) > _REMEMBERED:
                self._slots.popitem(last=False)
        self._slots.move_to_end(index)
        return slot

    async def _deliver(
        self, destination: Destination, reply: Reply, slot: _Slot | None, key: str | None
    ) -> None:
        if isinstance(reply, File):
            await self._send_file(destination, reply, slot, key)
            return
        # Progress never spends the last use of a response_url: the result needs it.
        reserve = 1 if isinstance(reply, Progress) else 0
        for index, message in enumerate(render.messages(reply)):
            first = index == 0
            await self._put(
                destination, message, reply.private, slot if first else None, reserve, key
            )

    async def _put(
        self,
        destination: Destination,
        message: render.Message,
        private: bool,
        slot: _Slot | None,
        reserve: int,
        key: str | None,
    ) -> None:
        handle = destination.handle
        url = handle.get(RESPONSE_URL)
        editable = handle.get(RESPONSE_URL_KIND, "command") == "command"
        if slot is not None and slot.shown:
            if (
                slot.by_url
                and slot.private == private
                and self._usable(handle, reserve)
                and await self._respond(url, message, private=private, replace=True)
            ):
                return
            if slot.ts and not private:
                try:
                    await self.client.chat_update(
                        channel=slot.channel, ts=slot.ts, **message, **_NO_PARSE
                    )
                    return
                except SlackApiError as error:
                    log.warning("chat.update failed: %s", error.response.get("error"))
            if reserve:
                return  # progress that cannot edit in place waits for the result
            # The result cannot edit it (spent URL, ephemeral, deleted): post anew below.
        if private:
            if self._usable(handle, reserve) and await self._respond(
                url, message, private=True, replace=False
            ):
                self._posted(slot, by_url=editable, private=True)
                return
            if self._late(handle):
                # Half an hour on, the student may have gone: an ephemeral message shows
                # only to a user active in the channel, and not after a reload. A direct
                # message waits for them.
                channel = await self._dm(destination.user_id)
                await self.client.chat_postMessage(channel=channel, **message, **_NO_PARSE)
            else:
                await self.client.chat_postEphemeral(
                    channel=destination.channel_id, user=destination.user_id, **message, **_NO_PARSE
                )
            self._posted(slot, by_url=False, private=True)
            return
        if (
            self._usable(handle, reserve)
            and (slot is None or editable)
            and await self._respond(url, message, private=False, replace=False)
        ):
            self._posted(slot, by_url=True, private=False)
            return
        try:
            response = await self.client.chat_postMessage(
                channel=destination.channel_id, **message, **_NO_PARSE, **_NO_UNFURL
            )
        except SlackApiError as error:
            # not_in_channel and the like: a live response_url is the last way in.
            if self._usable(handle, 0) and await self._respond(
                url, message, private=False, replace=False
            ):
                self._posted(slot, by_url=editable, private=False)
                return
            raise error
        ts = str(response.get("ts") or "")
        self._posted(slot, by_url=False, private=False, ts=ts or None)
        if key is not None and ts:
            handle[ts_key(key)] = ts

    @staticmethod
    def _posted(slot: _Slot | None, *, by_url: bool, private: bool, ts: str | None = None) -> None:
        if slot is not None:
            slot.by_url, slot.private, slot.ts, slot.shown = by_url, private, ts, True

    # -- response_url ------------------------------------------------------------------------

    def _age(self, handle: dict[str, str]) -> float:
        """Seconds since the command that wants this reply got its response_url (0: none)."""
        created = _float(handle.get(RESPONSE_URL_AT))
        return 0.0 if created is None else self.clock() - created

    def _late(self, handle: dict[str, str]) -> bool:
        """Whether that command was given a response_url's lifetime ago or more."""
        return self._age(handle) > RESPONSE_URL_LIFETIME

    def _usable(self, handle: dict[str, str], reserve: int) -> bool:
        url = handle.get(RESPONSE_URL)
        if not url or self._age(handle) > RESPONSE_URL_LIFETIME - RESPONSE_URL_MARGIN:
            return False
        return self._url_uses.get(url, 0) + reserve < RESPONSE_URL_USES

    async def _respond(
        self, url: str | None, message: render.Message, *, private: bool, replace: bool
    ) -> bool:
        if not url:
            return False
        self._url_uses[url] = self._url_uses.get(url, 0) + 1
        if len(self._url_uses) > _REMEMBERED:
            self._url_uses.pop(next(iter(self._url_uses)))
        body = {
            **message,
            "response_type": "ephemeral" if private else "in_channel",
            "replace_original": replace,
        }
        try:
            answer = await AsyncWebhookClient(url, session=self.session).send_dict(body)
        except Exception as error:  # network trouble: the Web API may still get through
            log.warning("response_url failed: %s", error)
            return False
        if answer.status_code != 200:
            log.info("response_url refused (%s %s)", answer.status_code, answer.body[:100])
            self._url_uses[url] = RESPONSE_URL_USES  # expired or used up: stop trying it
            return False
        return True

    # -- files and modals --------------------------------------------------------------------

    async def _send_file(
        self, destination: Destination, reply: File, slot: _Slot | None, key: str | None
    ) -> None:
        """Upload the file, then show its caption; raise FileNotDelivered if Slack refuses.

        The caption never goes out without the file: it rides on the upload as its comment,
        or (to replace a progress message, or to carry buttons) is put after the upload
        succeeded. A retry of the same key does not upload a file that already went out.
        """
        caption_after = (slot is not None and slot.shown) or bool(reply.buttons)
        comment = render.escape(reply.caption) if reply.caption and not caption_after else None
        digest = hashlib.sha256(reply.data).hexdigest()
        if slot is None or slot.uploaded != digest:
            await self._upload(destination, reply, slot, comment)
            if slot is not None:
                slot.uploaded = digest
        if caption_after:
            # The progress message becomes the caption (with the buttons) above the file.
            await self._put(destination, render.messages(reply)[0], reply.private, slot, 0, key)

    async def _upload(
        self, destination: Destination, reply: File, slot: _Slot | None, comment: str | None
    ) -> None:
        channel = destination.channel_id
        try:
            if reply.private:  # no ephemeral files on Slack: the requester's DM instead
                channel = await self._dm(destination.user_id)
            await self.client.files_upload_v2(
                channel=channel,
                file=reply.data,
                filename=reply.filename,
                title=reply.filename,
                alt_txt=reply.alt if isinstance(reply, Image) and reply.alt else None,
                initial_comment=comment,
            )
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as error:
            code = error.response.get("error") if isinstance(error, SlackApiError) else None
            log.warning("files upload to %s failed: %s", channel, code or error)
            # Said once per message: a job's delivery is retried and would repeat it.
            if slot is None or not slot.upload_failed:
                if slot is not None:
                    slot.upload_failed = True
                problem = Error(
                    what=f"Slack did not take the file {reply.filename} ({code or 'no answer'}).",
                    todo="Invite the bot to this channel (/invite @classbot) and try again.",
                )
                await self._deliver(destination, problem, None, None)
            raise FileNotDelivered(f"{reply.filename}: {code or error}") from error

    async def _dm(self, user_id: str) -> str:
        channel = self._dms.get(user_id)
        if channel is None:
            response = await self.client.conversations_open(users=user_id)
            channel = str((response.get("channel") or {}).get("id"))
            self._dms[user_id] = channel
        return channel

    async def _open_modal(self, destination: Destination, modal: Modal) -> None:
        handle = destination.handle
        trigger = handle.pop(TRIGGER_ID, None)  # a trigger opens one view, once
        created = _float(handle.get(TRIGGER_AT)) or 0.0
        # A Slack text input holds 3,000 characters: a longer saved answer (typed as a
        # command, up to 4,000) would come back cut in the form, so the inline way is given.
        fits = all(len(f.default) <= render.MODAL_INPUT for f in modal.fields if not f.upload)
        if trigger and fits and self.clock() - created < TRIGGER_LIFETIME:
            try:
                await self.client.views_open(
                    trigger_id=trigger,
                    view=render.modal_view(modal, modal_metadata(destination, modal)),
                )
                return
            except SlackApiError as error:
                log.warning("views.open failed: %s", error.response.get("error"))
        # No fresh trigger (a late result, a slow handler): say how to do it inline instead.
        text = as_plain_text(modal)
        if not fits:
            text = (
                f"What you saved is longer than a Slack form holds ({render.MODAL_INPUT:,}"
                f" characters), so the form cannot open with it. {text}"
            )
        await self._deliver(destination, Text(text=text, private=True), None, None)


def modal_metadata(destination: Destination, modal: Modal) -> str:
    """What the view submission needs: the action, where to answer, the response_url."""
    data: dict[str, str] = {"action": modal.submit_action, "channel": destination.channel_id}
    for name in (RESPONSE_URL, RESPONSE_URL_AT, RESPONSE_URL_KIND):
        if name in destination.handle:
            data[name] = destination.handle[name]
    text = json.dumps(data, separators=(",", ":"))
    if len(text) > render.METADATA:  # private_metadata holds 3,000 characters
        data = {"action": modal.submit_action, "channel": destination.channel_id}
        text = json.dumps(data, separators=(",", ":"))
    return text


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
