"""Scale-out: the same jobs run on an RQ worker (`bot.jobs.rq.work`) over the real Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

from bot.jobs.engine import EmbeddedQueue
from bot.jobs.rq import RqLink
from bot.jobs.worker import WorkerLink, WorkerProcess
from bot.replies import Card, Error, Progress, Text
from tests.jobs.support import job_bot, until

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def rq_queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private queue served by one `classbot worker`-style process."""
    try:
        Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as error:
        pytest.skip(f"Redis is not reachable at 127.0.0.1:6379 ({error})")
    queue = f"classbot-test-{uuid.uuid4().hex[:8]}"
    code = (
        # Its threads' stacks on SIGUSR1, should it ever not stop (see below).
        "import faulthandler, signal; faulthandler.register(signal.SIGUSR1); "
        "from bot.jobs.rq import work; from bot.jobs.worker import WorkerConfig; "
        f"work({REDIS_URL!r}, WorkerConfig(device='cpu', progress_interval=0.02), "
        f"queue={queue!r})"
    )
    log = tmp_path_factory.mktemp("rq") / "worker.log"
    with log.open("w") as output:
        worker = subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO, env=dict(os.environ), stderr=output
        )
        try:
            yield queue
        finally:
            _stop(worker, log)
            Queue(queue, connection=Redis.from_url(REDIS_URL)).delete(delete_jobs=True)


def _stop(worker: subprocess.Popen[bytes], log: Path) -> None:
    """Stop the worker as `docker compose stop` does (SIGTERM: RQ's warm shutdown). In one
    run of the whole suite it did not exit within 15 s (its log showed the warm shutdown
    begun); that is not what these tests are about, so it is killed then, and a warning
    carries its threads' stacks for whoever looks into it."""
    worker.terminate()
    try:
        worker.wait(15)
        return
    except subprocess.TimeoutExpired:
        worker.send_signal(signal.SIGUSR1)
        time.sleep(1)
        worker.kill()
        worker.wait(5)
    stacks = log.read_text(errors="replace")[-6000:]
    warnings.warn(f"the RQ worker did not stop within 15 s of SIGTERM:\n{stacks}", stacklevel=1)


def links(queue: str, lease: float = 60) -> Callable[[EmbeddedQueue], list[WorkerLink]]:
    def make(engine: EmbeddedQueue) -> list[WorkerLink]:
        return [RqLink(REDIS_URL, engine.owner, lease_seconds=lease, queue=queue)]

    return make


async def test_jobs_run_on_an_rq_worker_with_the_same_results(
    rq_queue: str, tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    lines = [
        ('/generate prompt:"The cat" seed:4 max_new_tokens:16', "ana"),
        ('/generate prompt:"Once upon" max_new_tokens:16', "ben"),
    ]
    async with job_bot(tmp_path / "rq", model_worker, tiny_model_dir, links=links(rq_queue)) as bot:
        ids = [await bot.generate(line, user=user) for line, user in lines]
        await bot.idle(timeout=120)
        on_rq = [bot.outbox.final(i) for i in ids]

        long = await bot.generate('/generate prompt:"b" max_new_tokens:256 seed:3')
        await until(
            lambda: any(
                isinstance(r, Progress) and "generating" in r.label
                for r in bot.outbox.for_job(long)
            ),
            what="generation to start",
        )
        stopping = await bot.run(f"/jobs cancel id:{long}")
        assert isinstance(stopping, Text) and "Stopping" in stopping.text
        await bot.idle()
        assert bot.outbox.final(long) == Text(text=f"Job {long} was cancelled.", shareable=False)
    async with job_bot(tmp_path / "local", model_worker, tiny_model_dir) as bot:
        ids = [await bot.generate(line, user=user) for line, user in lines]
        await bot.idle()
        here = [bot.outbox.final(i) for i in ids]
    assert all(isinstance(card, Card) for card in on_rq)
    assert [c.description for c in on_rq] == [c.description for c in here]  # type: ignore[attr-defined]


async def test_a_batch_no_worker_takes_fails_after_the_lease(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    try:
        Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as error:
        pytest.skip(f"Redis is not reachable at 127.0.0.1:6379 ({error})")
    nobody = f"classbot-test-empty-{uuid.uuid4().hex[:8]}"
    async with job_bot(
        tmp_path, model_worker, tiny_model_dir, links=links(nobody, lease=5), job_lease_seconds=5
    ) as bot:
        job = await bot.generate('/generate prompt:"a" max_new_tokens:8')
        await bot.idle(timeout=30)
        failure = bot.outbox.final(job)
        assert isinstance(failure, Error) and "model worker stopped" in failure.what
    Queue(nobody, connection=Redis.from_url(REDIS_URL)).delete(delete_jobs=True)


async def test_results_still_arrive_after_redis_lost_the_stream(
    rq_queue: str, tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    line = '/generate prompt:"The cat" seed:4 max_new_tokens:8'
    async with job_bot(tmp_path, model_worker, tiny_model_dir, links=links(rq_queue)) as bot:
        first = await bot.generate(line)
        await bot.idle(timeout=60)
        assert isinstance(bot.outbox.final(first), Card)
        # As after a Redis restart without its data: the bot's results stream is gone.
        (link,) = bot.driver.app.queue.pool.links  # type: ignore[union-attr]
        assert isinstance(link, RqLink)
        Redis.from_url(REDIS_URL).delete(link.stream)
        second = await bot.generate(line, user="ben")
        await bot.idle(timeout=60)
        assert isinstance(bot.outbox.final(second), Card)
