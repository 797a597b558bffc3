from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import Connection, inspect, select, text

from bot.identity import Actor, Role
from bot.store import Store
from bot.store.db import SQLITE_BUSY_TIMEOUT_MS, alembic_config
from bot.store.models import Guild, User
from bot.store.people import ActorWriter, touch_actor

TABLES = {
    "guilds",
    "users",
    "activities",
    "submissions",
    "submission_versions",
    "jobs",
    "usage_events",
    "audit_events",
    "guess_rounds",
    "guess_answers",
}
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def table_names(store: Store) -> set[str]:
    async with store.engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_creates_the_schema_once(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        assert await store.revision() is None
        assert await store.upgrade() is True
        assert await table_names(store) >= TABLES
        assert await store.revision() == store.head()
        assert await store.upgrade() is False  # a no-op the second time
    finally:
        await store.close()


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        async with store.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            busy_ms = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
            assert busy_ms == SQLITE_BUSY_TIMEOUT_MS
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await store.close()


def test_alembic_downgrade_base_then_upgrade_head(tmp_path: Path) -> None:
    config = alembic_config(f"sqlite:///{tmp_path / 'b.db'}")
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")

    async def check() -> None:
        store = Store(f"sqlite:///{tmp_path / 'b.db'}")
        assert await table_names(store) >= TABLES
        await store.close()

    asyncio.run(check())


def test_the_models_match_the_migrations(tmp_path: Path) -> None:
    config = alembic_config(f"sqlite:///{tmp_path / 'c.db'}")
    command.upgrade(config, "head")
    command.check(config)  # raises when a model change has no migration


async def upgraded_sqlite(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    await store.upgrade()
    return store


async def test_a_connection_returned_inside_a_transaction_is_rolled_back(tmp_path: Path) -> None:
    # The pool rolls back only connections that still hold a transaction (SQLite says so):
    # a write left open, behind SQLAlchemy's back, must neither stay nor keep the lock.
    store = await upgraded_sqlite(tmp_path)
    other = Store(f"sqlite:///{tmp_path / 'd.db'}")
    try:

        def write_and_walk_away(sync: Connection) -> bool:
            cursor = sync.connection.cursor()
            cursor.execute(
                "INSERT INTO guilds (platform, external_id, name, settings, created_at)"
                " VALUES ('console', 'left', '', '{}', '2026-03-02')"
            )
            cursor.close()
            return bool(sync.connection.driver_connection.in_transaction)

        async with store.engine.connect() as conn:
            assert await conn.run_sync(write_and_walk_away)
        async with store.session() as session:
            assert (await session.scalars(select(Guild))).all() == []
        async with other.session() as session:  # another connection gets the write lock
            await session.execute(text("PRAGMA busy_timeout=100"))
            await touch_actor(session, Actor("console", "u", "u", Role.STUDENT, "G", "C"), NOW)
    finally:
        await other.close()
        await store.close()


async def test_first_commands_of_many_users_at_once_do_not_collide(tmp_path: Path) -> None:
    store = await upgraded_sqlite(tmp_path)
    try:

        async def first_command(user: str) -> int:
            async with store.session() as session:
                seen = await touch_actor(
                    session, Actor("discord", user, user, Role.STUDENT, "G", "C"), NOW
                )
                return seen.user_id

        ids = await asyncio.gather(*(first_command(f"u{i % 10}") for i in range(40)))
        assert len(set(ids)) == 10
        async with store.session() as session:
            assert len((await session.scalars(select(User))).all()) == 10
            assert len((await session.scalars(select(Guild))).all()) == 1
            user = (await session.scalars(select(User).limit(1))).one()
            assert user.first_seen == NOW and user.first_seen.tzinfo is not None
    finally:
        await store.close()


async def test_guilds_are_apart_per_platform(tmp_path: Path) -> None:
    store = await upgraded_sqlite(tmp_path)
    try:
        async with store.session() as session:
            a = await touch_actor(session, Actor("discord", "u", "u", Role.STUDENT, "1", "c"), NOW)
            b = await touch_actor(session, Actor("slack", "u", "u", Role.STUDENT, "1", "c"), NOW)
        assert a.guild_id != b.guild_id and a.user_id != b.user_id
    finally:
        await store.close()


async def test_the_same_code_runs_on_postgresql(postgres_url: str) -> None:
    store = Store(postgres_url)
    try:
        assert await store.upgrade() is True
        assert await table_names(store) >= TABLES
        assert await store.upgrade() is False
        async with store.session() as session:
            seen = await touch_actor(
                session, Actor("slack", "U1", "Ana", Role.STUDENT, "T1", "C1"), NOW
            )
            again = await touch_actor(
                session, Actor("slack", "U1", "Ana B", Role.STUDENT, "T1", "C1"), NOW
            )
        assert seen == again
        async with store.session() as session:
            user = await session.get(User, seen.user_id)
            assert user is not None and user.display_name == "Ana B" and user.first_seen == NOW
    finally:
        await store.close()


async def write_many_at_once(store: Store) -> dict[Actor, int]:
    writer = ActorWriter(store)
    actors = [
        Actor("discord", f"u{i % 150}", f"User {i}", Role.STUDENT, f"G{i % 2}", f"C{i % 3}")
        for i in range(300)
    ]
    seen = await asyncio.gather(*(writer.touch(actor, NOW) for actor in actors))
    return {actor: s.user_id for actor, s in zip(actors, seen, strict=True)}


async def check_group_commit(store: Store) -> None:
    transactions = 0
    opened = store.sessions

    def counting() -> object:
        nonlocal transactions
        transactions += 1
        return opened()

    store.sessions = counting  # type: ignore[assignment]
    ids = await write_many_at_once(store)
    store.sessions = opened
    # The same person in another channel (or renamed) is still one user per guild.
    by_person: dict[tuple[str, str], set[int]] = {}
    for actor, user_id in ids.items():
        by_person.setdefault((actor.guild_id, actor.user_id), set()).add(user_id)
    assert all(len(user_ids) == 1 for user_ids in by_person.values())
    assert len({next(iter(v)) for v in by_person.values()}) == len(by_person) == 150
    assert transactions <= 3  # 300 first sightings: looked up together, written together
    async with store.session() as session:
        assert len((await session.scalars(select(User))).all()) == 150


async def test_first_sightings_at_once_are_written_together(tmp_path: Path) -> None:
    store = await upgraded_sqlite(tmp_path)
    try:
        await check_group_commit(store)
    finally:
        await store.close()


async def test_first_sightings_at_once_on_postgresql(postgres_url: str) -> None:
    store = Store(postgres_url)
    try:
        await store.upgrade()
        await check_group_commit(store)
    finally:
        await store.close()
