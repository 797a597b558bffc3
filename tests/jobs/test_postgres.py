"""The queue on PostgreSQL (several bots on one database): claims and deliveries never double."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from bot.jobs import records
from bot.jobs.worker import WorkerProcess
from bot.store.models import Job
from tests.jobs.support import job_bot


async def test_generate_cancel_and_restart_on_postgresql(
    postgres_url: str, tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    line = '/generate max_new_tokens:8 prompt:"{}" seed:1'
    async with job_bot(
        tmp_path, model_worker, tiny_model_dir, start=False, database_url=postgres_url
    ) as first:
        ids = [
            await first.generate(line.format(p), user=u)
            for p, u in zip("abc", ["ana", "ben", "ana"], strict=True)
        ]
        await first.run(f"/jobs cancel id:{ids[1]}", user="ben")
        await first.idle()
        # Two bots racing to claim the same jobs: each job goes to one of them.
        store = first.driver.app.services.store
        now = first.driver.app.services.clock()

        async def claim(owner: str) -> list[int]:
            async with store.session() as session:
                got = await records.claim(
                    session, ids, owner=owner, now=now, lease=timedelta(minutes=1)
                )
                return [j.id for j in got]

        won = await asyncio.gather(*(claim(f"bot-{i}") for i in range(4)))
        assert sorted(j for got in won for j in got) == [ids[0], ids[2]]
        for i, got in enumerate(won):  # those bots "stop": the jobs go back to the queue
            async with store.session() as session:
                await records.release(session, got, owner=f"bot-{i}", now=now)
    async with job_bot(tmp_path, model_worker, tiny_model_dir, database_url=postgres_url) as second:
        await second.idle()
        delivered = Counter(s.key for s in second.outbox.finals())
        assert delivered == {f"job:{ids[0]}": 1, f"job:{ids[2]}": 1}
        states = {i: j.state for i, j in (await second.jobs()).items()}
        assert states == {ids[0]: "succeeded", ids[1]: "cancelled", ids[2]: "succeeded"}


async def test_keeping_leases_alive_never_waits_on_another_bots_rows(
    postgres_url: str, tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    # Every bot's sweep renews the jobs live on the shared RQ workers, whoever claimed
    # them; two sweeps locking the same rows in other orders deadlocked.
    async with job_bot(
        tmp_path, model_worker, tiny_model_dir, start=False, database_url=postgres_url
    ) as bot:
        ids = [await bot.generate(f'/generate max_new_tokens:8 prompt:"{p}"') for p in "ab"]
        store = bot.driver.app.services.store
        now = bot.driver.app.services.clock()
        async with store.session() as session:
            await records.claim(session, ids, owner="bot-1", now=now, lease=timedelta(minutes=1))
        later = now + timedelta(minutes=5)
        async with store.session() as holding:
            # Another bot's transaction holds the second row (renewing or finishing it).
            await holding.execute(update(Job).where(Job.id == ids[1]).values(lease_expires_at=now))
            async with store.session() as session:
                await asyncio.wait_for(records.keep_alive(session, ids, until=later), 5)
        async with store.session() as session:
            leases = {i: (await session.get(Job, i)).lease_expires_at for i in ids}
        assert leases[ids[0]] == later  # renewed
        assert leases[ids[1]] == now  # left to the bot that held it: renewed at its next sweep
