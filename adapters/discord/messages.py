"""Where replies go on Discord: the interaction's own messages while its token lives, the
channel (with the bot token) after.

A `Conversation` is every message sent for one interaction token, by key: replies with the
same key replace each other in one message (progress, then the result). The `DiscordOutbox`
keeps the conversations, so a job result for a command still being answered lands in the
same conversation, and a result after a restart starts a fresh one from the stored handle.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import discord

from adapters.discord.components import make_view
from adapters.discord.render import (
    MAX_CONTENT,
    NO_MENTIONS,
    Parts,
    clip,
    fit_uploads,
    render,
)
from bot.delivery import Destination
from bot.replies import Progress, Reply
from bot.services import Clock
from bot.share import delivered

log = logging.getLogger(__name__)

# Interaction tokens work for 15 minutes; stop a minute early so a request in flight never
# meets a dead token.
TOKEN_LIFETIME = timedelta(minutes=15)
TOKEN_MARGIN = timedelta(minutes=1)
# Discord allows about 5 edits per 5 s per channel: one progress edit every 2 s leaves room.
PROGRESS_INTERVAL = 2.0
KEPT_CONVERSATIONS = 1000
# Discord takes a nonce of at most 25 characters.
NONCE_LENGTH = 25


def nonce_for(conversation: str, key: str) -> str:
    """The nonce of a new message: the same for every send of one reply key in one
    conversation, whichever process sends it. Sent with `enforce_nonce`, Discord answers a
    second create with that nonce (a result re-sent after a crash between sending and
    recording it) with the first message instead of posting another, for a few minutes."""
    return hashlib.sha256(f"{conversation}|{key}".encode()).hexdigest()[:NONCE_LENGTH]


def handle_for(application_id: int, token: str, created_at: datetime) -> dict[str, str]:
    """What a Destination stores to answer an interaction later (strings, JSON-safe)."""
    return {
        "application_id": str(application_id),
        "token": token,
        "created_at": created_at.isoformat(),
    }


@dataclass
class _Sent:
    message_id: int
    private: bool
    progress: bool
    in_channel: bool  # posted with the bot token after the interaction token expired
    at: float  # monotonic time of the last write, for the progress throttle


class Conversation:
    """The messages of one interaction (see the module docstring)."""

    def __init__(
        self,
        client: discord.Client,
        *,
        application_id: int | None,
        token: str | None,
        created_at: datetime | None,
        channel_id: int | None,
        user_id: int,
        clock: Clock,
        monotonic: Callable[[], float] = time.monotonic,
        interaction: discord.Interaction | None = None,
        name: str = "",
    ) -> None:
        self.client = client
        # What makes this conversation's nonces its own (its token, or channel and user).
        self.name = name or token or f"channel:{channel_id}:{user_id}"
        self.application_id = application_id
        self.token = token
        self.created_at = created_at
        self.channel_id = channel_id
        self.user_id = user_id
        self.clock = clock
        self.monotonic = monotonic
        self.interaction = interaction
        # The deferred "thinking…" message is a free slot until a first reply takes it.
        self.thinking = False
        self.thinking_private = False
        self.dead = False  # the token failed early (e.g. the defer came too late)
        self._sent: dict[str, _Sent] = {}
        self._lock = asyncio.Lock()

    def deferred(self, *, private: bool) -> None:
        self.thinking = True
        self.thinking_private = private

    def expired(self) -> bool:
        if self.dead or not self.token or self.application_id is None or not self.created_at:
            return True
        return self.clock() >= self.created_at + TOKEN_LIFETIME - TOKEN_MARGIN

    async def send(self, reply: Reply, key: str, *, stable: bool = True) -> None:
        """Deliver one reply; replies with the same key replace each other. `stable`: the
        key names this reply wherever and whenever it is sent ("job:42"), so a message it
        creates carries a nonce that keeps a second send from posting a second message."""
        async with self._lock:
            sent = self._sent.get(key)
            progress = isinstance(reply, Progress)
            if (
                progress
                and sent is not None
                and sent.progress
                and self.monotonic() - sent.at < PROGRESS_INTERVAL
            ):
                return  # throttled; a later progress or the result replaces it anyway
            parts = await fit_uploads(render(reply))
            if not self.expired():
                try:
                    await self._send_in_place(parts, key, sent, progress)
                    return
                except (discord.NotFound, discord.Forbidden) as error:
                    log.warning("interaction token unusable (%s); posting to the channel", error)
                except discord.HTTPException as error:
                    if error.status != 401:
                        raise
                    log.warning("interaction token rejected; posting to the channel")
                self.dead = True
            await self._send_late(parts, key, sent, progress, stable)

    # -- while the interaction token lives -------------------------------------------------

    def _webhook(self) -> discord.Webhook:
        if self.interaction is not None:
            return self.interaction.followup
        # The same partial webhook Interaction.followup builds (type 3: application-owned,
        # so ephemeral followups are allowed), for a conversation resumed from a handle.
        return discord.Webhook.from_state(
            data={"id": self.application_id, "type": 3, "token": self.token},  # type: ignore[typeddict-item]
            state=self.client._connection,
        )

    async def _send_in_place(
        self, parts: Parts, key: str, sent: _Sent | None, progress: bool
    ) -> None:
        if sent is not None and not sent.in_channel:
            if sent.private == parts.private:
                await self._edit(sent.message_id, parts)
                sent.progress, sent.at = progress, self.monotonic()
                return
            # A private reply must not replace a public message (or the reverse): the old
            # one goes and the new one is posted with the right visibility.
            await self._delete(sent.message_id)
        message_id = await self._post(parts)
        self._sent[key] = _Sent(message_id, parts.private, progress, False, self.monotonic())

    async def _post(self, parts: Parts) -> int:
        view = make_view(parts.buttons)
        if self.thinking and self.interaction is not None:
            self.thinking = False
            if self.thinking_private == parts.private:
                original = await self.interaction.edit_original_response(
                    content=parts.content,
                    embeds=parts.embeds,
                    attachments=parts.files(),
                    view=view,
                    allowed_mentions=NO_MENTIONS,
                )
                return original.id
            # After a public defer, Discord would turn the first followup into an edit of
            # the public "thinking" message and ignore the ephemeral flag, so the
            # placeholder is deleted first and the private reply is a fresh followup.
            with contextlib.suppress(discord.NotFound):
                await self.interaction.delete_original_response()
        message = await self._webhook().send(
            content=parts.content or discord.utils.MISSING,
            embeds=parts.embeds,
            files=parts.files(),
            view=view or discord.utils.MISSING,
            ephemeral=parts.private,
            allowed_mentions=NO_MENTIONS,
            wait=True,
        )
        return message.id

    async def _edit(self, message_id: int, parts: Parts) -> None:
        # Every part is given so nothing of the previous reply stays (content, old files).
        await self._webhook().edit_message(
            message_id,
            content=parts.content,
            embeds=parts.embeds,
            attachments=parts.files(),
            view=make_view(parts.buttons),
            allowed_mentions=NO_MENTIONS,
        )

    async def _delete(self, message_id: int) -> None:
        # NotFound: already gone (deleted by a moderator, or dismissed).
        with contextlib.suppress(discord.NotFound):
            await self._webhook().delete_message(message_id)

    # -- after the token expired: the bot token, in the channel ----------------------------

    async def _send_late(
        self, parts: Parts, key: str, sent: _Sent | None, progress: bool, stable: bool
    ) -> None:
        if progress:
            # Progress after 15 minutes is not worth a new message or a ping: only the
            # result is posted.
            return
        # Without a stable key, a random nonce as discord.py would choose.
        nonce = nonce_for(self.name, key) if stable else secrets.token_hex(12)
        if parts.private:
            # Ephemeral messages need the token: a private late reply goes to a DM.
            await self._direct_message(parts, key, nonce)
            return
        if self.channel_id is None:
            log.warning("no channel to deliver a late reply to user %s", self.user_id)
            return
        channel = self.client.get_partial_messageable(self.channel_id)
        if sent is not None and sent.in_channel:
            await channel.get_partial_message(sent.message_id).edit(
                content=self._mention(parts.content),
                embeds=parts.embeds,
                attachments=parts.files(),
                view=make_view(parts.buttons),
                allowed_mentions=self._mention_only_requester(),
            )
            return
        if sent is not None and not sent.private:
            # The stale progress message of this key: the result below replaces it.
            try:
                await channel.get_partial_message(sent.message_id).delete()
            except discord.HTTPException:
                log.debug("could not delete stale message %s", sent.message_id)
        view = make_view(parts.buttons)
        message = await channel.send(
            content=self._mention(parts.content),
            embeds=parts.embeds,
            files=parts.files(),
            view=view or discord.utils.MISSING,
            allowed_mentions=self._mention_only_requester(),
            nonce=nonce,
        )
        self._sent[key] = _Sent(message.id, False, False, True, self.monotonic())

    def _mention(self, content: str | None) -> str:
        mention = f"<@{self.user_id}>"
        if not content:
            return mention
        return clip(f"{mention} {content}", MAX_CONTENT)

    def _mention_only_requester(self) -> discord.AllowedMentions:
        return discord.AllowedMentions(
            everyone=False, roles=False, users=[discord.Object(self.user_id)], replied_user=False
        )

    async def _direct_message(self, parts: Parts, key: str, nonce: str) -> None:
        try:
            channel = await self.client.create_dm(discord.Object(self.user_id))
            view = make_view(parts.buttons)
            await channel.send(
                content=parts.content or None,
                embeds=parts.embeds,
                files=parts.files(),
                view=view or discord.utils.MISSING,
                allowed_mentions=NO_MENTIONS,
                nonce=nonce,
            )
        except discord.Forbidden as error:
            # The user does not accept DMs from server members (50007): nothing else can be
            # private, so the channel is told it is ready and how to see it, nothing more.
            # Other errors raise: the relay sends the result again later.
            log.info("could not DM a private late reply to %s: %s", self.user_id, error)
            await self._dm_closed_note(key, nonce)

    async def _dm_closed_note(self, key: str, nonce: str) -> None:
        if self.channel_id is None:
            return
        job = key.removeprefix("job:") if key.startswith("job:") else ""
        todo = (
            f"Type /share job:{job} to post it here" if job.isdigit() else "Run the command again"
        )
        note = (
            "your result is ready, but it is private and your direct messages are closed. "
            f"{todo}, or allow direct messages from this server's members."
        )
        await self.client.get_partial_messageable(self.channel_id).send(
            content=self._mention(note),
            allowed_mentions=self._mention_only_requester(),
            nonce=nonce,
        )


class DiscordOutbox:
    """The Outbox for Discord (services.outboxes["discord"])."""

    def __init__(
        self,
        client: discord.Client,
        clock: Clock,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.clock = clock
        self.monotonic = monotonic
        self._conversations: OrderedDict[str, Conversation] = OrderedDict()
        self._counter = 0

    def open(self, interaction: discord.Interaction) -> Conversation:
        """The conversation of a live interaction (before it is answered)."""
        conversation = Conversation(
            self.client,
            application_id=interaction.application_id,
            token=interaction.token,
            created_at=interaction.created_at,
            channel_id=interaction.channel_id,
            user_id=interaction.user.id,
            clock=self.clock,
            monotonic=self.monotonic,
            interaction=interaction,
        )
        self._keep(interaction.token, conversation)
        return conversation

    async def send(self, destination: Destination, reply: Reply, *, key: str | None = None) -> None:
        stable = key is not None
        if key is None:
            # A key of this process only: it must not be mistaken for another process's.
            self._counter += 1
            key = f"outbox:{self._counter}"
        conversation = self._conversation(destination)
        await conversation.send(delivered(destination, reply, key), key, stable=stable)

    def _conversation(self, destination: Destination) -> Conversation:
        handle = destination.handle
        token = handle.get("token", "")
        name = token or f"channel:{destination.channel_id}:{destination.user_id}"
        found = self._conversations.get(name)
        if found is not None:
            self._conversations.move_to_end(name)
            return found
        created_at = handle.get("created_at")
        conversation = Conversation(
            self.client,
            application_id=int(handle["application_id"]) if "application_id" in handle else None,
            token=token or None,
            created_at=datetime.fromisoformat(created_at) if created_at else None,
            channel_id=int(destination.channel_id) if destination.channel_id.isdigit() else None,
            user_id=int(destination.user_id),
            clock=self.clock,
            monotonic=self.monotonic,
            name=name,
        )
        self._keep(name, conversation)
        return conversation

    def _keep(self, name: str, conversation: Conversation) -> None:
        self._conversations[name] = conversation
        self._conversations.move_to_end(name)
        while len(self._conversations) > KEPT_CONVERSATIONS:
            self._conversations.popitem(last=False)
