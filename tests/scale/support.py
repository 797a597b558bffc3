"""Scale-out tests on the machine's real Redis: `classbot worker` processes started as
subprocesses, bots on the RQ backend (in this process, or in a subprocess a test kills)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

from bot.jobs.engine import EmbeddedQueue
from bot.jobs.rq import Keys, RqLink, Seen
from bot.jobs.worker import WorkerLink

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_or_skip() -> Redis:
    redis = Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        redis.ping()
    except Exception as error:
        pytest.skip(f"Redis is not reachable at 127.0.0.1:6379 ({error})")
    return redis


@dataclass
class Cluster:
    """A private RQ queue and the `classbot worker` processes serving it."""

    queue: str
    tmp: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def keys(self) -> Keys:
        return Keys(self.queue)

    def start_worker(self) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "CLASSBOT_REDIS_URL": REDIS_URL,
            "CLASSBOT_DEVICE": "cpu",
            "CLASSBOT_TORCH_THREADS": "1",
            # The worker must not need the bot's database.
            "CLASSBOT_DATABASE_URL": f"sqlite:///{self.tmp / 'none' / 'none.db'}",
        }
        log = (self.tmp / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker", "--queue", self.queue],
            cwd=self.tmp,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(process)
        return process

    def wait_workers(self, count: int, timeout: float = 120) -> None:
        redis = Redis.from_url(REDIS_URL)
        deadline = time.monotonic() + timeout
        while len(self.keys.workers(redis)) < count:
            assert all(w.poll() is None for w in self.workers), "a worker exited"
            assert time.monotonic() < deadline, f"{count} workers never beat"
            time.sleep(0.1)

    def worker_running_a_batch(self) -> int | None:
        """The pid of a worker that runs a batch now."""
        for beat in self.keys.workers(Redis.from_url(REDIS_URL)):
            if beat.get("batch"):
                return int(beat["pid"])
        return None

    def links(self, count: int = 4) -> Callable[[EmbeddedQueue], list[WorkerLink]]:
        def make(engine: EmbeddedQueue) -> list[WorkerLink]:
            seen = Seen()
            return [
                RqLink(
                    REDIS_URL, engine.owner, lease_seconds=60, queue=self.queue, index=i, seen=seen
                )
                for i in range(count)
            ]

        return make

    def close(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        redis = Redis.from_url(REDIS_URL)
        Queue(self.queue, connection=redis).delete(delete_jobs=True)
        for key in redis.scan_iter(match=f"{self.queue}:*"):
            redis.delete(key)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    redis_or_skip()
    made = Cluster(f"classbot-scale-{uuid.uuid4().hex[:8]}", tmp_path)
    try:
        yield made
    finally:
        made.close()


def read_sends(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
