"""The inbox with bot replicas on one PostgreSQL: a saved command runs in one process; a
replica that starts does not replay what a live one is running; the commands of a replica
that died are taken over, each once, even when two replicas reach for them at once."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest

from bot.delivery import Destination
from bot.identity import Actor, Role
from bot.inbox import Entry, Inbox
from bot.router import Invocation
from bot.store import Store
from tests.support.botdriver import FakeClock

LEASE = timedelta(seconds=60)
# A replica on another machine: only its lease tells whether it lives.
ELSEWHERE = "lab-pc-2:4242:a1b2c3"


def _invocation(n: int) -> Invocation:
    actor = Actor("slack", f"U{n % 7}", f"student {n % 7}", Role.STUDENT, "T1", "C1")
    return Invocation(
        path=("activity", "submit"), options={"answer": f"answer {n}", "id": 1}, actor=actor
    )


def _destination(n: int) -> Destination:
    return Destination("slack", "T1", "C1", f"U{n % 7}")


@pytest.fixture
async def stores(postgres_url: str) -> AsyncIterator[list[Store]]:
    """Three replicas' connections to one database."""
    made = [Store(postgres_url) for _ in range(3)]
    await made[0].upgrade()
    yield made
    for store in made:
        await store.close()


class Ran:
    """What the replicas ran: request id → how many times, and by which replica."""

    def __init__(self) -> None:
        self.times: Counter[str] = Counter()
        self.by: dict[str, str] = {}

    def runner(self, name: str, seconds: float = 0.0) -> Callable[[Entry], Awaitable[None]]:
        async def run(entry: Entry) -> None:
            await asyncio.sleep(seconds)
            self.times[entry.request_id] += 1
            self.by[entry.request_id] = name

        return run

    async def until(self, count: int) -> None:
        async with asyncio.timeout(10):
            while sum(self.times.values()) < count:
                await asyncio.sleep(0.01)


async def _saved_by(inbox: Inbox, count: int) -> None:
    for n in range(count):
        assert await inbox.accept("slack", f"r{n}", _invocation(n), _destination(n))


async def test_a_starting_replica_leaves_a_live_ones_commands_alone(stores: list[Store]) -> None:
    clock = FakeClock()
    live = Inbox(stores[0], clock, lease=LEASE, owner=ELSEWHERE)
    await _saved_by(live, 5)  # acknowledged, still running there
    starting = Inbox(stores[1], clock, lease=LEASE)
    ran = Ran()
    assert await starting.replay("slack", ran.runner("starting")) == 0
    # While the live replica renews its lease, nothing changes hands.
    clock.advance(seconds=45)
    await live.keep()
    clock.advance(seconds=45)
    assert await starting.keep() == 0
    assert not ran.times
    await starting.close()
    await live.close()


async def test_a_dead_replicas_commands_are_taken_over_once(stores: list[Store]) -> None:
    clock = FakeClock()
    dead = Inbox(stores[0], clock, lease=LEASE, owner=ELSEWHERE)
    await _saved_by(dead, 30)  # then its machine goes away: no renewal, no release
    b = Inbox(stores[1], clock, lease=LEASE)
    c = Inbox(stores[2], clock, lease=LEASE)
    ran = Ran()
    assert await b.replay("slack", ran.runner("b")) == 0
    assert await c.replay("slack", ran.runner("c")) == 0
    clock.advance(seconds=LEASE.total_seconds() + 1)
    # Both live replicas look at the same moment; each entry goes to one of them.
    taken = await asyncio.gather(b.keep(), c.keep())
    assert sum(taken) == 30
    await ran.until(30)
    await asyncio.sleep(0.05)
    assert set(ran.times) == {f"r{n}" for n in range(30)}
    assert set(ran.times.values()) == {1}
    # Marked done: no one runs them again.
    for inbox in (b, c):
        await inbox.close()
    later = Inbox(stores[1], clock, lease=LEASE)
    assert await later.replay("slack", ran.runner("later")) == 0
    assert await later.pending("slack") == []
    await later.close()


async def test_replicas_starting_together_replay_each_command_once(stores: list[Store]) -> None:
    clock = FakeClock()
    before = Inbox(stores[0], clock, lease=LEASE)
    await _saved_by(before, 40)
    await before.close()  # a clean stop hands the unfinished commands back
    ran = Ran()
    replicas = [Inbox(store, clock, lease=LEASE) for store in stores]
    counts = await asyncio.gather(
        *(r.replay("slack", ran.runner(f"replica {i}", 0.001)) for i, r in enumerate(replicas))
    )
    assert sum(counts) == 40
    assert set(ran.times.values()) == {1} and len(ran.times) == 40
    for replica in replicas:
        await replica.close()


async def test_a_replica_killed_on_this_machine_is_taken_over_at_once(
    stores: list[Store],
) -> None:
    # A process on this machine that no longer runs needs no lease to run out.
    clock = FakeClock()
    gone = f"{socket.gethostname()}:{2**22 + 12345}:dead00"  # beyond any pid in use
    killed = Inbox(stores[0], clock, lease=LEASE, owner=gone)
    await _saved_by(killed, 3)
    ran = Ran()
    restarted = Inbox(stores[1], clock, lease=LEASE)
    assert await restarted.replay("slack", ran.runner("restarted")) == 3
    assert set(ran.times.values()) == {1}
    await restarted.close()
    await killed.close()
