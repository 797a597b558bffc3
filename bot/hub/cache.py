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
    def __init__(
        self,
        ttl: float,
        max_entries: int = 2048,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Future[object]] = {}

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> Cached[T]:
        now = self.clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] <= self.ttl:
            self._entries.move_to_end(key)
            return Cached(value=entry[1], age=now - entry[0])  # type: ignore[arg-type]
        inflight = self._inflight.get(key)
        if inflight is None:
            inflight = asyncio.get_running_loop().create_future()
            self._inflight[key] = inflight
            try:
                value: object = await fetch()
            except asyncio.CancelledError:
                inflight.cancel()
                raise
            except Exception as error:
                inflight.set_exception(error)
                # Waiters see the error; nobody else retrieves it, so mark it retrieved.
                inflight.exception()
            else:
                inflight.set_result(value)
                self._store(key, value)
            finally:
                del self._inflight[key]
        try:
            result = await asyncio.shield(inflight)
        except Exception:
            if entry is None:
                raise
            return Cached(value=entry[1], age=now - entry[0], stale=True)  # type: ignore[arg-type]
        return Cached(value=result)  # type: ignore[arg-type]

    def _store(self, key: Hashable, value: object) -> None:
        self._entries[key] = (self.clock(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
