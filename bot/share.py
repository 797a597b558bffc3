"""Quiet channels: exploration replies are seen by the student alone, with a Share button.

A command declared `exploration=True` (/search, /dataset, /generate, /imagine) answers
privately unless the class chose public replies (`/class replies:public`, stored in the
guild's settings). The router decides this once per command (`quiet`), marks the replies
(`hush`), and for a job command marks the destination, so that the job's result, delivered
later through an outbox, is private too (`delivered`). Errors are private anyway; activity
posts, reminders and closes never pass through here and stay public.

Share is a button whose action is a command line: `/share job:N` re-posts the stored result
of job N, `/share id:<key>` the very answer kept here in memory (`ShareCache`), publicly and
credited to whoever shared it. Nothing is run again.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

from bot.delivery import Destination
from bot.replies import Button, Card, Error, File, Modal, Progress, Reply, Table, Text
from bot.store import Store
from bot.store.models import Guild

# guilds.settings key: "public" or "private" (the default).
REPLIES_KEY = "replies"
VISIBILITIES = ("private", "public")
# Destination.handle key: the job's result is for its requester only.
QUIET_HANDLE = "quiet"
SHARE_LABEL = "Share"
_JOB_KEY = re.compile(r"^job:(\d+)$")


class Visibility:
    """Whether each class chose public exploration replies, kept `ttl` seconds.

    Every exploration command asks; reading the guild's settings each time would put a
    database round trip before every /search and every job. A change made here is seen at
    once; one made by another bot process (a replica) within `ttl` seconds."""

    def __init__(self, store: Store, ttl: float = 5.0) -> None:
        self.store, self.ttl = store, ttl
        self._known: dict[int, tuple[bool, float]] = {}

    async def public(self, guild_pk: int) -> bool:
        known = self._known.get(guild_pk)
        if known is not None and time.monotonic() - known[1] < self.ttl:
            return known[0]
        async with self.store.session() as session:
            guild = await session.get(Guild, guild_pk)
        settings = (guild.settings if guild else None) or {}
        public = settings.get(REPLIES_KEY) == "public"
        self._known[guild_pk] = (public, time.monotonic())
        return public

    async def choose(self, guild_pk: int, visibility: str) -> None:
        async with self.store.session(write=True) as session:
            guild = await session.get(Guild, guild_pk)
            assert guild is not None  # the router created it before any command ran
            guild.settings = {**(guild.settings or {}), REPLIES_KEY: visibility}
        self._known[guild_pk] = (visibility == "public", time.monotonic())


def share_button(action: str) -> Button:
    return Button(label=SHARE_LABEL, action=action)


def hush(reply: Reply, share_action: str | None) -> Reply:
    """The reply as its requester alone sees it, with a Share button where it can be shared.

    A reply that is private already (an error, a form, an instructor's note) is unchanged.
    """
    if reply.private or isinstance(reply, Error):
        return reply
    if isinstance(reply, (Progress, Modal)) or share_action is None or not reply.shareable:
        return replace(reply, private=True)
    return replace(reply, private=True, buttons=(*reply.buttons, share_button(share_action)))


def delivered(destination: Destination, reply: Reply, key: str | None) -> Reply:
    """A reply delivered later (a job's progress and result) as its destination wants it:
    every outbox calls this before it sends."""
    if destination.handle.get(QUIET_HANDLE) != "1":
        return reply
    if isinstance(reply, Error):
        return replace(reply, private=True)
    job = _JOB_KEY.match(key or "")
    return hush(reply, f"/share job:{job.group(1)}" if job else None)


def credited(reply: Reply, name: str) -> Reply:
    """The shared copy: public, without its Share button, saying who shared it."""
    buttons = tuple(b for b in reply.buttons if b.label != SHARE_LABEL)
    note = f"Shared by {name}"
    shared = replace(reply, private=False, buttons=buttons)
    match shared:
        case Card() | Table():
            footer = f"{note} · {shared.footer}" if shared.footer else note
            return replace(shared, footer=footer)
        case File():
            return replace(shared, caption=f"{shared.caption}\n{note}".strip())
        case Text():
            return replace(shared, text=f"{shared.text}\n— {note.lower()}")
    return shared


# Within this many seconds a shared answer is still near the bottom of the channel: sharing
# it again would only post it twice.
REPOST_AFTER = 600.0


@dataclass(frozen=True)
class Kept:
    reply: Reply
    user_id: str
    guild_id: str
    at: float


class ShareCache:
    """The answers a student may still share, by key, for `ttl` seconds (in memory: after
    a restart the student runs the command again)."""

    def __init__(self, size: int = 2000, ttl: float = 3600.0) -> None:
        self.size, self.ttl = size, ttl
        self._kept: OrderedDict[str, Kept] = OrderedDict()
        self._posted: OrderedDict[str, float] = OrderedDict()

    def posted_since(self, what: str, guild_id: str) -> float | None:
        """Seconds since `what` was shared in this class, if within REPOST_AFTER (a second
        press of Share, a double click); otherwise None, and it counts as shared now."""
        key, now = f"{guild_id}\n{what}", time.monotonic()
        while self._posted and now - next(iter(self._posted.values())) > REPOST_AFTER:
            self._posted.popitem(last=False)
        if key in self._posted:
            return now - self._posted[key]
        self._posted[key] = now
        while len(self._posted) > self.size:
            self._posted.popitem(last=False)
        return None

    def put(self, key: str, reply: Reply, *, user_id: str, guild_id: str) -> None:
        self._kept[key] = Kept(reply, user_id, guild_id, time.monotonic())
        self._kept.move_to_end(key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def get(self, key: str) -> Kept | None:
        kept = self._kept.get(key)
        if kept is None or time.monotonic() - kept.at > self.ttl:
            self._kept.pop(key, None)
            return None
        return kept
