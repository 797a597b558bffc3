"""Restarts of the job engine: a stop signal hands running jobs back (never fails them), a
job cancelled while its bot was dead is never run again, and a restart on the machine where
the bot died takes its jobs back at once instead of waiting out their lease."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.jobs import records
from bot.jobs.worker import WorkerConfig, WorkerProcess
from bot.replies import Card, Text
from bot.store.models import Job
from tests.jobs.support import JobBot, job_bot, until

GEN = "/generate max_new_tokens:8"
LONG = "/generate max_new_tokens:256"
WORKER = WorkerConfig(device="cpu", progress_interval=0.02)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings for the database: the test's SQLite file, or a fresh PostgreSQL one (the
    hand-backs lock rows there)."""
    if request.param == "sqlite":
        return {}
    return {"database_url": request.getfixturevalue("postgres_url")}


def cancelled(job_id: int) -> Text:
    return Text(text=f"Job {job_id} was cancelled.", shareable=False)


async def as_if_running(bot: JobBot, job_id: int, owner: str, until: datetime) -> None:
    """Make a queued job look claimed by `owner` under a lease until `until`."""
    async with bot.driver.app.services.store.session() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        job.state, job.lease_owner, job.lease_expires_at = "running", owner, until
        job.attempt, job.started_at = 1, bot.driver.app.services.clock()


def dead_pid() -> int:
    """The pid of a process of this machine that has just ended."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    return ended.pid


def unreaped() -> subprocess.Popen[bytes]:
    """A process that has ended and is not reaped yet (a zombie), as a bot killed with its
    parent is until init reaps it."""
    ended = subprocess.Popen(["true"])
    os.waitid(os.P_PID, ended.pid, os.WEXITED | os.WNOWAIT)  # ended, left unreaped
    return ended


# -- 1: a stop signal hands the running jobs back ------------------------------------------


async def test_a_worker_outlives_the_stop_signals_its_bot_gets(
    model_worker: WorkerProcess, tmp_path: Path, tiny_model_dir: Path
) -> None:
    """Ctrl-C and `systemctl stop` signal every process of the bot; the worker leaves its
    life to the bot, and still runs jobs after them."""
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as bot:
        await until(lambda: model_worker.ready.is_set(), what="the worker")
        pid = model_worker.pid
        assert pid is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            os.kill(pid, signum)
        await asyncio.sleep(1.0)
        assert model_worker.alive and model_worker.pid == pid
        job = await bot.generate(f'{GEN} prompt:"a" seed:1')
        await bot.idle()
        assert isinstance(bot.outbox.final(job), Card)


def test_stopping_a_worker_that_does_not_answer_kills_it() -> None:
    worker = WorkerProcess(WORKER)
    worker.start()
    try:
        assert worker.ready.wait(60), "the worker did not start"
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGSTOP)  # it cannot read "stop" any more
    finally:
        worker.stop(timeout=0.5)
    assert not worker.alive


def test_a_bot_that_exits_without_stopping_its_worker_does_not_wait_for_it() -> None:
    """multiprocessing's clean-up at exit sends SIGTERM, which the worker ignores, and then
    waits for it: the worker must be gone before then."""
    script = (
        "from bot.jobs.worker import WorkerConfig, WorkerProcess\n"
        "worker = WorkerProcess(WorkerConfig(device='cpu'))\n"
        "worker.start()\n"
        "assert worker.ready.wait(60)\n"
        "print(worker.pid, flush=True)\n"
    )
    root = Path(__file__).parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    with pytest.raises(ProcessLookupError):
        os.kill(int(done.stdout.split()[-1]), 0)


async def test_a_worker_that_exits_while_its_bot_stops_hands_its_jobs_back(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as bot:
        await until(lambda: model_worker.alive, what="the worker")
        assert model_worker.pid is not None
        os.kill(model_worker.pid, signal.SIGSTOP)  # so the job cannot finish first
        job = await bot.generate(f'{LONG} prompt:"a"')
        await until(lambda: bot.engine._busy, what="the job to be sent to the worker")
        stopping = asyncio.create_task(bot.engine.stop())
        await until(lambda: bot.engine._stopping, what="the stop to begin")
        model_worker.kill()  # as a stop signal that reached it would have
        await asyncio.wait_for(stopping, 30)
        stored = (await bot.jobs())[job]
        assert (stored.state, stored.attempt, stored.lease_owner) == ("queued", 0, None)
        assert bot.outbox.finals() == []
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as after:
        await after.idle()
        assert isinstance(after.outbox.final(job), Card)


# -- 2: a job cancelled while its bot was dead is not run again ---------------------------


async def test_a_job_cancelled_after_its_bot_died_ends_cancelled_when_its_lease_runs_out(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir, start=False) as first:
        job = await first.generate(f'{GEN} prompt:"a" seed:1')
        clock = first.driver.app.services.clock
        # As if the bot had died mid-run (kill -9: its lease stays in the table).
        await as_if_running(first, job, "other-host:4242:dead00", clock() + timedelta(minutes=1))
    async with job_bot(tmp_path, model_worker, tiny_model_dir, start=False, clock=clock) as second:
        reply = await second.run(f"/jobs cancel id:{job}")
        assert isinstance(reply, Text) and reply.text.startswith(f"Stopping job {job}")
        clock.advance(minutes=2)  # the dead bot's lease ran out
        await second.start()
        await second.idle()
        assert second.outbox.final(job) == cancelled(job)
        stored = (await second.jobs())[job]
        assert (stored.state, stored.result, stored.lease_owner) == ("cancelled", None, None)


HandBack = Callable[[AsyncSession, int, str, datetime], Awaitable[object]]


async def _release(session: AsyncSession, job_id: int, owner: str, now: datetime) -> object:
    return await records.release(session, [job_id], owner=owner, now=now)


async def _requeue_stopped(session: AsyncSession, job_id: int, owner: str, now: datetime) -> object:
    return await records.requeue_stopped(session, [job_id], owner=owner, now=now)


async def _requeue_expired(session: AsyncSession, job_id: int, owner: str, now: datetime) -> object:
    return await records.requeue_expired(session, now=now + timedelta(minutes=2))


@pytest.mark.parametrize(
    "hand_back",
    [_release, _requeue_stopped, _requeue_expired],
    ids=["clean-stop", "worker-died", "lease-expired"],
)
async def test_every_hand_back_ends_a_job_whose_cancel_was_requested(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    hand_back: HandBack,
    database: dict[str, str],
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir, start=False, **database) as bot:
        asked, other = [await bot.generate(f'{GEN} prompt:"{p}"', user=p) for p in "ab"]
        now = bot.driver.app.services.clock()
        for job_id in (asked, other):
            await as_if_running(bot, job_id, "some-bot", now + timedelta(minutes=1))
        assert await bot.run(f"/jobs cancel id:{asked}", user="a") is not None
        async with bot.engine.writes.session() as session:
            for job_id in (asked, other):
                await hand_back(session, job_id, "some-bot", now)
        jobs = await bot.jobs()
        assert jobs[asked].state == "cancelled" and jobs[asked].finished_at is not None
        assert jobs[asked].lease_owner is None and jobs[asked].delivered_at is None
        assert jobs[other].state == "queued"


# -- 3: a restart on the machine where the bot died does not wait for its leases ----------


async def test_a_restart_takes_back_at_once_the_jobs_of_bots_that_died_on_this_machine(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, database: dict[str, str]
) -> None:
    host = socket.gethostname()
    zombie = unreaped()
    async with job_bot(
        tmp_path, model_worker, tiny_model_dir, start=False, **database
    ) as alive_here:
        owners = {
            "died": f"{host}:{dead_pid()}:dead01",
            "died, cancel asked": f"{host}:{dead_pid()}:dead02",
            "this pid, before a restart": f"{host}:{os.getpid()}:dead03",
            "killed, not reaped yet": f"{host}:{zombie.pid}:dead04",
            "alive on this machine": f"{host}:{os.getppid()}:live01",
            "alive in this process": alive_here.engine.owner,
            "on another machine": "elsewhere:4242:live02",
        }
        clock = alive_here.driver.app.services.clock
        jobs = {}
        for n, (case, owner) in enumerate(owners.items()):
            jobs[case] = await alive_here.generate(f'{GEN} prompt:"{n}" seed:1', user=f"u{n}")
            # Their leases all hold for minutes still.
            await as_if_running(alive_here, jobs[case], owner, clock() + timedelta(minutes=10))
        await alive_here.run(f"/jobs cancel id:{jobs['died, cancel asked']}", user="u1")
        async with job_bot(
            tmp_path, model_worker, tiny_model_dir, clock=clock, **database
        ) as restarted:
            await restarted.idle()
            stored = await restarted.jobs()
            states = {case: stored[job_id].state for case, job_id in jobs.items()}
            assert states == {
                "died": "succeeded",
                "died, cancel asked": "cancelled",
                "this pid, before a restart": "succeeded",
                "killed, not reaped yet": "succeeded",
                "alive on this machine": "running",
                "alive in this process": "running",
                "on another machine": "running",
            }
            assert stored[jobs["died"]].attempt == 2  # the crash counts, as an expired lease
            assert isinstance(restarted.outbox.final(jobs["died"]), Card)
            assert restarted.outbox.final(jobs["died, cancel asked"]) == cancelled(
                jobs["died, cancel asked"]
            )
    zombie.wait()
