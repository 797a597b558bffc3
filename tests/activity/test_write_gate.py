"""The SQLite write gate writes go through (bot/store/db.py: `session(write=True)`, `write`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import Store
from bot.store.group import Grouped


async def test_writers_take_turns_and_a_nested_writer_does_not_wait_for_itself(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'gate.db'}")
    try:
        async with store.session() as session:
            await session.execute(text("CREATE TABLE t (n INTEGER)"))
        inside = 0
        most = 0

        async def writer(n: int) -> None:
            nonlocal inside, most
            async with store.session(write=True) as session:
                inside += 1
                most = max(most, inside)
                await session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                await asyncio.sleep(0.001)  # other writers get the loop, not the gate
                inside -= 1

        await asyncio.gather(*(writer(n) for n in range(50)))
        assert most == 1

        async with store.session(write=True), store.session(write=True) as inner:
            await inner.execute(text("INSERT INTO t VALUES (99)"))
        async with store.session() as session:
            assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 51
    finally:
        await store.close()


async def test_a_group_writer_started_inside_a_write_waits_for_the_gate(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'gate.db'}")
    try:
        async with store.session() as session:
            await session.execute(text("CREATE TABLE t (n INTEGER)"))

        async def insert(session: AsyncSession, numbers: Sequence[int]) -> list[int]:
            for n in numbers:
                await session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
            return list(numbers)

        writer: Grouped[int, int] = Grouped(store, insert)
        async with store.session(write=True) as outer:
            queued = writer.enqueue(1)
            await asyncio.sleep(0.2)
            # It takes its turn after this transaction instead of writing past the gate.
            assert not queued.done()
            await outer.execute(text("INSERT INTO t VALUES (0)"))
        assert await queued == 1
        await writer.idle()
        async with store.session() as session:
            assert (await session.execute(text("SELECT count(*) FROM t"))).scalar() == 2
    finally:
        await store.close()
