"""RQ workers that come and go: jobs from many students over two `classbot worker`
processes are delivered exactly once, and a worker killed mid-batch loses nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from bot.jobs.worker import WorkerConfig, WorkerProcess
from bot.replies import Card
from tests.jobs.support import job_bot, until
from tests.scale.support import Cluster

USERS = ["ana", "ben", "cai", "dov", "eli", "fay", "gus"]
UNUSED = WorkerProcess(WorkerConfig(device="cpu"))  # never started: the jobs go to RQ


async def test_twenty_jobs_from_seven_users_on_two_workers_are_delivered_once(
    cluster: Cluster, tmp_path: Path, tiny_model_dir: Path
) -> None:
    cluster.start_worker()
    cluster.start_worker()
    cluster.wait_workers(2)
    async with job_bot(
        tmp_path / "bot",
        UNUSED,
        tiny_model_dir,
        links=cluster.links(),
        max_queued_jobs_per_user=10,
        max_batch_size=4,  # several batches, so both workers get some
    ) as bot:
        await until(lambda: bot.engine.pool.links[0].has_room(), what="capacity")  # type: ignore[union-attr]
        ids = [
            await bot.generate(
                f'/generate prompt:"p{i}" seed:{i} max_new_tokens:24', user=USERS[i % 7]
            )
            for i in range(20)
        ]
        await bot.idle(timeout=240)
        for job_id in ids:
            assert isinstance(bot.outbox.final(job_id), Card)  # exactly one result each
        jobs = await bot.jobs()
        assert all(jobs[i].state == "succeeded" and jobs[i].delivered_at for i in ids)
        assert {jobs[i].attempt for i in ids} == {1}  # nothing ran twice
        # Two live workers, two batches at a time: the second link was used, no third.
        sent = [link.sent for link in bot.engine.pool.links]  # type: ignore[union-attr, attr-defined]
        assert sent[0] and sent[1] and not any(sent[2:]), sent


async def test_a_worker_killed_mid_batch_hands_its_jobs_to_the_other(
    cluster: Cluster, tmp_path: Path, tiny_model_dir: Path
) -> None:
    cluster.start_worker()
    cluster.start_worker()
    cluster.wait_workers(2)
    async with job_bot(
        tmp_path / "bot",
        UNUSED,
        tiny_model_dir,
        links=cluster.links(),
        max_queued_jobs_per_user=10,
    ) as bot:
        ids = [
            await bot.generate(
                f'/generate prompt:"q{i}" seed:{i} max_new_tokens:200', user=USERS[i % 7]
            )
            for i in range(8)
        ]
        victim: list[int] = []

        def running() -> bool:
            pid = cluster.worker_running_a_batch()
            if pid is not None:
                victim.append(pid)
            return pid is not None

        await until(running, timeout=120, what="a batch to start")
        os.kill(victim[0], signal.SIGKILL)
        await until(
            lambda: all(bot.outbox.finals() and _final(bot, i) for i in ids),
            timeout=240,
            what="all results",
        )
        await bot.idle(timeout=60)
        for job_id in ids:
            assert isinstance(bot.outbox.final(job_id), Card)  # delivered once, not failed
        jobs = await bot.jobs()
        rerun = [i for i in ids if jobs[i].attempt == 2]
        assert rerun, "the killed worker's jobs were run again"
        assert all(jobs[i].attempt <= 2 and jobs[i].state == "succeeded" for i in ids)


def _final(bot: object, job_id: int) -> bool:
    from bot.replies import Progress

    return any(
        not isinstance(r, Progress)
        for r in bot.outbox.for_job(job_id)  # type: ignore[attr-defined]
    )


async def test_capacity_follows_workers_as_they_join(
    cluster: Cluster, tmp_path: Path, tiny_model_dir: Path
) -> None:
    cluster.start_worker()
    cluster.wait_workers(1)
    async with job_bot(
        tmp_path / "bot",
        UNUSED,
        tiny_model_dir,
        links=cluster.links(),
        max_queued_jobs_per_user=10,
        max_batch_size=2,  # several batches per burst
    ) as bot:
        links = bot.engine.pool.links  # type: ignore[union-attr]

        async def burst(tag: str) -> None:
            ids = [
                await bot.generate(
                    f'/generate prompt:"{tag}{i}" seed:{i} max_new_tokens:64', user=USERS[i % 7]
                )
                for i in range(7)
            ]
            await bot.idle(timeout=240)
            for job_id in ids:
                assert isinstance(bot.outbox.final(job_id), Card)

        await burst("a")
        assert [link.sent for link in links][1:] == [0] * (len(links) - 1)  # type: ignore[attr-defined]
        cluster.start_worker()
        cluster.wait_workers(2)
        await until(lambda: links[1].has_room(), what="the bot to see the new worker")
        await burst("b")
        assert links[1].sent > 0  # type: ignore[attr-defined]
