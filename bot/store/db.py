"""The database connection: one async engine, sessions, and migrations on start."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import PoolResetState

import migrations
from bot.config import ConfigError
from bot.errors import UsageError
from bot.replies import Error

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent
# The PostgreSQL advisory lock that migrations run under (any fixed 64-bit number).
MIGRATION_LOCK = 0x636C617373626F74  # "classbot"
# How long one attempt waits for SQLite's write lock (another process may hold it). Under the
# 3 s in which a platform wants its first answer; a write that still has no lock then tries
# again with back-off until WRITE_DEADLINE_S.
SQLITE_BUSY_TIMEOUT_MS = 2500
# How long a write keeps trying. Adapters acknowledge a command before its writes run
# (Discord defers within 1 s, Slack acks at once); after that Discord accepts followups for
# 15 min and Slack's response_url for 30 min, so a minute of waiting is well inside both, and
# a class rarely waits longer than that for an answer.
WRITE_DEADLINE_S = 60.0
# How long closing the store waits for the group writers' last batches.
CLOSE_PATIENCE_S = 5.0

T = TypeVar("T")


class Background(Protocol):
    """Work a store runs beside the commands (a group writer): finished before closing."""

    async def idle(self) -> None: ...


B = TypeVar("B", bound=Background)


class DatabaseBusy(UsageError):
    """Another process held the database's write lock past the write deadline: nothing
    was saved. A user sees a plain Error reply, not "Something went wrong"."""

    def __init__(self, what: str = "The class database is busy, so nothing was saved.") -> None:
        super().__init__(Error(what=what, todo="Try again in a minute."))


def is_locked(error: BaseException) -> bool:
    """SQLite's "database is locked" (SQLITE_BUSY) or "table is locked" (SQLITE_LOCKED)."""
    if not isinstance(error, OperationalError):
        return False
    code = getattr(error.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (5, 6)
    return "locked" in str(error.orig)


def async_url(url: str) -> str:
    """The async driver for a plain URL: sqlite → aiosqlite, postgresql → asyncpg."""
    parsed = make_url(url)
    drivers = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
    backend = parsed.get_backend_name()
    if parsed.drivername in drivers:
        parsed = parsed.set(drivername=drivers[backend])
    if backend == "postgresql" and "sslmode" in parsed.query:
        # Hosted PostgreSQL URLs carry libpq's sslmode; asyncpg takes the same values as ssl.
        query = dict(parsed.query)
        query["ssl"] = query.pop("sslmode")
        parsed = parsed.set(query=query)
    return parsed.render_as_string(hide_password=False)


def unreachable(url: str, error: BaseException) -> str:
    """Why the database at `url` cannot be opened, and what to do, for the instructor."""
    parsed = make_url(url)
    cause = getattr(error, "orig", None) or error
    said = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    prefix = "CLASSBOT_DATABASE_URL"
    if parsed.get_backend_name() == "sqlite":
        where = Path(parsed.database or "").expanduser()
        return (
            f"{prefix}: cannot open the SQLite file {where} ({said}). Check that the folder"
            f" {where.parent} exists and this user may write in it."
        )
    server = parsed.host or "localhost"
    host = f"{server}:{parsed.port or 5432}"
    # asyncpg's own exception is the cause of the DBAPI error SQLAlchemy raises.
    names = {type(e).__name__ for e in (error, cause, cause.__cause__) if e is not None}
    if "InvalidCatalogNameError" in names:
        todo = f"Create it (createdb -h {server} {parsed.database}) or fix the name."
        return f"{prefix}: there is no database {parsed.database} on {host}. {todo}"
    if names & {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}:
        return (
            f"{prefix}: PostgreSQL at {host} refused user {parsed.username} ({said})."
            " Fix the user or password."
        )
    if isinstance(cause, OSError):
        return (
            f"{prefix}: nothing answers at {host} ({said}). Start PostgreSQL there, or fix the"
            " host and port."
        )
    return f"{prefix}: cannot open the database at {host} ({said})."


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


def _sqlite_reset(dbapi_connection: Any, record: Any, state: PoolResetState) -> None:
    # The pool rolls back every connection it takes back, even one whose session has just
    # committed; through aiosqlite that is one more thread round trip on every session
    # (0.1 to 0.2 ms, on every submission's path). SQLite says whether a transaction is
    # open, so only a connection that still holds one is rolled back.
    if state.asyncio_safe and record.driver_connection.in_transaction:
        dbapi_connection.rollback()


def create_engine(url: str) -> AsyncEngine:
    sqlite = make_url(url).get_backend_name() == "sqlite"
    # A server connection can drop while pooled; a SQLite file cannot, and through aiosqlite
    # the ping costs four thread round trips on every checkout.
    engine = create_async_engine(
        async_url(url),
        pool_pre_ping=not sqlite,
        pool_reset_on_return=None if sqlite else "rollback",  # SQLite: _sqlite_reset
    )
    if sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine.pool, "reset", _sqlite_reset)
    return engine


def _busy(what: str | None) -> DatabaseBusy:
    return DatabaseBusy(what) if what else DatabaseBusy()


# Set while this task holds the SQLite write gate, so a nested write session does not wait
# for itself.
_holding_write_gate: ContextVar[bool] = ContextVar("holding_write_gate", default=False)


class Store:
    def __init__(self, url: str, *, write_deadline: float = WRITE_DEADLINE_S) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_gate = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        # Seconds a write keeps trying to get SQLite's write lock (see `write`).
        self.write_deadline = write_deadline
        self._groups: dict[str, Background] = {}

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
            except OperationalError as error:
                # SQLite waited SQLITE_BUSY_TIMEOUT_MS for another process's lock; the
                # body cannot be run again from here (use `write` for that).
                if is_locked(error):
                    raise DatabaseBusy() from error
                raise
            finally:
                _holding_write_gate.reset(token)

    async def write(
        self,
        work: Callable[[AsyncSession], Awaitable[T]],
        *,
        since: float | None = None,
        busy: str | None = None,
    ) -> T:
        """Run `work` in a write transaction and return its result; on SQLite wait for the
        write lock, trying again with back-off, until `write_deadline` seconds after
        `since` (a `time.monotonic()`, default now), then raise DatabaseBusy (its text:
        `busy`). `work` may run more than once: only the last run is committed.

        On SQLite the transaction starts with BEGIN IMMEDIATE, so the lock is taken (or
        refused) before `work` runs and `work` itself never meets a locked database.
        """
        if self._write_gate is None or _holding_write_gate.get():
            async with self.session() as session:
                return await work(session)
        deadline = (time.monotonic() if since is None else since) + self.write_deadline
        pause = 0.05
        while True:
            try:
                return await self._write_once(work, deadline, busy)
            except OperationalError as error:
                if not is_locked(error):
                    raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _busy(busy) from error
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 2.0)

    async def _write_once(
        self, work: Callable[[AsyncSession], Awaitable[T]], deadline: float, busy: str | None
    ) -> T:
        gate = self._write_gate
        assert gate is not None
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0)):
                await gate.acquire()
        except TimeoutError:
            # Writers of this process queued past the deadline behind a lock that stays.
            raise _busy(busy) from None
        token = _holding_write_gate.set(True)
        try:
            async with self.sessions() as session, session.begin():
                await self._begin_immediate(session, deadline)
                return await work(session)
        finally:
            _holding_write_gate.reset(token)
            gate.release()

    @staticmethod
    async def _begin_immediate(session: AsyncSession, deadline: float) -> None:
        wait_ms = int((deadline - time.monotonic()) * 1000)
        shortened = wait_ms < SQLITE_BUSY_TIMEOUT_MS
        if shortened:  # the last try waits only until the deadline
            await session.execute(text(f"PRAGMA busy_timeout={max(wait_ms, 1)}"))
        try:
            await session.execute(text("BEGIN IMMEDIATE"))
        finally:
            if shortened:
                await session.execute(text(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}"))

    def group(self, name: str, factory: Callable[[Store], B]) -> B:
        """The one `factory(self)` of this store called `name` (e.g. the group writer of
        activity submissions), created on first use and finished before `close`."""
        found = self._groups.get(name)
        if found is None:
            made = factory(self)
            self._groups[name] = made
            return made
        return cast(B, found)  # made by the same factory under this name

    async def revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )

    def head(self) -> str | None:
        return ScriptDirectory.from_config(alembic_config(self.url)).get_current_head()

    async def upgrade(self) -> bool:
        """Bring the schema to the newest migration; returns whether anything ran.

        On PostgreSQL the migration runs under a transaction-scoped advisory lock, and the
        revision is read again once it is held: bot replicas that start together on a
        fresh database take turns, the first migrates, the others find it done. A database
        that cannot be opened raises ConfigError, saying what to fix."""
        head = self.head()
        try:
            current = await self.revision()
        except (DBAPIError, OSError) as error:
            raise ConfigError(unreachable(self.url, error)) from None
        if current == head:
            return False
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            return await conn.run_sync(self._upgrade_sync, head)

    def _upgrade_sync(self, connection: Connection, head: str | None) -> bool:
        if MigrationContext.configure(connection).get_current_revision() == head:
            return False  # another process migrated while we waited for the lock
        config = alembic_config(self.url)
        # env.py uses this connection instead of opening its own (Alembic's cookbook
        # recipe for running migrations from async code).
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return True

    async def close(self) -> None:
        # What the group writers were given (a usage event, a renamed student) is written
        # first, unless the database stays locked.
        # A copy: finishing one group may hand a last item to another.
        for group in list(self._groups.values()):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(group.idle(), CLOSE_PATIENCE_S)
        await self.engine.dispose()
