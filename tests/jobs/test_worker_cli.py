"""`classbot worker` on a GPU machine: Redis and the models, nothing else — no bot, no
database — and SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Worker

from bot.jobs.worker import WorkerProcess
from bot.replies import Card
from tests.jobs.support import job_bot
from tests.jobs.test_rq import REDIS_URL, links

REPO = Path(__file__).resolve().parents[2]


def _registered(queue: str) -> list[Worker]:
    redis = Redis.from_url(REDIS_URL)
    return [w for w in Worker.all(connection=redis) if queue in w.queue_names()]


async def test_worker_serves_jobs_without_the_bots_database_and_stops_on_sigterm(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    try:
        Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as error:
        pytest.skip(f"Redis is not reachable at 127.0.0.1:6379 ({error})")
    queue = f"classbot-test-cli-{uuid.uuid4().hex[:8]}"
    missing_db = tmp_path / "no-such-folder" / "classbot.db"
    env = {
        **os.environ,
        # Neither exists: a worker that opened or migrated the bot's database would fail.
        "CLASSBOT_DATABASE_URL": f"sqlite:///{missing_db}",
        "CLASSBOT_REDIS_URL": REDIS_URL,
        "CLASSBOT_DEVICE": "cpu",
        "CLASSBOT_LOG_LEVEL": "INFO",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker", "--queue", queue],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not _registered(queue):
            assert worker.poll() is None, worker.communicate()[0]
            assert time.monotonic() < deadline, "the worker never registered with RQ"
            time.sleep(0.2)
        async with job_bot(
            tmp_path / "bot", model_worker, tiny_model_dir, links=links(queue)
        ) as bot:
            job = await bot.generate('/generate prompt:"The cat" seed:4 max_new_tokens:8')
            await bot.idle(timeout=120)
            assert isinstance(bot.outbox.final(job), Card)
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
        Queue(queue, connection=Redis.from_url(REDIS_URL)).delete(delete_jobs=True)
    assert worker.returncode == 0, output
    assert "signal only works in main thread" not in output
    assert not missing_db.parent.exists()
    assert not _registered(queue)  # it said goodbye to RQ on the way out
