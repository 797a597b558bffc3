"""The inbox table on SQLite and PostgreSQL: a burst is saved in a few group commits,
a request id is saved once, done marks are grouped, and what is left is what replays."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.delivery import Destination
from bot.identity import Actor, Role
from bot.inbox import KEEP_DONE, Inbox, invocation_from_json, invocation_to_json
from bot.router import Invocation
from bot.store import Store
from bot.store.inbox import accepts, finishes
from bot.store.models import InboxEntry
from tests.support.botdriver import FakeClock


def _invocation(n: int) -> Invocation:
    actor = Actor("slack", f"U{n}", f"student {n}", Role.STUDENT, "T1", "C1")
    return Invocation(
        path=("activity", "submit"),
        options={"answer": f"answer {n}", "id": 1},
        actor=actor,
        words=("answer", str(n)),
        handle={"response_url": f"https://hooks.example/{n}"},
    )


def _destination(n: int) -> Destination:
    return Destination("slack", "T1", "C1", f"U{n}", {"response_url": f"https://hooks.example/{n}"})


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inbox.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def store(database_url: str) -> Any:
    store = Store(database_url)
    await store.upgrade()
    yield store
    await store.close()


async def test_a_burst_is_saved_in_a_few_commits_each_request_id_once(store: Store) -> None:
    clock = FakeClock()
    inbox = Inbox(store, clock)
    writes = 0
    write = store.write

    async def counted(work: Callable[[Any], Awaitable[Any]], **kwargs: Any) -> Any:
        nonlocal writes
        writes += 1
        return await write(work, **kwargs)

    store.write = counted  # type: ignore[method-assign]
    ids = [f"trigger:{n}" for n in range(60)] + [f"trigger:{n}" for n in range(5)]  # 5 retries
    receipts = await asyncio.gather(
        *(
            inbox.accept("slack", rid, _invocation(n % 60), _destination(n % 60))
            for n, rid in enumerate(ids)
        )
    )
    assert sum(r is not None for r in receipts) == 60
    assert receipts[60:] == [None] * 5  # the retries: acknowledged, not run again
    assert writes <= 3, f"{writes} transactions for a burst of 65"

    pending = await inbox.pending("slack")
    assert [e.request_id for e in pending] == ids[:60]
    assert pending[7].invocation == _invocation(7)
    assert pending[7].destination == _destination(7)
    assert await inbox.pending("discord") == []

    for receipt in receipts[:40]:
        assert receipt is not None
        inbox.finish(receipt)
    await finishes(store).idle()
    assert [e.request_id for e in await inbox.pending("slack")] == ids[40:60]

    # A day later the finished ones are forgotten; the unfinished ones stay until they run.
    clock.advance(seconds=KEEP_DONE.total_seconds() + 60)
    assert len(await inbox.pending("slack")) == 20
    again = await inbox.accept("slack", ids[0], _invocation(0), _destination(0))
    assert again is not None  # pruned: a very late retry would run again


async def test_replay_runs_each_unfinished_command_once_one_person_in_order(store: Store) -> None:
    clock = FakeClock()
    before = Inbox(store, clock)
    for n in range(6):  # three people, two commands each
        await before.accept("slack", f"t{n}", _invocation(n % 3), _destination(n % 3))
    await before.close()  # the process that saved them stops
    inbox = Inbox(store, clock)  # the next one replays them
    ran: list[str] = []

    async def run(entry: Any) -> None:
        await asyncio.sleep(0.01 * (3 - int(entry.invocation.actor.user_id[1:])))
        ran.append(entry.request_id)
        if entry.request_id == "t4":
            raise RuntimeError("a broken command is logged and still marked done")

    assert await inbox.replay("slack", run) == 6
    assert sorted(ran) == [f"t{n}" for n in range(6)]
    for person in range(3):
        own = [r for r in ran if int(r[1:]) % 3 == person]
        assert own == [f"t{person}", f"t{person + 3}"]
    await finishes(store).idle()
    assert await inbox.replay("slack", run) == 0
    assert len(ran) == 6


def test_an_invocation_round_trips_through_json() -> None:
    invocation = _invocation(3)
    assert invocation_from_json(invocation_to_json(invocation)) == invocation
    assert timedelta(days=1) == KEEP_DONE


async def test_a_locked_database_delays_the_ack_by_the_patience_only(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    store = Store(f"sqlite:///{path}")
    await store.upgrade()
    inbox = Inbox(store, FakeClock())
    other = sqlite3.connect(path, isolation_level=None)  # another process's long write
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        receipt = await inbox.accept("slack", "t1", _invocation(1), _destination(1), patience=0.3)
        assert receipt is not None  # acknowledged, to be saved once the lock is free
        assert time.monotonic() - started < 1.5
        inbox.finish(receipt)
    finally:
        await asyncio.sleep(0.5)
        other.execute("COMMIT")
        other.close()
    await accepts(store).idle()
    await finishes(store).idle()
    async with store.session() as session:
        (entry,) = await session.scalars(select(InboxEntry))
    assert entry.request_id == "t1" and entry.done_at is not None
    await store.close()
