"""The embedded job engine end to end: the real router, the jobs table, a real worker process
running the tiny GPT-Neo, and a recording outbox in place of a chat platform."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.delivery import Destination
from bot.jobs import records
from bot.jobs.protocol import JobRequest
from bot.jobs.worker import WorkerProcess
from bot.replies import Card, Error, Progress, Text
from bot.store.models import Job, UsageEvent
from tests.jobs.support import JobBot, job_bot, until
from tests.support.botdriver import FakeClock

GEN = "/generate max_new_tokens:8"


async def test_result_replaces_progress_under_one_key_and_records_usage(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as bot:
        job = await bot.generate('/generate prompt:"Hello" seed:1 max_new_tokens:20')
        await bot.idle()
        replies = bot.outbox.for_job(job)
        assert replies and all(isinstance(r, Progress) for r in replies[:-1])
        result = replies[-1]
        assert isinstance(result, Card)
        assert "165K parameters" in result.title
        assert {k for k in (s.key for s in bot.outbox.sent)} == {f"job:{job}"}
        async with bot.driver.app.services.store.session() as session:
            usage = list(await session.scalars(select(UsageEvent)))
        assert [(u.command, u.model_id, u.model_params) for u in usage] == [
            ("generate", str(tiny_model_dir.resolve()), 164_736)
        ]
        jobs = await bot.jobs()
        assert jobs[job].state == "succeeded" and jobs[job].delivered_at is not None


async def test_queue_position_is_reported_in_fair_order(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir, start=False) as bot:
        first = await bot.run(f'{GEN} prompt:"a"', user="ana")
        second = await bot.run(f'{GEN} prompt:"b"', user="ana")
        third = await bot.run(f'{GEN} prompt:"c"', user="ben")
        assert isinstance(first, Progress) and "yours is next" in first.label
        assert isinstance(second, Progress) and "1 job ahead" in second.label
        # Ben's one job goes before Ana's second: he is placed 2nd, not 3rd.
        assert isinstance(third, Progress) and "1 job ahead" in third.label
        assert [b.action for b in third.buttons] == ["/jobs cancel id:3"]
        listing = await bot.text("/jobs", user="ana")
        assert "queued #1" in listing and "queued #3" in listing
        teacher = await bot.run(f'{GEN} prompt:"d"', user="tom", role="instructor")
        assert isinstance(teacher, Progress) and "yours is next" in teacher.label
        assert await bot.engine.positions() == {4: 1, 1: 2, 3: 3, 2: 4}


async def test_per_user_limit_is_a_clear_error(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(
        tmp_path, model_worker, tiny_model_dir, start=False, max_queued_jobs_per_user=2
    ) as bot:
        for prompt in ("a", "b"):
            assert isinstance(await bot.run(f'{GEN} prompt:"{prompt}"'), Progress)
        refused = await bot.run(f'{GEN} prompt:"c"')
        assert isinstance(refused, Error)
        assert refused.what == "You already have 2 jobs queued or running; the limit is 2."
        assert "/jobs" in refused.todo
        assert len(await bot.jobs()) == 2
        # Someone else is not affected.
        assert isinstance(await bot.run(f'{GEN} prompt:"d"', user="ben"), Progress)


async def test_one_student_with_20_jobs_cannot_starve_three_others(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(
        tmp_path,
        model_worker,
        tiny_model_dir,
        start=False,
        max_queued_jobs_per_user=20,
        max_batch_size=4,
    ) as bot:
        for i in range(20):
            await bot.generate(f'{GEN} prompt:"ana {i}" seed:{i}', user="ana")
        for user in ("ben", "cleo", "dev"):
            await bot.generate(f'{GEN} prompt:"{user}" seed:1', user=user)
        await bot.start()
        await bot.idle()
        order = [s.destination.user_id for s in bot.outbox.finals()]
        assert Counter(order) == {"ana": 20, "ben": 1, "cleo": 1, "dev": 1}
        for user in ("ben", "cleo", "dev"):
            ana_before = order[: order.index(user)].count("ana")
            assert ana_before < 10, order  # they finish before most of Ana's 20


async def test_cancel_a_queued_job_and_a_running_one(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir, start=False) as bot:
        queued = await bot.generate(f'{GEN} prompt:"a"', user="ana")
        reply = await bot.run(f"/jobs cancel id:{queued}", user="ben")
        assert isinstance(reply, Error) and "not yours" in reply.what
        reply = await bot.run(f"/jobs cancel id:{queued}", user="ana")
        assert isinstance(reply, Text) and reply.text == f"Job {queued} cancelled."
        await until(lambda: bot.outbox.for_job(queued), what="the cancelled message")
        assert bot.outbox.final(queued) == Text(
            text=f"Job {queued} was cancelled.", shareable=False
        )

        long = await bot.generate('/generate prompt:"b" max_new_tokens:256 seed:3', user="ana")
        await bot.start()
        await until(
            lambda: any(
                isinstance(r, Progress) and "generating" in r.label
                for r in bot.outbox.for_job(long)
            ),
            what="generation to start",
        )
        # An instructor may cancel a student's job.
        reply = await bot.run(f"/jobs cancel id:{long}", user="tom", role="instructor")
        assert isinstance(reply, Text) and "Stopping job" in reply.text
        await bot.idle()
        assert bot.outbox.final(long) == Text(text=f"Job {long} was cancelled.", shareable=False)
        jobs = await bot.jobs()
        assert (jobs[queued].state, jobs[long].state) == ("cancelled", "cancelled")
        assert jobs[queued].started_at is None  # it never ran
        again = await bot.run(f"/jobs cancel id:{long}", user="ana")
        assert isinstance(again, Error) and "already finished" in again.what


async def test_same_seed_same_text_alone_or_batched(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    lines = [
        '/generate prompt:"The cat sat" seed:5 temperature:0.9 max_new_tokens:24',
        '/generate prompt:"Once upon a time there was" max_new_tokens:24',  # greedy
        '/generate prompt:"Hi" seed:6 top_k:10 max_new_tokens:20',
        '/generate prompt:"Tokens are pieces of words" seed:7 top_p:0.8 max_new_tokens:12',
    ]

    def runs(bot: JobBot, job: int) -> dict[str, object]:
        result = bot.outbox.final(job)
        assert isinstance(result, Card)
        return result.description, result.fields[2].value  # text, decoding line

    alone = {}
    async with job_bot(tmp_path / "alone", model_worker, tiny_model_dir) as bot:
        for line in lines:
            job = await bot.generate(line)
            await bot.idle()
            alone[line] = runs(bot, job)
            assert (await bot.jobs())[job].result["runs"][0]["batch_rows"] == 1
    async with job_bot(tmp_path / "batched", model_worker, tiny_model_dir, start=False) as bot:
        ids = {line: await bot.generate(line, user=f"u{i}") for i, line in enumerate(lines)}
        await bot.start()
        await bot.idle()
        jobs = await bot.jobs()
        for line, job in ids.items():
            assert jobs[job].result["runs"][0]["batch_rows"] == len(lines)
            assert runs(bot, job) == alone[line], line


async def test_jobs_queued_when_the_bot_stops_run_after_restart_once_each(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir, start=False) as first:
        ids = [
            await first.generate(f'{GEN} prompt:"{p}" seed:1', user=u)
            for p, u in (("a", "ana"), ("b", "ben"), ("c", "ana"))
        ]
    assert first.outbox.sent == []
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as second:
        await second.idle()
        assert Counter(s.key for s in second.outbox.finals()) == {f"job:{i}": 1 for i in ids}
        assert all(j.delivered_at is not None for j in (await second.jobs()).values())
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as third:
        await third.idle()
        await third.engine._sweep()
        assert third.outbox.sent == []  # nothing is delivered twice


async def test_a_job_whose_bot_died_is_retried_and_its_result_delivered_once(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir, start=False) as first:
        running = await first.generate(f'{GEN} prompt:"a" seed:1')
        finished = await first.generate(f'{GEN} prompt:"b" seed:2', user="ben")
        # As if the bot had died: one job mid-run, one finished but not yet sent.
        async with first.driver.app.services.store.session() as session:
            jobs = {j.id: j for j in await session.scalars(select(Job))}
            now = first.driver.app.services.clock()
            for job in jobs.values():
                job.state, job.lease_owner, job.attempt = "running", "dead-bot", 1
                job.lease_expires_at, job.started_at = now, now
            jobs[finished].state = "succeeded"
            jobs[finished].result = {"runs": []}
        clock = first.driver.app.services.clock
    clock.advance(minutes=2)  # the dead bot's leases ran out
    async with job_bot(tmp_path, model_worker, tiny_model_dir, clock=clock) as second:
        await second.idle()
        finals = Counter(s.key for s in second.outbox.finals())
        assert finals == {f"job:{running}": 1, f"job:{finished}": 1}
        jobs = await second.jobs()
        assert jobs[running].state == "succeeded" and jobs[running].attempt == 2


async def test_a_killed_worker_fails_its_job_plainly_and_comes_back(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as bot:
        await until(lambda: model_worker.alive, what="the worker")
        # Freeze the worker first, so the job it is handed cannot finish before the kill
        # (on a quiet machine the tiny model would outrun any "it has started" signal).
        assert model_worker.pid is not None
        os.kill(model_worker.pid, signal.SIGSTOP)
        doomed = await bot.generate('/generate prompt:"a" max_new_tokens:256')
        deadline = time.monotonic() + 30
        while (await bot.jobs())[doomed].state != "running":
            assert time.monotonic() < deadline, "the job never reached the worker"
            await asyncio.sleep(0.01)
        old_pid = model_worker.pid
        model_worker.kill()
        await bot.idle()
        failure = bot.outbox.final(doomed)
        assert isinstance(failure, Error)
        assert failure.what == (
            "The model worker stopped — try again, maybe with a smaller model or fewer tokens."
        )
        assert (await bot.jobs())[doomed].state == "failed"
        after = await bot.generate(f'{GEN} prompt:"b" seed:1')
        await bot.idle()
        assert isinstance(bot.outbox.final(after), Card)
        assert model_worker.pid != old_pid and model_worker.alive


async def test_without_an_outbox_the_result_waits_for_a_bot_that_has_one(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as first:
        first.driver.app.services.outboxes.clear()  # e.g. a worker-only process
        job = await first.generate(f'{GEN} prompt:"a" seed:1')
        await first.idle()
        stored = (await first.jobs())[job]
        assert stored.state == "succeeded" and stored.delivered_at is None
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as second:
        await second.idle()
        assert isinstance(second.outbox.final(job), Card)
        assert (await second.jobs())[job].delivered_at is not None


async def test_a_bot_whose_lease_ran_out_records_first_and_never_sends_a_taken_job(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    clock = FakeClock()
    async with job_bot(tmp_path, model_worker, tiny_model_dir, clock=clock) as bot:
        taken = await bot.generate('/generate prompt:"a" max_new_tokens:256 seed:3', user="ana")
        await until(
            lambda: any(isinstance(r, Progress) for r in bot.outbox.for_job(taken)),
            what="the job to start",
        )
        # As if this bot had stalled past its lease and another bot had taken the job over.
        async with bot.driver.app.services.store.session() as session:
            job = await session.get(Job, taken)
            assert job is not None and job.state == "running"
            job.lease_owner = "other-bot"
            job.lease_expires_at = clock() + timedelta(minutes=10)
        clock.advance(minutes=2)
        await bot.idle()
        # Its result was not sent, and the other bot's claim on the row is untouched.
        assert bot.outbox.finals() == []
        job = (await bot.jobs())[taken]
        assert (job.state, job.lease_owner, job.delivered_at) == ("running", "other-bot", None)

        # A job whose lease surely holds is sent, then recorded, as before.
        mine = await bot.generate(f'{GEN} prompt:"b" seed:1', user="ben")
        await bot.idle()
        assert [s.key for s in bot.outbox.finals()] == [f"job:{mine}"]
        assert (await bot.jobs())[mine].delivered_at is not None


async def test_a_class_pressing_enter_together_runs_as_one_batch(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    """On an idle bot the first job may start at once, alone; in a burst it waits for the
    burst instead, so the first is not a batch of one with the rest queued behind it."""
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as bot:
        await bot.generate(f'{GEN} prompt:"warm"')  # the worker is started and the model loaded
        await bot.idle()
        jobs = await asyncio.gather(
            *(bot.generate(f'{GEN} prompt:"hello {i}"', user=f"s{i}") for i in range(8))
        )
        await bot.idle()
        rows = await bot.jobs()
        assert {rows[j].result["batch_jobs"] for j in jobs} == {8}


async def test_a_job_submitted_while_the_dispatcher_claims_does_not_take_its_worker(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, monkeypatch: Any
) -> None:
    """Another bot's job, unknown to this one's order, is being claimed when a student's
    command arrives. Until the claim has read the queue, this bot knows of nothing waiting,
    so the new job would start directly on the free worker and the claimed batch would
    then push it aside (it stayed "running" for good). The worker is reserved for the
    claim instead: both jobs run."""
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as bot:
        warm = await bot.generate(f'{GEN} prompt:"warm"')
        await bot.idle()
        template = (await bot.jobs())[warm]
        claiming, go_on = asyncio.Event(), asyncio.Event()
        snapshot = records.queue_snapshot

        async def held_snapshot(*args: Any, **kwargs: Any) -> Any:
            if not go_on.is_set():
                claiming.set()
                await go_on.wait()
            return await snapshot(*args, **kwargs)

        # As another bot would: a queued row this bot's in-memory order does not know.
        async with bot.driver.app.services.store.session(write=True) as session:
            other = await records.enqueue(
                session,
                JobRequest(
                    kind=template.kind,
                    params={k: v for k, v in template.params.items() if not k.startswith("_")},
                    guild_pk=template.guild_id,
                    user_pk=template.user_id,
                    destination=Destination.from_json(template.destination),
                    batch_key=template.params["_batch"]["key"],
                ),
                now=bot.driver.app.services.clock(),
                limit=10,
            )
        monkeypatch.setattr(records, "queue_snapshot", held_snapshot)
        runs: list[int] = []  # every job id each batch sent to the worker carried
        send = model_worker.send

        def counted(message: Any) -> bool:
            if message["op"] == "run":
                runs.extend(int(job["id"]) for job in message["jobs"])
            return send(message)

        monkeypatch.setattr(model_worker, "send", counted)
        await asyncio.wait_for(claiming.wait(), 10)  # the dispatcher's claim reads the queue
        asking = asyncio.create_task(bot.generate(f'{GEN} prompt:"mine"', user="ben"))
        await until(lambda: bot.engine._submitting > 0, what="the submit")
        go_on.set()
        mine = await asking
        await bot.idle(timeout=30)
        jobs = await bot.jobs()
        assert (jobs[other].state, jobs[mine].state) == ("succeeded", "succeeded")
        assert isinstance(bot.outbox.final(mine), Card)
        assert sorted(runs) == sorted({other, mine}), runs  # each sent to the worker once
