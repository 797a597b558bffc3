"""Guilds and users: created on first sight, refreshed when their name or role changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.identity import Actor
from bot.store.group import Grouped
from bot.store.models import Guild, User

if TYPE_CHECKING:
    from bot.store.db import Store

log = logging.getLogger(__name__)


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
    # executemany of one statement: SQLAlchemy compiles it once and sends the rows in a
    # few multi-row batches, whatever their number.
    await session.execute(
        _insert(session, Guild).on_conflict_do_nothing(),
        [
            {"platform": p, "external_id": g, "settings": {}, "created_at": now}
            for p, g in sorted(guild_keys)
        ],
    )
    rows = await session.execute(
        select(Guild.id, Guild.platform, Guild.external_id).where(
            Guild.platform.in_({p for p, _ in guild_keys}),
            Guild.external_id.in_({g for _, g in guild_keys}),
        )
    )
    guild_ids = {(platform, external): pk for pk, platform, external in rows}
    # One row per user: the same user twice in one upsert is an error on PostgreSQL.
    latest = {(guild_ids[(a.platform, a.guild_id)], a.user_id): a for a in actors}
    user_insert = _insert(session, User)
    excluded = user_insert.excluded
    await session.execute(
        user_insert.on_conflict_do_update(
            index_elements=["guild_id", "external_id"],
            set_={
                "display_name": excluded.display_name,
                "role": excluded.role,
                "last_seen": excluded.last_seen,
            },
        ),
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
        ],
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


@dataclass(frozen=True)
class Known:
    """An actor as the database has them."""

    seen: Seen
    display_name: str
    role: str
    last_seen: datetime


def _key(actor: Actor) -> tuple[str, str, str]:
    return (actor.platform, actor.guild_id, actor.user_id)


async def look_up_actors(session: AsyncSession, actors: Sequence[Actor]) -> list[Known | None]:
    """The stored row of each actor (None for someone never seen), in one query."""
    rows = await session.execute(
        select(
            Guild.platform,
            Guild.external_id,
            User.external_id,
            User.guild_id,
            User.id,
            User.display_name,
            User.role,
            User.last_seen,
        )
        .join(Guild, Guild.id == User.guild_id)
        .where(
            Guild.platform.in_({a.platform for a in actors}),
            Guild.external_id.in_({a.guild_id for a in actors}),
            User.external_id.in_({a.user_id for a in actors}),
        )
    )
    known = {
        (platform, guild, user): Known(Seen(guild_pk, user_pk), name, role, last_seen)
        for platform, guild, user, guild_pk, user_pk, name, role, last_seen in rows
    }
    return [known.get(_key(actor)) for actor in actors]


async def _write_actors(
    session: AsyncSession, sightings: Sequence[tuple[Actor, datetime]]
) -> list[Seen]:
    now = max(when for _, when in sightings)
    seen = await touch_actors(session, [actor for actor, _ in sightings], now)
    return [seen[actor] for actor, _ in sightings]


class ActorWriter:
    """The database ids of whoever runs a command, written only when something changed.

    Looking up is a read (on SQLite it never waits for a writer), so a command that only
    reads, such as /help, answers even while another process holds the write lock. A new
    actor is written before the command runs (it needs the ids); a changed name or role,
    or a `last_seen` older than `refresh_seconds`, is written after, without the command
    waiting for it. Lookups and writes are grouped: 200 students starting at once cost a
    few transactions instead of 200 (SQLite has one writer).
    """

    def __init__(self, store: Store, refresh_seconds: float = 600.0) -> None:
        self.store = store
        self.refresh = refresh_seconds
        self._lookups = store.group("actor lookups", _lookup_group)
        self._writes = store.group("actor writes", _write_group)
        self._touching: dict[Actor, asyncio.Future[Seen]] = {}

    async def touch(self, actor: Actor, now: datetime) -> Seen:
        # The same student's commands in flight at once share one lookup (and write).
        shared = self._touching.get(actor)
        if shared is None:
            shared = asyncio.ensure_future(self._touch(actor, now))
            self._touching[actor] = shared
            shared.add_done_callback(lambda _: self._touching.pop(actor, None))
        return await asyncio.shield(shared)

    async def _touch(self, actor: Actor, now: datetime) -> Seen:
        known = await self._lookups.submit(actor)
        if known is None:
            return await self._writes.submit((actor, now))
        stale = (now - known.last_seen).total_seconds() > self.refresh
        if stale or known.display_name != actor.display_name or known.role != actor.role.value:
            self._writes.enqueue((actor, now)).add_done_callback(_log_failure)
        return known.seen


def _lookup_group(store: Store) -> Grouped[Actor, Known | None]:
    return Grouped(store, look_up_actors, write=False)


def _write_group(store: Store) -> Grouped[tuple[Actor, datetime], Seen]:
    return Grouped(store, _write_actors)


def _log_failure(future: asyncio.Future[Seen]) -> None:
    if not future.cancelled() and (error := future.exception()) is not None:
        log.warning("could not refresh a user's name, role or last visit: %s", error)


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
