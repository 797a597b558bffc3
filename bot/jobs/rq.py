"""Scale-out: models run on RQ workers (`classbot worker`, any machine) over Redis.

Only the transport changes (CLASSBOT_QUEUE_BACKEND=rq): the bot still keeps the jobs table,
fairness, batching, leases and delivery (bot/jobs/engine.py), and gets its links from
`rq_links` instead of starting worker processes. Each claimed batch becomes an RQ job on the
"classbot-inference" queue; a `classbot worker` runs it with the same code as an embedded
worker (bot/jobs/tasks.py), in an RQ SimpleWorker so that loaded models stay in memory
between jobs, and publishes progress and results on a Redis channel named for the bot.
Cancels travel on a channel every worker listens to. A batch nobody reports on for a lease
period (no worker running, or it died) fails with the usual "model worker stopped" message.

The worker side needs Redis and the models, nothing else: no database, no chat adapters.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from redis import Redis

from bot.jobs import wire
from bot.jobs.links import LinkBase, LinkFactory, WorkerLink
from bot.jobs.wire import FromWorker, ToWorker, WorkerConfig

if TYPE_CHECKING:
    from bot.jobs.tasks import Runtime

log = logging.getLogger(__name__)

QUEUE = "classbot-inference"
CANCEL_CHANNEL = "classbot:cancel"


class RqLink(LinkBase):
    """One batch at a time on whichever RQ worker takes it; looks like a worker process to
    the dispatcher (bot/jobs/links.py: WorkerLink)."""

    def __init__(
        self, redis_url: str, owner: str, *, lease_seconds: float, queue: str = QUEUE
    ) -> None:
        super().__init__()
        self.redis_url = redis_url
        self.channel = f"classbot:events:{owner}"
        self.queue_name = queue
        self.lease_seconds = lease_seconds
        self.pid: int | None = None
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
        generation = self._next_generation()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._listen, args=(pubsub, generation, self._stop), daemon=True
        )
        self._thread.start()

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
                message: FromWorker = json.loads(raw["data"])
                if message["op"] == "batch_done":
                    self._batch = None
                if message["op"] != "alive":
                    self._emit(generation, message)
            elif self._batch is not None and (
                time.monotonic() - self._last_heard > self.lease_seconds
            ):
                # Nobody took the batch, or the worker running it died: give up on it.
                try:
                    self._batch.cancel()
                except Exception:
                    log.debug("cancelling the RQ job failed", exc_info=True)
                self._batch = None
                self._emit(generation, {"op": "exit", "code": None})
                return
        pubsub.close()

    def send(self, message: ToWorker) -> bool:
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
            log.warning("Redis did not take %s", message["op"], exc_info=True)
            return False
        return True

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None


def rq_links(redis_url: str, *, lease_seconds: float, queue: str = QUEUE) -> LinkFactory:
    """The RQ backend: one link (one batch in flight) per RQ worker registered when the bot
    starts (at least one)."""

    async def make(owner: str) -> list[WorkerLink]:
        import asyncio

        from rq import Worker

        try:
            count = await asyncio.to_thread(
                lambda: Worker.count(connection=Redis.from_url(redis_url, socket_timeout=3))
            )
        except Exception as error:
            log.warning("Redis at %s: %s; starting with one RQ link", redis_url, error)
            count = 1
        return [
            RqLink(redis_url, f"{owner}:{i}", lease_seconds=lease_seconds, queue=queue)
            for i in range(max(1, count))
        ]

    return make


# -- the worker side (`classbot worker`) ----------------------------------------------------------

# RQ calls job functions by import path, so the process's runtime (and its loaded models) must
# be reachable from here; work() sets it once, at start, never at import.
_runtime: Runtime | None = None
_redis: Redis | None = None


def run_batch(message: wire.Run, channel: str) -> None:
    """An RQ job: one batch, run as an embedded worker would, reported over Redis."""
    runtime, connection = _runtime, _redis
    assert runtime is not None and connection is not None, "run by `classbot worker` only"

    def publish(reply: FromWorker) -> None:
        connection.publish(channel, json.dumps(reply))

    runtime.send = publish
    done = threading.Event()

    def heartbeat() -> None:  # model downloads and loads are long and silent
        alive: wire.Alive = {"op": "alive"}
        while not done.wait(5.0):
            connection.publish(channel, json.dumps(alive))

    threading.Thread(target=heartbeat, daemon=True).start()
    try:
        runtime.run_batch(message)
    finally:
        done.set()


def work(redis_url: str, config: WorkerConfig, *, queue: str = QUEUE, burst: bool = False) -> None:
    """Serve inference jobs until stopped (blocking). Runs RQ's worker on the calling
    thread, which must be the main thread: RQ installs its SIGTERM/SIGINT handlers there
    (a warm shutdown: the batch in hand finishes, then the worker exits)."""
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
    log.info("classbot worker: queue %s on %s, device %s", queue, redis_url, config.device)
    SimpleWorker([queue], connection=_redis).work(burst=burst)
