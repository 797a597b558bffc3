"""Scale-out: models run on RQ workers (`classbot worker`, any machine) over Redis.

Only the transport changes (CLASSBOT_QUEUE_BACKEND=rq): the bot still keeps the jobs table,
fairness, batching and delivery (bot/jobs/engine.py), and gets its links from `rq_links`
instead of starting worker processes. Each claimed batch becomes an RQ job on the
"classbot-inference" queue; a `classbot worker` runs it with the same code as an embedded
worker (bot/jobs/tasks.py), in an RQ SimpleWorker so that loaded models stay in memory
between jobs. Cancels travel on a pub/sub channel every worker listens to.

Durable results. A worker appends progress and results to the Redis stream of the link that
sent the batch (XADD); the link reads it in a consumer group (XREADGROUP) and a result is
acknowledged (XACK, then XDEL) only after the bot has written it to the jobs table. Nothing
is lost when a bot dies: its streams stay, and a live bot adopts the streams of bots whose
alive key ran out, records the results it finds there and leaves them for delivery.

Heartbeats. Each worker refreshes `{queue}:worker:{id}` (a short TTL) with the batch it runs.
The bot counts these keys for capacity (links beyond the live workers take no batch), sees a
worker die when the key of a worker that had its batch runs out (its jobs go back to the
queue, up to the attempt limit), and keeps alive the jobs table leases of every job that a
live worker runs or that waits in the RQ queue (`{queue}:waiting`), whichever bot sent it:
waiting in the queue never counts against a job, and a job runs again only if its worker
died.

The worker side needs Redis and the models, nothing else: no database, no chat adapters.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from redis import Redis
from redis.exceptions import RedisError, ResponseError

from bot.jobs import wire
from bot.jobs.links import LinkBase, LinkFactory, WorkerLink
from bot.jobs.wire import FromWorker, ToWorker, WorkerConfig

if TYPE_CHECKING:
    from bot.jobs.tasks import Runtime

log = logging.getLogger(__name__)

QUEUE = "classbot-inference"
CANCEL_CHANNEL = "classbot:cancel"
GROUP = "bots"
# A worker refreshes its heartbeat every BEAT seconds; it is dead once WORKER_TTL passes
# without one. A bot is dead (its streams up for adoption) once BOT_TTL passes.
BEAT = 1.0
WORKER_TTL = 5
BOT_TTL = 8
# How often the adopting link looks for streams of stopped bots.
ADOPT_EVERY = 2.0


class Keys:
    """The Redis keys of one queue (tests use private queues)."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.streams = f"{queue}:streams"  # hash: stream -> the bot that reads it
        self.waiting = f"{queue}:waiting"  # hash: job id -> batch, while in the RQ queue
        # hash: job id -> stream, from its result's XADD until a bot recorded it
        self.unrecorded = f"{queue}:unrecorded"

    def stream(self, link: str) -> str:
        return f"{self.queue}:events:{link}"

    def bot(self, owner: str) -> str:
        return f"{self.queue}:bot:{owner}"

    def worker(self, worker_id: str) -> str:
        return f"{self.queue}:worker:{worker_id}"

    def workers(self, redis: Redis) -> list[dict[str, Any]]:
        """The heartbeats of the live workers."""
        keys = list(redis.scan_iter(match=self.worker("*"), count=1000))
        values = redis.mget(keys) if keys else []
        return [json.loads(v) for v in values if v is not None]


class Seen:
    """What link 0 of a bot last saw of the workers, shared with the bot's other links."""

    def __init__(self) -> None:
        self.workers = 0
        self.tags: set[str] = set()  # the batches live workers run
        self.jobs: frozenset[int] = frozenset()  # run by a live worker or in the RQ queue


class RqLink(LinkBase):
    """One batch at a time on whichever RQ worker takes it; looks like a worker process to
    the dispatcher (bot/jobs/links.py: WorkerLink). Link 0 of a bot also keeps the bot's
    alive key, adopts the streams of stopped bots and collects the jobs alive elsewhere."""

    eager = True  # started with the engine: results of a previous run may be waiting
    # Set as the link gives up on a batch: True when its worker died (another may run the
    # jobs), False when no worker was there to take it (they fail).
    retries = False
    cancels_anywhere = True  # published on CANCEL_CHANNEL, which every worker reads

    def __init__(
        self,
        redis_url: str,
        owner: str,
        *,
        lease_seconds: float,
        queue: str = QUEUE,
        index: int = 0,
        seen: Seen | None = None,
    ) -> None:
        super().__init__()
        self.redis_url = redis_url
        self.owner = owner  # the bot's
        self.index = index
        self.keys = Keys(queue)
        self.stream = self.keys.stream(f"{owner}:{index}")
        self.lease_seconds = lease_seconds
        self.pid: int | None = None
        self.seen = seen or Seen()
        self._redis: Redis | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._batch: Any = None  # the RQ job running our batch
        self._batch_id: str | None = None
        self._tag: str | None = None
        self._ids: list[int] = []  # the jobs of that batch
        self.sent = 0  # batches sent through this link
        self._started = False  # a worker's heartbeat named our batch
        self._no_worker_since: float | None = None
        self._unacked: dict[int, tuple[str, str]] = {}  # job id -> (stream, entry)
        self._adopted: set[str] = set()
        self._last_adopt = 0.0

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def live_jobs(self) -> frozenset[int]:
        return self.seen.jobs

    def has_room(self) -> bool:
        """Capacity follows the live workers: link i takes batches while more than i run."""
        return self.index < max(1, self.seen.workers)

    def start(self) -> None:
        if self.alive:
            return
        self._redis = redis = Redis.from_url(self.redis_url)
        self._register(redis)
        self._scan(redis)  # live jobs and capacity before the first sweep
        generation = self._next_generation()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._listen, args=(generation, self._stop), daemon=True
        )
        self._thread.start()

    def _register(self, redis: Redis) -> None:
        """Our results stream, its consumer group, and our name on the list of streams."""
        try:
            redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as error:  # BUSYGROUP: it exists
            if "BUSYGROUP" not in str(error):
                raise
        redis.hset(self.keys.streams, self.stream, self.owner)
        self._beat_bot(redis)

    # -- the reader thread ------------------------------------------------------------------

    def _listen(self, generation: int, stop: threading.Event) -> None:
        assert self._redis is not None
        redis = self._redis
        last_scan = 0.0
        while not stop.is_set():
            try:
                self._read(redis, generation, self.stream, ">", block=500)
                if time.monotonic() - last_scan >= BEAT:
                    last_scan = time.monotonic()
                    self._beat_bot(redis)
                    self._scan(redis)
                    if self._watch(redis, generation):
                        return
                    if self.index == 0 and time.monotonic() - self._last_adopt > ADOPT_EVERY:
                        self._last_adopt = time.monotonic()
                        self._adopt(redis, generation)
            except ResponseError as error:
                # NOGROUP: read after the stream went; UNBLOCKED: it went during the read.
                if not str(error).startswith(("NOGROUP", "UNBLOCKED")):
                    log.warning("Redis refused a read of the results; trying again", exc_info=True)
                    time.sleep(1.0)
                    continue
                # Redis restarted without its data (or the stream was deleted): the stream
                # comes again, or the workers' results would go where nobody reads.
                log.warning("the results stream %s was gone; made again", self.stream)
                with contextlib.suppress(RedisError):
                    self._register(redis)
            except Exception:
                log.warning("lost Redis; reconnecting", exc_info=True)
                time.sleep(1.0)

    def _read(
        self, redis: Redis, generation: int, stream: str, start: str, block: int | None = None
    ) -> int:
        """Hand one read of `stream` to the engine; results stay unacknowledged until
        the engine has recorded them (see ack)."""
        got: Any = redis.xreadgroup(GROUP, self.owner, {stream: start}, count=200, block=block)
        count = 0
        for _, entries in got or []:
            done: list[str] = []
            for entry_id, fields in entries:
                count += 1
                entry = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                message: FromWorker = json.loads(fields[b"m"])
                if message["op"] == "result":
                    with self._lock:
                        self._unacked[int(message["id"])] = (stream, entry)
                else:
                    done.append(entry)
                if message["op"] == "batch_done" and message["batch"] == self._batch_id:
                    self._batch, self._batch_id, self._tag = None, None, None
                if message["op"] != "alive":
                    self._emit(generation, message)
            if done:
                redis.xack(stream, GROUP, *done)
                redis.xdel(stream, *done)
        return count

    def _beat_bot(self, redis: Redis) -> None:
        if self.index == 0:
            redis.set(self.keys.bot(self.owner), "1", ex=BOT_TTL)

    def _scan(self, redis: Redis) -> None:
        if self.index != 0:
            return
        beats = self.keys.workers(redis)
        live = {int(j) for b in beats for j in b.get("jobs") or ()}
        live.update(int(j) for j in redis.hkeys(self.keys.waiting))
        # A result not yet recorded (its bot may have died) must not be run again.
        live.update(int(j) for j in redis.hkeys(self.keys.unrecorded))
        self.seen.workers = len(beats)
        self.seen.tags = {str(b["batch"]) for b in beats if b.get("batch")}
        self.seen.jobs = frozenset(live)

    def _watch(self, redis: Redis, generation: int) -> bool:
        """Notice that our batch's worker died (or that no worker ran it for a lease);
        True when the link gives up and emits `exit`."""
        if self._batch_id is None:
            self._no_worker_since = None
            return False
        if self._tag in self.seen.tags:
            self._started = True
            return False
        if self._started:
            # Its heartbeat is gone: read what it wrote last (batch_done may be there).
            self._read(redis, generation, self.stream, ">")
            if self._batch_id is None:
                return False
            log.warning("the worker running batch %s stopped beating", self._batch_id)
            return self._give_up(generation, retry=True)
        if self.seen.workers:
            self._no_worker_since = None
            return False
        now = time.monotonic()
        self._no_worker_since = self._no_worker_since or now
        if now - self._no_worker_since > self.lease_seconds:
            log.warning(
                "no RQ worker for %.0f s; batch %s fails", self.lease_seconds, self._batch_id
            )
            return self._give_up(generation, retry=False)
        return False

    def _give_up(self, generation: int, *, retry: bool) -> bool:
        self.retries = retry
        try:
            self._batch.cancel()
        except Exception:
            log.debug("cancelling the RQ job failed", exc_info=True)
        if not retry and self._ids:  # never taken: out of the waiting list too
            with contextlib.suppress(Exception):
                assert self._redis is not None
                self._redis.hdel(self.keys.waiting, *self._ids)
        self._batch, self._batch_id, self._tag = None, None, None
        self._emit(generation, {"op": "exit", "code": None})
        return True

    def _adopt(self, redis: Redis, generation: int) -> None:
        """Read the streams of bots that stopped: their results get recorded here."""
        streams: Any = redis.hgetall(self.keys.streams)
        for raw_stream, raw_owner in streams.items():
            stream, owner = raw_stream.decode(), raw_owner.decode()
            if owner == self.owner or redis.exists(self.keys.bot(owner)):
                continue
            if stream not in self._adopted:
                log.info("adopting the results stream of stopped bot %s", owner)
                self._adopted.add(stream)
                # Entries the stopped bot read but never acknowledged become ours.
                redis.xautoclaim(
                    stream, GROUP, self.owner, min_idle_time=0, start_id="0-0", count=1000
                )
                self._read(redis, generation, stream, "0")
            self._read(redis, generation, stream, ">")
            waiting: Any = redis.hvals(self.keys.waiting)
            tags = set(self.seen.tags) | {v.decode() for v in waiting}
            if not redis.xlen(stream) and not any(t.startswith(stream + "|") for t in tags):
                redis.delete(stream)
                redis.hdel(self.keys.streams, stream)
                self._adopted.discard(stream)

    # -- from the engine ------------------------------------------------------------------------

    def ack(self, job_ids: Iterable[int]) -> None:
        """The engine recorded these results: they leave their streams."""
        redis = self._redis
        with self._lock:
            entries = [(j, *self._unacked.pop(j)) for j in job_ids if j in self._unacked]
        if redis is None or not entries:
            return
        pipe = redis.pipeline(transaction=False)
        for job_id, stream, entry in entries:
            pipe.xack(stream, GROUP, entry)
            pipe.xdel(stream, entry)
            pipe.hdel(self.keys.unrecorded, str(job_id))
        try:
            pipe.execute()
        except Exception:
            log.warning("could not acknowledge %s", entries, exc_info=True)

    def send(self, message: ToWorker) -> bool:
        from rq import Queue

        if self._redis is None:
            return False
        try:
            if message["op"] == "run":
                queue = Queue(self.keys.queue, connection=self._redis)
                self._batch_id, self._started = message["batch"], False
                self._no_worker_since = None
                # The batch's tag names our stream: a stream is deleted only when no batch
                # of it waits or runs.
                tag = self._tag = f"{self.stream}|{message['batch']}"
                self._ids = [j["id"] for j in message["jobs"]]
                self.sent += 1
                self._redis.hset(self.keys.waiting, mapping={j["id"]: tag for j in message["jobs"]})
                self._batch = queue.enqueue_call(
                    "bot.jobs.rq.run_batch",
                    args=(message, self.stream, tag),
                    timeout=-1,  # heartbeats watch it instead
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
        if self._redis is not None and self.index == 0:
            try:
                self._redis.delete(self.keys.bot(self.owner))
            except Exception:
                log.debug("could not clear the alive key", exc_info=True)


def rq_links(redis_url: str, *, lease_seconds: float, queue: str, most: int = 8) -> LinkFactory:
    """The RQ backend: up to `most` links (one batch in flight each) on `queue`; as many
    take batches as there are live workers (RqLink.has_room)."""

    async def make(owner: str) -> list[WorkerLink]:
        seen = Seen()
        return [
            RqLink(redis_url, owner, lease_seconds=lease_seconds, queue=queue, index=i, seen=seen)
            for i in range(most)
        ]

    return make


# -- the worker side (`classbot worker`) ----------------------------------------------------------

# RQ calls job functions by import path, so the process's runtime (and its loaded models) must
# be reachable from here; work() sets it once, at start, never at import.
_runtime: Runtime | None = None
_redis: Redis | None = None
_heart: Heart | None = None


class Heart:
    """The worker's heartbeat: a key with a short TTL, naming the batch it runs."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self.key = keys.worker(f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
        self.state: dict[str, Any] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "batch": None,
            "jobs": [],
        }
        self._lock = threading.Lock()
        self.beat()
        threading.Thread(target=self._run, name="heartbeat", daemon=True).start()

    def beat(self) -> None:
        with self._lock:
            self.redis.set(self.key, json.dumps(self.state), ex=WORKER_TTL)

    def running(self, tag: str | None, jobs: list[int]) -> None:
        with self._lock:
            self.state = {**self.state, "batch": tag, "jobs": jobs}
        self.beat()

    def _run(self) -> None:
        while True:
            time.sleep(BEAT)
            try:
                self.beat()
            except Exception:
                log.warning("heartbeat failed", exc_info=True)

    def stop(self) -> None:
        self.redis.delete(self.key)


def run_batch(message: wire.Run, stream: str, tag: str) -> None:
    """An RQ job: one batch, run as an embedded worker would, reported on a Redis stream."""
    runtime, connection, heart = _runtime, _redis, _heart
    assert runtime is not None and connection is not None and heart is not None, (
        "run by `classbot worker` only"
    )

    def publish(reply: FromWorker) -> None:
        if reply["op"] != "result":
            connection.xadd(stream, {"m": json.dumps(reply)})
            return
        # Marked unrecorded before it is on the stream: never a moment when a finished
        # job looks lost (and would be requeued).
        pipe = connection.pipeline(transaction=True)
        pipe.hset(heart.keys.unrecorded, str(reply["id"]), stream)
        pipe.xadd(stream, {"m": json.dumps(reply)})
        pipe.execute()

    ids = [int(j["id"]) for j in message["jobs"]]
    # Heartbeat first, then out of the waiting list: the jobs are never unaccounted for.
    heart.running(tag, ids)
    connection.hdel(heart.keys.waiting, *ids)
    runtime.send = publish
    try:
        runtime.run_batch(message)
    finally:
        heart.running(None, [])


def torch_threads(workers_here: int, wanted: int | None = None) -> int:
    """`wanted` (CLASSBOT_TORCH_THREADS), or the machine's cores shared among its workers."""
    if wanted:
        return max(1, wanted)
    return max(1, (os.cpu_count() or 1) // max(1, workers_here))


def work(
    redis_url: str,
    config: WorkerConfig,
    *,
    queue: str = QUEUE,
    burst: bool = False,
    threads: int | None = None,
) -> None:
    """Serve inference jobs until stopped (blocking). Runs RQ's worker on the calling
    thread, which must be the main thread: RQ installs its SIGTERM/SIGINT handlers there
    (a warm shutdown: the batch in hand finishes and is reported, then the worker exits)."""
    global _runtime, _redis, _heart
    import torch
    from rq import SimpleWorker

    from bot.jobs.tasks import Runtime  # torch loads here

    _redis = Redis.from_url(redis_url)
    keys = Keys(queue)
    here = sum(1 for b in keys.workers(_redis) if b.get("host") == socket.gethostname())
    torch.set_num_threads(torch_threads(here + 1, threads))
    _runtime = Runtime(config, send=lambda _: None, cancelled=set())
    _heart = Heart(_redis, keys)
    # redis-py types pubsub() in some releases and not in others, and never listen().
    untyped: Any = _redis
    pubsub = untyped.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CANCEL_CHANNEL)

    def cancels() -> None:
        for raw in pubsub.listen():
            if _runtime is not None:
                _runtime.cancelled.add(int(json.loads(raw["data"])))

    threading.Thread(target=cancels, daemon=True).start()
    log.info(
        "classbot worker: queue %s on %s, device %s, %d torch threads",
        queue,
        redis_url,
        config.device,
        torch.get_num_threads(),
    )
    try:
        SimpleWorker([queue], connection=_redis).work(burst=burst)
    finally:
        _heart.stop()
