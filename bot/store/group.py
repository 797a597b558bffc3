"""Group commit: the work that arrives while one transaction runs is done together in the
next one, so a class acting at once costs a few transactions instead of one per student
(SQLite has a single writer, and every transaction through aiosqlite costs thread hops).

There is no waiting for company: the first item starts a transaction at once, and whatever
arrives meanwhile goes in the following one. Each caller awaits its own outcome.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import DatabaseBusy, Store

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

# Work on many items at once: one outcome per item, in order; an exception in the list is
# that item's own outcome (e.g. "this activity is closed") and does not undo the others.
Batch = Callable[[AsyncSession, Sequence[Item]], Awaitable[Sequence[Result | Exception]]]

# Keeps each statement well under the databases' limits on bound parameters.
MAX_BATCH = 500


@dataclass
class _Waiting(Generic[Item, Result]):
    item: Item
    future: asyncio.Future[Result]
    since: float = field(default_factory=time.monotonic)


class Grouped(Generic[Item, Result]):
    """Runs `batch` on everything waiting, in one transaction at a time.

    `write=True`: a write transaction through `Store.write` (on SQLite it waits for the
    write lock until the store's deadline, counted from the oldest item's arrival, then
    every item of the batch gets DatabaseBusy with the `busy` text). `write=False`: a read
    transaction, which on SQLite never waits for writers (WAL).

    When a batch fails as a whole for another reason, each of its items is tried alone, so
    one bad item cannot cost the others their outcome.
    """

    def __init__(
        self,
        store: Store,
        batch: Batch[Item, Result],
        *,
        write: bool = True,
        busy: str | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.store = store
        self.batch = batch
        self.write = write
        self.busy = busy
        self.max_batch = max_batch
        self._waiting: list[_Waiting[Item, Result]] = []
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Do `item` with whatever else is waiting; its own outcome (or exception)."""
        return await self.enqueue(item)

    def enqueue(self, item: Item) -> asyncio.Future[Result]:
        """Queue `item` without waiting for it (the future holds its outcome)."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(item, future))
        if self._runner is None or self._runner.done():
            # A fresh context: the runner must not inherit "this task holds the write gate"
            # from a caller inside a write transaction, or it would write past the gate.
            self._runner = asyncio.create_task(self._run(), context=contextvars.Context())
        return future

    async def idle(self) -> None:
        """Return once everything queued so far has its outcome."""
        while self._runner is not None and not self._runner.done():
            await asyncio.shield(self._runner)

    async def _run(self) -> None:
        while self._waiting:
            taken = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            try:
                outcomes = await self._transaction(taken)
            except Exception as error:
                if len(taken) == 1 or isinstance(error, DatabaseBusy):
                    _settle(taken, [error] * len(taken))
                    continue
                log.warning("a batch of %d failed; trying each alone", len(taken), exc_info=True)
                for one in taken:
                    try:
                        _settle([one], await self._transaction([one]))
                    except Exception as alone:
                        _settle([one], [alone])
                continue
            _settle(taken, outcomes)

    async def _transaction(
        self, taken: Sequence[_Waiting[Item, Result]]
    ) -> Sequence[Result | Exception]:
        items = [w.item for w in taken]

        async def work(session: AsyncSession) -> Sequence[Result | Exception]:
            outcomes = await self.batch(session, items)
            if len(outcomes) != len(items):
                raise RuntimeError(f"{len(outcomes)} outcomes for {len(items)} items")
            return outcomes

        if not self.write:
            async with self.store.session() as session:
                return await work(session)
        since = min(w.since for w in taken)
        return await self.store.write(work, since=since, busy=self.busy)


def _settle(
    taken: Sequence[_Waiting[Item, Result]], outcomes: Sequence[Result | Exception]
) -> None:
    for waiting, outcome in zip(taken, outcomes, strict=True):
        if waiting.future.done():  # the caller gave up (cancelled); the work still counts
            continue
        if isinstance(outcome, Exception):
            waiting.future.set_exception(outcome)
        else:
            waiting.future.set_result(outcome)
