"""Who someone is on Slack: users.info, cached; instructors; the roster of a channel."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import Member

log = logging.getLogger(__name__)

UserInfo = dict[str, Any]


class People:
    """users.info with a cache; concurrent lookups of one user share one call."""

    def __init__(
        self,
        client: AsyncWebClient,
        instructors: Iterable[str],
        *,
        ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.instructors = frozenset(instructors)
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, UserInfo | None]] = {}
        self._pending: dict[str, asyncio.Future[UserInfo | None]] = {}

    async def info(self, user_id: str) -> UserInfo | None:
        """The users.info `user` object, or None when Slack will not say (a missing
        users:read scope, an unknown id): the caller then treats the person as a student."""
        cached = self._cache.get(user_id)
        if cached and cached[0] > self.clock():
            return cached[1]
        pending = self._pending.get(user_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[UserInfo | None] = asyncio.get_running_loop().create_future()
        self._pending[user_id] = future
        try:
            info = await self._lookup(user_id)
        except BaseException:  # cancelled: let waiters go on, cache nothing
            future.set_result(None)
            raise
        else:
            self._cache[user_id] = (self.clock() + self.ttl, info)
            future.set_result(info)
        finally:
            del self._pending[user_id]
        return info

    async def _lookup(self, user_id: str) -> UserInfo | None:
        try:
            response = await self.client.users_info(user=user_id)
        except SlackApiError as error:
            log.warning("users.info %s failed: %s", user_id, error.response.get("error"))
            return None
        except Exception:
            log.exception("users.info %s failed", user_id)
            return None
        user = response.get("user")
        return dict(user) if isinstance(user, dict) else None

    async def is_instructor(self, user_id: str) -> bool:
        """Listed in CLASSBOT_INSTRUCTORS, or a workspace admin or owner."""
        if user_id in self.instructors:
            return True
        return is_admin(await self.info(user_id))


def is_admin(info: UserInfo | None) -> bool:
    return bool(info and (info.get("is_admin") or info.get("is_owner")))


def display_name(info: UserInfo | None, fallback: str) -> str:
    if not info:
        return fallback
    profile = info.get("profile") or {}
    for name in (profile.get("display_name"), profile.get("real_name"), info.get("name")):
        if isinstance(name, str) and name.strip():
            return name.strip()
    return fallback


class SlackRoster:
    """The students of a channel: its members less bots, deactivated accounts and instructors."""

    def __init__(self, client: AsyncWebClient, people: People, *, concurrency: int = 8) -> None:
        self.client = client
        self.people = people
        self.concurrency = concurrency

    async def students(self, guild_id: str, channel_id: str) -> list[Member] | None:
        try:
            ids = await self._member_ids(channel_id)
        except SlackApiError as error:
            # e.g. missing channels:read/groups:read: the caller falls back to bot users.
            log.warning(
                "conversations.members %s failed: %s", channel_id, error.response.get("error")
            )
            return None
        gate = asyncio.Semaphore(self.concurrency)

        async def describe(user_id: str) -> Member | None:
            if user_id in self.people.instructors or user_id == "USLACKBOT":
                return None
            async with gate:
                info = await self.people.info(user_id)
            if is_admin(info) or (info and (info.get("is_bot") or info.get("deleted"))):
                return None
            return Member(user_id=user_id, display_name=display_name(info, user_id))

        members = await asyncio.gather(*(describe(user_id) for user_id in ids))
        return [member for member in members if member is not None]

    async def _member_ids(self, channel_id: str) -> list[str]:
        ids: list[str] = []
        cursor: str | None = None
        while True:
            response = await self.client.conversations_members(
                channel=channel_id, limit=200, cursor=cursor
            )
            ids.extend(str(user_id) for user_id in response.get("members") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return ids
