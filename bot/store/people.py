"""Guilds and users: created on first sight, refreshed on every command."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.identity import Actor
from bot.store.models import Guild, User

if TYPE_CHECKING:
    from bot.store.db import Store


@dataclass(frozen=True)
class Seen:
    """Database ids of the actor's guild and user."""

    guild_id: int
    user_id: int


def _insert(session: AsyncSession, table: Any) -> Any:
    # ON CONFLICT keeps concurrent first commands of one user from colliding.
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


async def touch_actor(session: AsyncSession, actor: Actor, now: datetime) -> Seen:
    return (await touch_actors(session, [actor], now))[actor]


async def touch_actors(
    session: AsyncSession, actors: Sequence[Actor], now: datetime
) -> dict[Actor, Seen]:
    """Create or refresh many actors in four statements, whatever their number."""
    guild_keys = {(a.platform, a.guild_id) for a in actors}
    guild_insert = _insert(session, Guild).values(
        [
            {"platform": p, "external_id": g, "settings": {}, "created_at": now}
            for p, g in sorted(guild_keys)
        ]
    )
    await session.execute(guild_insert.on_conflict_do_nothing())
    rows = await session.execute(
        select(Guild.id, Guild.platform, Guild.external_id).where(
            Guild.platform.in_({p for p, _ in guild_keys}),
            Guild.external_id.in_({g for _, g in guild_keys}),
        )
    )
    guild_ids = {(platform, external): pk for pk, platform, external in rows}
    # One row per user: the same user twice in one upsert is an error on PostgreSQL.
    latest = {(guild_ids[(a.platform, a.guild_id)], a.user_id): a for a in actors}
    user_insert = _insert(session, User).values(
        [
            {
                "guild_id": guild_id,
                "external_id": user,
                "display_name": actor.display_name,
                "role": actor.role.value,
                "first_seen": now,
                "last_seen": now,
            }
            for (guild_id, user), actor in latest.items()
        ]
    )
    excluded = user_insert.excluded
    await session.execute(
        user_insert.on_conflict_do_update(
            index_elements=["guild_id", "external_id"],
            set_={
                "display_name": excluded.display_name,
                "role": excluded.role,
                "last_seen": excluded.last_seen,
            },
        )
    )
    user_rows = await session.execute(
        select(User.id, User.guild_id, User.external_id).where(
            User.guild_id.in_({guild_id for guild_id, _ in latest}),
            User.external_id.in_({user for _, user in latest}),
        )
    )
    user_ids = {(guild_id, external): pk for pk, guild_id, external in user_rows}
    seen: dict[Actor, Seen] = {}
    for actor in actors:
        guild_id = guild_ids[(actor.platform, actor.guild_id)]
        seen[actor] = Seen(guild_id=guild_id, user_id=user_ids[(guild_id, actor.user_id)])
    return seen


MAX_BATCH = 500


class ActorWriter:
    """Group commit for first sightings: actors arriving while a write is under way are
    written together in the next one, so 200 students starting at once cost a few
    transactions instead of 200 (SQLite has one writer)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._waiting: dict[Actor, list[asyncio.Future[Seen]]] = {}
        self._writer: asyncio.Task[None] | None = None

    async def touch(self, actor: Actor, now: datetime) -> Seen:
        future: asyncio.Future[Seen] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(actor, []).append(future)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(now))
        return await future

    async def _write_all(self, now: datetime) -> None:
        while self._waiting:
            # Bounded batches keep each statement well under the databases' parameter limits.
            taken = list(self._waiting)[:MAX_BATCH]
            batch = {actor: self._waiting.pop(actor) for actor in taken}
            try:
                async with self.store.session(write=True) as session:
                    seen = await touch_actors(session, list(batch), now)
            except Exception as error:
                for futures in batch.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(error)
                continue
            for actor, futures in batch.items():
                for future in futures:
                    if not future.done():
                        future.set_result(seen[actor])


class SeenCache:
    """Skips the upsert for actors seen recently with the same name and role.

    Every command needs the actor's database ids; writing them on every command would make
    SQLite's single writer the bottleneck of a busy class. `last_seen` is refreshed at most
    once per `refresh_seconds`.
    """

    def __init__(self, refresh_seconds: float = 600.0, max_size: int = 10_000) -> None:
        self.refresh = refresh_seconds
        self.max_size = max_size
        self._seen: dict[Actor, tuple[Seen, datetime]] = {}

    def get(self, actor: Actor, now: datetime) -> Seen | None:
        cached = self._seen.get(actor)
        if cached is None or (now - cached[1]).total_seconds() > self.refresh:
            return None
        return cached[0]

    def put(self, actor: Actor, seen: Seen, now: datetime) -> None:
        if len(self._seen) >= self.max_size:
            self._seen.clear()
        self._seen[actor] = (seen, now)
