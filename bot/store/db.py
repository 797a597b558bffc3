"""The database connection: one async engine, sessions, and migrations on start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent
SQLITE_BUSY_TIMEOUT_MS = 5000


def async_url(url: str) -> str:
    """The async driver for a plain URL: sqlite → aiosqlite, postgresql → asyncpg."""
    parsed = make_url(url)
    drivers = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
    backend = parsed.get_backend_name()
    if parsed.drivername in drivers:
        parsed = parsed.set(drivername=drivers[backend])
    return parsed.render_as_string(hide_password=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return config


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run while one writer commits; the busy timeout makes writers wait
    # for each other instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    sqlite = make_url(url).get_backend_name() == "sqlite"
    # A server connection can drop while pooled; a SQLite file cannot, and through aiosqlite
    # the ping costs four thread round trips on every checkout.
    engine = create_async_engine(async_url(url), pool_pre_ping=not sqlite)
    if sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


# Set while this task holds the SQLite write gate, so a nested write session does not wait
# for itself.
_holding_write_gate: ContextVar[bool] = ContextVar("holding_write_gate", default=False)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_gate = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None

    @asynccontextmanager
    async def session(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error.

        `write=True` for short transactions that write (hot paths such as submissions): on
        SQLite they take turns in this process, in arrival order. Otherwise concurrent
        writers poll SQLite's lock with growing sleeps (busy_timeout), which under a burst
        starves some past the timeout ("database is locked"). PostgreSQL needs no turns.
        """
        if self._write_gate is None or not write or _holding_write_gate.get():
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._write_gate:
            token = _holding_write_gate.set(True)
            try:
                async with self.sessions() as session, session.begin():
                    yield session
            finally:
                _holding_write_gate.reset(token)

    async def revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )

    def head(self) -> str | None:
        return ScriptDirectory.from_config(alembic_config(self.url)).get_current_head()

    async def upgrade(self) -> bool:
        """Bring the schema to the newest migration; returns whether anything ran."""
        if await self.revision() == self.head():
            return False
        async with self.engine.begin() as conn:
            await conn.run_sync(self._upgrade_sync)
        return True

    def _upgrade_sync(self, connection: Connection) -> None:
        config = alembic_config(self.url)
        # env.py uses this connection instead of opening its own (Alembic's cookbook
        # recipe for running migrations from async code).
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async def close(self) -> None:
        await self.engine.dispose()
