"""A TTL cache with request coalescing (single flight) and stale answers on failure.

A class of 30 typing the same search at once must reach the Hub once: the first caller
fetches, the others await the same future. When the Hub fails, an expired answer is still
better than none: it is returned marked as stale.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Cached(Generic[T]):
    value: T
    # Seconds since it was fetched; > 0 only for answers served from the cache.
    age: float = 0.0
    # True when the fetch failed and an expired answer is served instead.
    stale: bool = False


class SingleFlightCache:
    """`stale_wait`: with an expired answer at hand, wait at most this long for a fresh one
    before serving the old one marked stale (None: wait for the fetch to end). The fetch
    goes on either way and refreshes the cache when it answers."""

    def __init__(
        self,
        ttl: float,
        max_entries: int = 2048,
        clock: Callable[[], float] = time.monotonic,
        *,
        stale_wait: float | None = None,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self.stale_wait = stale_wait
        self._entries: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        # The fetch runs as its own task: callers that stop waiting (a stale answer served,
        # a cancelled command) do not cancel it for the others.
        self._inflight: dict[Hashable, asyncio.Task[object]] = {}

    async def get(
        self,
        key: Hashable,
        fetch: Callable[[], Awaitable[T]],
        *,
        stale_wait: float | None = None,
    ) -> Cached[T]:
        """The cached answer for `key`, or the one `fetch` gives (one fetch per key at once).
        `stale_wait` overrides the cache's own for this call."""
        now = self.clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] <= self.ttl:
            self._entries.move_to_end(key)
            return Cached(value=entry[1], age=now - entry[0])  # type: ignore[arg-type]
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fill(key, fetch))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settle(key, done))
        wait = self.stale_wait if stale_wait is None else stale_wait
        try:
            if entry is None or wait is None:
                result = await asyncio.shield(task)
            else:
                result = await asyncio.wait_for(asyncio.shield(task), wait)
        except Exception:  # the fetch failed, or took longer than `wait` (TimeoutError)
            if entry is None:
                raise
            return Cached(value=entry[1], age=now - entry[0], stale=True)  # type: ignore[arg-type]
        return Cached(value=result)  # type: ignore[arg-type]

    async def _fill(self, key: Hashable, fetch: Callable[[], Awaitable[object]]) -> object:
        value = await fetch()
        self._store(key, value)
        return value

    def _settle(self, key: Hashable, task: asyncio.Task[object]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            # Waiters see the error; when none is left (a stale answer was served), nobody
            # else retrieves it: mark it retrieved.
            task.exception()

    def _store(self, key: Hashable, value: object) -> None:
        self._entries[key] = (self.clock(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
