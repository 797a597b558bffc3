"""The SQLite write gate submissions go through (bot/store/db.py: `session(write=True)`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from bot.store import Store


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
