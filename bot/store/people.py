"""Guilds and users: created on first sight, refreshed on every command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.identity import Actor
from bot.store.models import Guild, User


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
    guild_insert = _insert(session, Guild).values(
        platform=actor.platform, external_id=actor.guild_id, settings={}, created_at=now
    )
    await session.execute(guild_insert.on_conflict_do_nothing())
    guild_id = await session.scalar(
        select(Guild.id).where(
            Guild.platform == actor.platform, Guild.external_id == actor.guild_id
        )
    )
    assert guild_id is not None
    user_insert = _insert(session, User).values(
        guild_id=guild_id,
        external_id=actor.user_id,
        display_name=actor.display_name,
        role=actor.role.value,
        first_seen=now,
        last_seen=now,
    )
    await session.execute(
        user_insert.on_conflict_do_update(
            index_elements=["guild_id", "external_id"],
            set_={"display_name": actor.display_name, "role": actor.role.value, "last_seen": now},
        )
    )
    user_id = await session.scalar(
        select(User.id).where(User.guild_id == guild_id, User.external_id == actor.user_id)
    )
    assert user_id is not None
    return Seen(guild_id=guild_id, user_id=user_id)


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
