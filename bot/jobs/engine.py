"""The embedded job queue: an asyncio dispatcher in the bot plus one worker process per device.

Loop: wake (a job was released, a batch finished, a worker came back) or every second →
sweep (renew our leases, forward cancel requests, requeue jobs of dead bots, deliver what is
undelivered) → for each free worker, claim the next fair batch (bot.jobs.fairness) and send
it. Worker messages come back on a reader thread and are handled here in order: progress goes
to the relay, results are written to the jobs table (with usage events) and then delivered.

Workers start on first use (a bot whose class never runs a model never imports torch). A
worker that dies fails the jobs it was running with a plain message and is started again; the
queue goes on. On a clean stop, running jobs get a few seconds to finish, then whatever is
left goes back to the queue for the next start.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.inference.devices import plan_devices
from bot.jobs import records
from bot.jobs.fairness import pick_batch
from bot.jobs.protocol import WORKER_STOPPED, CancelOutcome, JobRequest, JobView, Renderer, Ticket
from bot.jobs.relay import Relay
from bot.jobs.worker import Message, WorkerConfig, WorkerLink, WorkerProcess
from bot.services import Services
from bot.store.models import Job
from bot.store.usage import record_usage

log = logging.getLogger(__name__)

# A submitted job waits this long at most for its command's first reply (see submit).
HOLD_SECONDS = 30.0
# Dynamic batching: submissions less than BURST_GAP apart are a burst (a class pressing
# enter together); a free worker waits for the burst to end, at most MAX_LINGER, so the jobs
# run as one batch instead of the first alone. A lone submission never waits.
BURST_GAP = 0.03
MAX_LINGER = 0.1


# (job id, state, result, error) as the worker reported it.
_Result = tuple[int, str, dict[str, Any] | None, str | None]


@dataclass
class _Batch:
    id: str
    jobs: dict[int, JobView]
    done: set[int] = field(default_factory=set)
    cancel_sent: set[int] = field(default_factory=set)


class EmbeddedQueue:
    def __init__(
        self,
        services: Services,
        renderers: Mapping[str, Renderer],
        *,
        workers: list[WorkerLink] | None = None,
        own_workers: bool | None = None,
        progress_interval: float = 1.0,
        poll_interval: float = 1.0,
        stop_grace: float = 10.0,
    ) -> None:
        self.services = services
        self.settings = services.settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = timedelta(seconds=self.settings.job_lease_seconds)
        self.writes = records.SerialWrites(services.store)
        self.relay = Relay(
            services, renderers, self.writes, owner=self.owner, interval=progress_interval
        )
        self.workers: list[WorkerLink] = list(workers or [])
        # Workers we start we also stop; shared ones (tests) are left running.
        self._own_workers = workers is None if own_workers is None else own_workers
        self.poll_interval = poll_interval
        self.stop_grace = stop_grace
        self._batch_ids = itertools.count(1)
        self._busy: dict[WorkerLink, _Batch] = {}
        self._held: dict[int, float] = {}
        self._arrivals: collections.deque[float] = collections.deque(maxlen=256)
        self._arrived_since_claim = 0
        self._pending: set[int] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._wake = asyncio.Event()
        self._no_batches = asyncio.Event()
        self._no_batches.set()
        self._inbox: asyncio.Queue[tuple[WorkerLink, Message]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._stopping = False
        self._last_sweep = 0.0
        self._spawned_at: dict[WorkerLink, float] = {}
        self._crashes: dict[WorkerLink, int] = {}
        self._respawning: set[WorkerLink] = set()

    def use_workers(self, workers: list[WorkerLink], *, owned: bool = False) -> None:
        """Run on other workers (tests share one process across many bots)."""
        assert not self._started, "choose workers before start()"
        self.workers, self._own_workers = list(workers), owned

    # -- JobQueue -----------------------------------------------------------------------------

    async def submit(self, request: JobRequest) -> Ticket:
        # Held until release(): the job must not start (and send progress under its key)
        # before the command's own first reply has gone out, or that reply would overwrite
        # the result on platforms that edit one message.
        async with self.writes.session() as session:
            job = await records.enqueue(
                session,
                request,
                now=self.services.clock(),
                limit=self.settings.max_queued_jobs_per_user,
            )
            self._held[job.id] = time.monotonic() + HOLD_SECONDS
        self._arrivals.append(time.monotonic())
        self._arrived_since_claim += 1
        # Read in a second transaction: SQLite has one writer at a time, and every other
        # student's command waits while a write transaction stays open.
        async with self.services.store.session() as session:
            order = await records.fair_queue(session)
        self._track(job.id)
        position = next((i for i, w in enumerate(order, 1) if w.id == job.id), 1)
        free = any(w not in self._busy and (w.alive or not w.generation) for w in self.workers)
        can_start = self._started and not self._stopping and free and position == 1
        running = sum(len(batch.jobs) - len(batch.done) for batch in self._busy.values())
        return Ticket(job.id, position, running, can_start)

    def release(self, job_id: int) -> None:
        if self._held.pop(job_id, None) is not None:
            self._wake.set()

    async def cancel(
        self, job_id: int, *, user_pk: int, guild_pk: int, instructor: bool
    ) -> CancelOutcome:
        async with self.writes.session() as session:
            outcome, job = await records.request_cancel(
                session,
                job_id,
                user_pk=user_pk,
                guild_pk=guild_pk,
                instructor=instructor,
                now=self.services.clock(),
            )
        if outcome == "cancelled" and job is not None:
            self._track(job.id)
            self.relay.spawn(self._deliver(job))
        elif outcome == "cancelling":
            self._forward_cancel(job_id)
        return outcome  # type: ignore[return-value]

    async def positions(self) -> dict[int, int]:
        async with self.services.store.session() as session:
            order = await records.fair_queue(session)
        return {w.id: i for i, w in enumerate(order, 1)}

    # -- BackgroundService --------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._loop = asyncio.get_running_loop()
        if not self.workers:
            self.workers = await self._make_workers()
        for worker in self.workers:
            worker.attach(self._post)
        # After a restart: jobs still queued are ours to finish (console waits for them).
        async with self.services.store.session() as session:
            queued = await session.scalars(select(Job.id).where(Job.state == "queued"))
            for job_id in queued:
                self._track(job_id)
        await self._sweep()
        self._tasks = [
            asyncio.create_task(self._consume(), name="jobs-inbox"),
            asyncio.create_task(self._dispatch_loop(), name="jobs-dispatcher"),
        ]
        self._wake.set()

    async def _make_workers(self) -> list[WorkerLink]:
        """One worker process per device (started on first use)."""
        token = self.settings.hf_token
        return [
            WorkerProcess(
                WorkerConfig(
                    device=device,
                    memory_budget_mb=self.settings.model_memory_budget_mb,
                    hf_token=token.get_secret_value() if token else None,
                    log_level=self.settings.log_level,
                )
            )
            for device in plan_devices(self.settings.device)
        ]

    async def stop(self) -> None:
        if not self._started or self._stopping:
            return
        self._stopping = True
        deadline = time.monotonic() + self.stop_grace
        if self._busy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._no_batches.wait(), self.stop_grace)
        await self.relay.drain(within=max(1.0, deadline - time.monotonic()))
        held = [job_id for batch in self._busy.values() for job_id in batch.jobs]
        async with self.writes.session() as session:
            requeued = await records.release(session, held, owner=self.owner)
        if requeued:
            log.info("stopping: jobs %s go back to the queue", requeued)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for worker in self.workers:
            worker.attach(None)
            if self._own_workers:
                await asyncio.to_thread(worker.stop)
        self._busy.clear()

    async def wait_idle(self) -> None:
        if self._started and not self._stopping:
            await self._idle.wait()

    # -- bookkeeping --------------------------------------------------------------------------

    def _track(self, job_id: int) -> None:
        self._pending.add(job_id)
        self._idle.clear()

    def _untrack(self, job_id: int) -> None:
        self._pending.discard(job_id)
        if not self._pending:
            self._idle.set()

    def _post(self, worker: WorkerLink, message: Message) -> None:
        """Called on a worker's reader thread: hand the message to our event loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._inbox.put_nowait, (worker, message))

    def _spawn(self, worker: WorkerLink) -> None:
        self._spawned_at[worker] = time.monotonic()
        worker.start()

    # -- dispatching --------------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()
            try:
                if time.monotonic() - self._last_sweep >= min(5.0, self.lease.total_seconds() / 3):
                    await self._sweep()
                await self._dispatch()
            except Exception:
                log.exception("job dispatcher error")
                await asyncio.sleep(1.0)

    async def _dispatch(self) -> None:
        for worker in self.workers:
            if self._stopping or worker in self._busy:
                continue
            if not worker.alive:
                if worker in self._respawning or not self._pending:
                    continue  # being restarted after a crash, or nothing to do yet
                # Started on first use: a bot whose students never run a model never pays
                # for importing torch (seconds, and memory).
                self._spawn(worker)
            linger = self._linger()
            if linger > 0:
                asyncio.get_running_loop().call_later(linger, self._wake.set)
                return
            jobs = await self._claim()
            if not jobs:
                return
            batch = _Batch(
                f"{self.owner}:{next(self._batch_ids)}", {j.id: records.view(j) for j in jobs}
            )
            self._busy[worker] = batch
            self._no_batches.clear()
            for job in jobs:
                self._track(job.id)
            sent = worker.send(
                {
                    "op": "run",
                    "batch": batch.id,
                    "kind": jobs[0].kind,
                    "jobs": [{"id": j.id, "params": j.params} for j in jobs],
                }
            )
            if not sent:
                log.warning("worker %s did not take batch %s", worker.pid, batch.id)

    def _linger(self) -> float:
        """Seconds a free worker should wait for the rest of a burst of submissions."""
        if self._arrived_since_claim >= self.settings.max_batch_size or len(self._arrivals) < 2:
            return 0.0
        times = list(self._arrivals)
        if times[-1] - times[-2] > BURST_GAP:
            return 0.0
        start = len(times) - 1
        while start > 0 and times[start] - times[start - 1] <= BURST_GAP:
            start -= 1
        deadline = min(times[-1] + BURST_GAP, times[start] + MAX_LINGER)
        return max(0.0, deadline - time.monotonic())

    async def _claim(self) -> list[Job]:
        self._arrived_since_claim = 0
        now_mono = time.monotonic()
        for job_id, until in list(self._held.items()):
            if until < now_mono:
                del self._held[job_id]
        async with self.writes.session() as session:
            order = await records.fair_queue(session)
            picked = pick_batch(
                order, self.settings.max_batch_size, skip=lambda w: w.id in self._held
            )
            return await records.claim(
                session,
                [w.id for w in picked],
                owner=self.owner,
                now=self.services.clock(),
                lease=self.lease,
            )

    async def _sweep(self) -> None:
        self._last_sweep = time.monotonic()
        now = self.services.clock()
        running = [job_id for batch in self._busy.values() for job_id in batch.jobs]
        async with self.writes.session() as session:
            to_cancel = await records.renew(
                session, running, owner=self.owner, until=now + self.lease
            )
            # Jobs that used up their attempts are failed there and delivered below.
            requeued, _ = await records.requeue_expired(session, now=now)
        for job_id in to_cancel:
            self._forward_cancel(job_id)
        for job_id in requeued:
            log.info("job %s: its bot stopped; back in the queue", job_id)
            self._track(job_id)
        if requeued:
            self._wake.set()
        async with self.writes.session() as session:
            undelivered = await records.take_for_delivery(
                session, owner=self.owner, now=now, lease=self.lease
            )
        for job in undelivered:
            self._track(job.id)
            self.relay.spawn(self._deliver(job))

    def _forward_cancel(self, job_id: int) -> None:
        for worker, batch in self._busy.items():
            if job_id in batch.jobs and job_id not in batch.cancel_sent:
                batch.cancel_sent.add(job_id)
                worker.send({"op": "cancel", "id": job_id})

    # -- worker messages ----------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            items = [await self._inbox.get()]
            while not self._inbox.empty():
                items.append(self._inbox.get_nowait())
            # A batch's results arrive together: record them in one transaction.
            results: list[_Result] = []
            for worker, message in items:
                try:
                    result = self._as_result(worker, message)
                    if result is not None:
                        results.append(result)
                        continue
                    if results:
                        await self._finish(results)
                        results = []
                    await self._handle(worker, message)
                except Exception:
                    log.exception("handling worker message %s failed", message.get("op"))
            if results:
                try:
                    await self._finish(results)
                except Exception:
                    log.exception("recording results %s failed", [r[0] for r in results])

    def _as_result(self, worker: WorkerLink, message: Message) -> _Result | None:
        batch = self._busy.get(worker)
        if (
            message.get("op") != "result"
            or message.get("generation") != worker.generation
            or batch is None
            or message["id"] not in batch.jobs
        ):
            return None
        batch.done.add(message["id"])
        return (message["id"], message["state"], message.get("result"), message.get("error"))

    async def _handle(self, worker: WorkerLink, message: Message) -> None:
        if message.get("generation") != worker.generation:
            return  # from a process that has since been replaced
        op = message.get("op")
        batch = self._busy.get(worker)
        if op == "ready":
            self._crashes.pop(worker, None)
            self._wake.set()
        elif op == "exit":
            await self._worker_exited(worker, message.get("code"))
        elif batch is None:
            return  # a batch of a bot that stopped before it ended (tests share workers)
        elif op == "progress" and message["id"] in batch.jobs:
            job = batch.jobs[message["id"]]
            self.relay.progress(
                job.id, job.destination, message["step"], message["total"], message["label"]
            )
        elif op == "batch_done" and message.get("batch") == batch.id:
            self._batch_over(worker)

    async def _finish(self, results: list[_Result]) -> None:
        """Record outcomes (and a usage event per model run), then deliver them."""
        now = self.services.clock()
        finished: list[Job] = []
        async with self.writes.session() as session:
            for job_id, state, result, error in results:
                job = await records.finish(
                    session,
                    job_id,
                    owner=self.owner,
                    state=state,
                    now=now,
                    lease=self.lease,
                    result=result,
                    error=error,
                )
                if job is None:
                    log.warning("job %s finished after its lease was lost; dropped", job_id)
                    self._untrack(job_id)
                    continue
                finished.append(job)
                if state != "succeeded":
                    continue
                for run in (result or {}).get("runs", []):
                    await record_usage(
                        session,
                        guild_id=job.guild_id,
                        user_id=job.user_id,
                        command=job.kind,
                        now=now,
                        model_id=str(run["model"]["id"]),
                        model_params=int(run.get("model_params") or run["model"]["params"]),
                        detail={"job": job.id, "run": run.get("label", "")},
                    )
        for job in finished:
            self.relay.spawn(self._deliver(job))

    async def _deliver(self, job: Job) -> None:
        try:
            await self.relay.deliver(job)
        finally:
            # Delivered, or waiting for an adapter/a later retry: either way nothing more
            # happens for it now, so the console need not wait for it.
            self._untrack(job.id)

    def _batch_over(self, worker: WorkerLink) -> _Batch | None:
        batch = self._busy.pop(worker, None)
        if not self._busy:
            self._no_batches.set()
        self._wake.set()
        return batch

    async def _worker_exited(self, worker: WorkerLink, code: int | None) -> None:
        batch = self._batch_over(worker)
        if batch is not None:
            log.error(
                "worker %s died (exit %s) running jobs %s", worker.pid, code, list(batch.jobs)
            )
            await self._finish(
                [(j, "failed", None, WORKER_STOPPED) for j in batch.jobs if j not in batch.done]
            )
        if self._stopping:
            return
        # A worker that dies again right after starting (broken install) is retried slower.
        quick = time.monotonic() - self._spawned_at.get(worker, 0.0) < 30
        crashes = self._crashes[worker] = self._crashes.get(worker, 0) + 1 if quick else 1
        delay = min(30.0, 0.5 * 2 ** (crashes - 1)) if crashes > 1 else 0.0
        if delay:
            log.warning("worker keeps dying; restarting it in %.0f s", delay)
        self._respawning.add(worker)
        task = asyncio.create_task(self._respawn(worker, delay))
        self._tasks.append(task)  # cancelled by stop()

    async def _respawn(self, worker: WorkerLink, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            if not self._stopping and not worker.alive:
                self._spawn(worker)
                self._wake.set()
        finally:
            self._respawning.discard(worker)
