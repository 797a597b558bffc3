"""Scale-out: models run on RQ workers (`classbot worker`, any machine) over Redis.

Only the transport changes (CLASSBOT_QUEUE_BACKEND=rq): the bot still keeps the jobs table,
fairness, batching, leases and delivery (bot/jobs/engine.py). Each claimed batch becomes an
RQ job on the "classbot-inference" queue; a `classbot worker` runs it with the same code as
an embedded worker (bot/jobs/tasks.py), in an RQ SimpleWorker so that loaded models stay in
memory between jobs, and publishes progress and results on a Redis channel named for the bot.
Cancels travel on a channel every worker listens to. A batch nobody reports on for a lease
period (no worker running, or it died) fails with the usual "model worker stopped" message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from redis import Redis

from bot.jobs.engine import EmbeddedQueue
from bot.jobs.worker import Message, Sink, WorkerConfig, WorkerLink

if TYPE_CHECKING:
    from bot.app import App
    from bot.jobs.tasks import Runtime

log = logging.getLogger(__name__)

QUEUE = "classbot-inference"
CANCEL_CHANNEL = "classbot:cancel"


class RqLink:
    """One batch at a time on whichever RQ worker takes it; looks like a worker process to
    the dispatcher (bot/jobs/worker.py: WorkerLink)."""

    def __init__(
        self, redis_url: str, owner: str, *, lease_seconds: float, queue: str = QUEUE
    ) -> None:
        self.redis_url = redis_url
        self.channel = f"classbot:events:{owner}"
        self.queue_name = queue
        self.lease_seconds = lease_seconds
        self.generation = 0
        self.pid: int | None = None
        self._sink: Sink | None = None
        self._lock = threading.Lock()
        self._redis: Redis | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._batch: Any = None  # the RQ job running our batch
        self._last_heard = 0.0

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self.stop()
        self._redis = Redis.from_url(self.redis_url)
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        pubsub.subscribe(self.channel)
        self.generation += 1
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._listen, args=(pubsub, self.generation, self._stop), daemon=True
        )
        self._thread.start()

    def attach(self, sink: Sink | None) -> None:
        with self._lock:
            self._sink = sink

    def _emit(self, generation: int, message: Message) -> None:
        message["generation"] = generation
        with self._lock:
            sink = self._sink
        if sink is not None:
            with contextlib.suppress(RuntimeError):
                sink(self, message)

    def _listen(self, pubsub: Any, generation: int, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                raw = pubsub.get_message(timeout=1.0)
            except Exception:
                log.warning("lost Redis; reconnecting", exc_info=True)
                time.sleep(1.0)
                continue
            if raw is not None:
                self._last_heard = time.monotonic()
                message = json.loads(raw["data"])
                if message.get("op") == "batch_done":
                    self._batch = None
                if message.get("op") != "alive":
                    self._emit(generation, message)
            elif self._batch is not None and (
                time.monotonic() - self._last_heard > self.lease_seconds
            ):
                # Nobody took the batch, or the worker running it died: give up on it.
                with contextlib.suppress(Exception):
                    self._batch.cancel()
                self._batch = None
                self._emit(generation, {"op": "exit", "code": None})
                return
        pubsub.close()

    def send(self, message: Message) -> bool:
        from rq import Queue

        if self._redis is None:
            return False
        try:
            if message["op"] == "run":
                queue = Queue(self.queue_name, connection=self._redis)
                self._last_heard = time.monotonic()
                self._batch = queue.enqueue_call(
                    "bot.jobs.rq.run_batch",
                    args=(message, self.channel),
                    timeout=-1,  # the lease watches it instead
                    result_ttl=0,
                    failure_ttl=3600,
                )
            elif message["op"] == "cancel":
                self._redis.publish(CANCEL_CHANNEL, json.dumps(message["id"]))
        except Exception:
            log.warning("Redis did not take %s", message.get("op"), exc_info=True)
            return False
        return True

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None


class RqQueue(EmbeddedQueue):
    """The embedded queue with RQ workers in place of local worker processes: one link (one
    batch in flight) per RQ worker registered when the bot starts (at least one)."""

    async def _make_workers(self) -> list[WorkerLink]:
        from rq import Worker

        url = self.settings.redis_url
        try:
            count = await asyncio.to_thread(
                lambda: Worker.count(connection=Redis.from_url(url, socket_timeout=3))
            )
        except Exception as error:
            log.warning("Redis at %s: %s; starting with one RQ link", url, error)
            count = 1
        lease = self.settings.job_lease_seconds
        return [RqLink(url, f"{self.owner}:{i}", lease_seconds=lease) for i in range(max(1, count))]


# -- the worker side (`classbot worker`) ----------------------------------------------------------

# RQ calls job functions by import path, so the process's runtime (and its loaded models) must
# be reachable from here; work() sets it once, at start, never at import.
_runtime: Runtime | None = None
_redis: Redis | None = None


def run_batch(message: Message, channel: str) -> None:
    """An RQ job: one batch, run as an embedded worker would, reported over Redis."""
    runtime, connection = _runtime, _redis
    assert runtime is not None and connection is not None, "run by `classbot worker` only"

    def publish(reply: Message) -> None:
        connection.publish(channel, json.dumps(reply))

    runtime.send = publish
    done = threading.Event()

    def heartbeat() -> None:  # model downloads and loads are long and silent
        while not done.wait(5.0):
            connection.publish(channel, json.dumps({"op": "alive"}))

    threading.Thread(target=heartbeat, daemon=True).start()
    try:
        runtime.run_batch(message)
    finally:
        done.set()


def work(redis_url: str, config: WorkerConfig, *, queue: str = QUEUE, burst: bool = False) -> None:
    """Serve inference jobs until stopped (blocking)."""
    global _runtime, _redis
    from rq import SimpleWorker

    from bot.jobs.tasks import Runtime  # torch loads here

    _redis = Redis.from_url(redis_url)
    _runtime = Runtime(config, send=lambda _: None, cancelled=set())
    pubsub = _redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    pubsub.subscribe(CANCEL_CHANNEL)

    def cancels() -> None:
        for raw in pubsub.listen():
            if _runtime is not None:
                _runtime.cancelled.add(int(json.loads(raw["data"])))

    threading.Thread(target=cancels, daemon=True).start()
    SimpleWorker([queue], connection=_redis).work(burst=burst)


async def serve(app: App, args: argparse.Namespace) -> int:
    """`classbot worker`: run models for the bots that use CLASSBOT_QUEUE_BACKEND=rq."""
    from bot.inference.devices import plan_devices

    settings = app.settings
    token = settings.hf_token
    config = WorkerConfig(
        device=plan_devices(settings.device)[0],
        memory_budget_mb=settings.model_memory_budget_mb,
        hf_token=token.get_secret_value() if token else None,
        log_level=settings.log_level,
    )
    log.info("classbot worker: queue %s on %s", QUEUE, settings.redis_url)
    await asyncio.to_thread(work, settings.redis_url, config)
    return 0
