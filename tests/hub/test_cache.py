from __future__ import annotations

import asyncio

import pytest

from bot.hub.cache import SingleFlightCache


class Upstream:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    async def fetch(self) -> str:
        self.calls += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise ConnectionError("hub down")
        return f"answer {self.calls}"


async def test_concurrent_identical_requests_reach_upstream_once() -> None:
    cache = SingleFlightCache(ttl=60)
    upstream = Upstream()
    results = await asyncio.gather(*(cache.get("q", upstream.fetch) for _ in range(50)))
    assert upstream.calls == 1
    assert {r.value for r in results} == {"answer 1"}


async def test_answers_expire_after_the_ttl() -> None:
    now = [0.0]
    cache = SingleFlightCache(ttl=10, clock=lambda: now[0])
    upstream = Upstream()
    assert (await cache.get("q", upstream.fetch)).value == "answer 1"
    now[0] = 5
    cached = await cache.get("q", upstream.fetch)
    assert (cached.value, cached.age, upstream.calls) == ("answer 1", 5, 1)
    now[0] = 11
    assert (await cache.get("q", upstream.fetch)).value == "answer 2"


async def test_a_failure_serves_the_expired_answer_marked_stale() -> None:
    now = [0.0]
    cache = SingleFlightCache(ttl=10, clock=lambda: now[0])
    upstream = Upstream()
    await cache.get("q", upstream.fetch)
    now[0] = 30
    upstream.fail = True
    results = await asyncio.gather(*(cache.get("q", upstream.fetch) for _ in range(5)))
    assert all(r.stale and r.value == "answer 1" and r.age == 30 for r in results)
    assert upstream.calls == 2


async def test_a_failure_without_a_cached_answer_raises_and_is_not_cached() -> None:
    cache = SingleFlightCache(ttl=10)
    upstream = Upstream()
    upstream.fail = True
    with pytest.raises(ConnectionError):
        await cache.get("q", upstream.fetch)
    upstream.fail = False
    assert (await cache.get("q", upstream.fetch)).value == "answer 2"


async def test_least_recently_used_entries_are_dropped() -> None:
    cache = SingleFlightCache(ttl=60, max_entries=2)
    upstream = Upstream()
    await cache.get("a", upstream.fetch)
    await cache.get("b", upstream.fetch)
    await cache.get("a", upstream.fetch)
    await cache.get("c", upstream.fetch)  # drops b
    await cache.get("a", upstream.fetch)
    assert upstream.calls == 3
    await cache.get("b", upstream.fetch)
    assert upstream.calls == 4


async def test_a_slow_refresh_serves_the_expired_answer_then_fills_the_cache() -> None:
    now = [0.0]
    cache = SingleFlightCache(ttl=10, clock=lambda: now[0], stale_wait=0.05)
    gate = asyncio.Event()

    async def slow() -> str:
        await gate.wait()
        return "fresh"

    await cache.get("q", lambda: asyncio.sleep(0, "old"))
    now[0] = 30
    served = await cache.get("q", slow)
    assert (served.value, served.stale, served.age) == ("old", True, 30)
    gate.set()  # the fetch went on without the caller and now answers
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert (await cache.get("q", slow)).value == "fresh"
