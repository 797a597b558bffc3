"""The job queue's dispatcher: an asyncio loop in the bot that hands batches to workers.

Loop: wake (a job was released, a batch finished, a worker came back) or every second →
sweep now and then (bot/jobs/leases.py) → for each free worker of the pool
(bot/jobs/pool.py), wait out a burst of submissions (linger), claim the next fair batch
(bot/jobs/order.py, bot/jobs/fairness.py) and send it. Worker messages (bot/jobs/wire.py)
come back on the links' threads and are handled here in order: progress goes to the relay,
results are written to the jobs table with their usage events (what the job's kind says it
used) and then delivered.

Where batches run is the link factory's business: worker processes here
(bot/jobs/worker.py: local_links) or RQ workers elsewhere (bot/jobs/rq.py: rq_links). A
worker that dies fails the jobs it was running with a plain message and is started again;
the queue goes on. On a clean stop, running jobs get a few seconds to finish, then whatever
is left goes back to the queue for the next start (also the jobs of a worker that dies
meanwhile: the stop signal may have reached it too).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.jobs import records, wire
from bot.jobs.fairness import Waiting, fits_with, pick_batch
from bot.jobs.kinds.base import AnyKind
from bot.jobs.leases import Leases
from bot.jobs.links import LinkFactory, WorkerLink
from bot.jobs.order import QueueOrder
from bot.jobs.pool import WorkerPool
from bot.jobs.protocol import WORKER_STOPPED, CancelOutcome, JobEnv, JobRequest, JobView, Ticket
from bot.jobs.relay import Relay
from bot.owners import owner_name
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
# The first job of a burst also waits, this long at most, for jobs that would join its batch
# but are held until their commands have replied (see submit).
BURST_WAIT = 0.25


# A job of a running batch, with the outcome the worker reported (state, result, error).
_Result = tuple[JobView, wire.JobOutcome, dict[str, Any] | None, str | None]


@dataclass
class _Batch:
    id: str
    jobs: dict[int, JobView]
    done: set[int] = field(default_factory=set)
    cancel_sent: set[int] = field(default_factory=set)
    # A job sent before its command has replied (see EmbeddedQueue._submit): the worker's
    # messages wait here, in order, until it has (not None while they wait).
    parked: list[wire.FromWorker] | None = None


class EmbeddedQueue:
    def __init__(
        self,
        env: JobEnv,
        kinds: Mapping[str, AnyKind],
        links: LinkFactory,
        *,
        progress_interval: float = 1.0,
        poll_interval: float = 1.0,
        stop_grace: float = 10.0,
    ) -> None:
        self.env = env
        self.settings = env.settings
        self.kinds = dict(kinds)
        self.owner = owner_name()
        self.lease = timedelta(seconds=self.settings.job_lease_seconds)
        self.writes = records.SerialWrites(env.store)
        self.leases = Leases(self.writes, env.clock, self.owner, self.lease)
        self.relay = Relay(
            env, self.kinds, self.writes, owner=self.owner, interval=progress_interval
        )
        self.order = QueueOrder()
        self._link_factory = links
        self.pool: WorkerPool | None = None
        self.poll_interval = poll_interval
        self.stop_grace = stop_grace
        self._batch_ids = itertools.count(1)
        self._busy: dict[WorkerLink, _Batch] = {}
        self._held: dict[int, float] = {}
        # Until when (env.clock(), as the table's leases) our running jobs' leases surely hold.
        self._leased_until: dict[int, datetime] = {}
        # Jobs inserted running on a free worker, sent to it at release().
        self._direct: dict[int, WorkerLink] = {}
        # Jobs sent to a free worker at once, whose messages wait for release().
        self._early: dict[int, WorkerLink] = {}
        self._submitting = 0  # submissions under way (a burst while above zero)
        self._arrivals: collections.deque[float] = collections.deque(maxlen=256)
        self._arrived_since_claim = 0
        self._pending: set[int] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._wake = asyncio.Event()
        self._no_batches = asyncio.Event()
        self._no_batches.set()
        # A worker's message, or None: the messages its batch parked may go on now.
        self._inbox: asyncio.Queue[tuple[WorkerLink, wire.FromWorker | None]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._stopping = False
        self._last_sweep = 0.0

    def use_workers(self, workers: list[WorkerLink], *, owned: bool = False) -> None:
        """Run on these links instead of the factory's (tests share one worker process
        across many bots)."""
        assert not self._started, "choose workers before start()"
        self.pool = WorkerPool(workers, owned=owned)

    # -- JobQueue -----------------------------------------------------------------------------

    async def submit(self, request: JobRequest) -> Ticket:
        # Held until release(): the job must not start (and send progress under its key)
        # before the command's own first reply has gone out, or that reply would overwrite
        # the result on platforms that edit one message.
        if not self.order.loaded:
            async with self.env.store.session() as session:
                self.order.load(await records.queue_snapshot(session))
        self._arrivals.append(time.monotonic())
        self._submitting += 1
        try:
            return await self._submit(request)
        finally:
            self._submitting -= 1

    async def _submit(self, request: JobRequest) -> Ticket:
        # Nothing waiting, a worker free and no burst under way: the job is inserted
        # already running on that worker, and goes to it with no claim: a job of one step
        # at once (see _start_early), others at release().
        kind = self.kinds.get(request.kind)
        eager = kind is not None and kind.start_at_once
        direct = self._free_worker() if eager and self._can_go_direct() else None
        if direct is not None:
            self._busy[direct] = _Batch(f"{self.owner}:{next(self._batch_ids)}", {})
            self._no_batches.clear()
        now = self.env.clock()
        params = records.stored_params(request)
        try:
            async with self.writes.connection() as db:
                job_id = await records.enqueue(
                    db,
                    request,
                    now=now,
                    limit=self.settings.max_queued_jobs_per_user,
                    claim=(self.owner, self.lease) if direct is not None else None,
                )
                self._held[job_id] = time.monotonic() + HOLD_SECONDS
        except BaseException:
            if direct is not None:
                self._batch_over(direct)
            raise
        self._arrived_since_claim += 1
        waiting = Waiting.of(job_id, request.user_pk, request.priority, params)
        self.order.add(waiting)
        self._track(job_id)
        if direct is not None:
            self.order.started([waiting])
            view = JobView(
                id=job_id,
                kind=request.kind,
                state="running",
                params=params,
                destination=request.destination,
                user_pk=request.user_pk,
                guild_pk=request.guild_pk,
                created_at=now,
            )
            self._busy[direct].jobs[job_id] = view
            if request.cost <= 1:
                self._start_early(direct, view)
            else:
                self._direct[job_id] = direct
            self._leased_until[job_id] = now + self.lease
            running = sum(len(b.jobs) - len(b.done) for b in self._busy.values())
            return Ticket(job_id, 1, running, True)
        position = self.order.positions().get(job_id, 1)
        free = self.pool is not None and self.pool.free(lambda link: link in self._busy)
        can_start = self._started and not self._stopping and free and position == 1
        running = sum(len(batch.jobs) - len(batch.done) for batch in self._busy.values())
        return Ticket(job_id, position, running, can_start)

    def release(self, job_id: int) -> None:
        if self._held.pop(job_id, None) is not None:
            if job_id in self._early:
                self._unpark(self._early.pop(job_id))
            elif job_id in self._direct:
                self.relay.spawn(self._launch_direct(job_id))
            else:
                self._wake.set()

    def _start_early(self, worker: WorkerLink, job: JobView) -> None:
        """Send a job of one step (one forward pass) to its free worker now, before its
        command's first reply has gone out; its messages wait until it has (_unpark).

        The platform's round trip for that reply (on Discord or Slack, 100 ms or more)
        then runs beside the model instead of before it. Measured with a 100 ms round trip
        on a DistilBERT-sized /run: 156–164 ms from command to answer before, 105 ms now
        (bench/bench_tasks.py). A longer job waits for release() instead: a burst's first
        job then takes the jobs that arrive meanwhile into its batch (_launch_direct),
        where running alone would cost them a whole generation."""
        batch = self._busy[worker]
        batch.parked = []
        self._early[job.id] = worker
        self._send(worker, batch)

    def _unpark(self, worker: WorkerLink) -> None:
        """The messages the worker's batch parked go on (behind any already in the inbox)."""
        self._inbox.put_nowait((worker, None))

    def _can_go_direct(self) -> bool:
        if not self._started or self._stopping or len(self.order) or self._held:
            return False
        # In a burst, jobs wait to run as one batch (see _linger).
        times = self._arrivals
        return self._submitting == 1 and (len(times) < 2 or times[-1] - times[-2] > BURST_GAP)

    def _free_worker(self) -> WorkerLink | None:
        if self.pool is None:
            return None
        return next(
            (w for w in self.pool.links if w.alive and w.has_room() and w not in self._busy),
            None,
        )

    async def _launch_direct(self, job_id: int) -> None:
        """Send a job inserted running on a free worker. A lone job goes at once; the first
        job of a burst waits for the burst (see _burst_pending) and takes the jobs that fit
        with it into its batch, as the dispatcher would."""
        started = time.monotonic()
        await asyncio.sleep(0)  # let the commands of a burst reach submit()
        worker = self._direct.get(job_id)
        batch = self._busy.get(worker) if worker is not None else None
        if worker is None or batch is None or job_id not in batch.jobs:
            self._direct.pop(job_id, None)
            return  # the worker died meanwhile; its jobs were failed
        lead = batch.jobs[job_id]
        leader = Waiting.of(lead.id, lead.user_pk, 0, lead.params)
        # Polled: the burst ends on time as much as on events, and within BURST_WAIT.
        while self._burst_pending(leader, started):  # noqa: ASYNC110
            await asyncio.sleep(max(0.002, self._linger()))
        worker = self._direct.pop(job_id, None)
        if worker is None or self._busy.get(worker) is not batch:
            return  # the worker died meanwhile; its jobs were failed
        if any(w.id != lead.id and fits_with(leader, w) for w in self.order.order()):
            joining = await self._claim(lead=leader, room=self.settings.max_batch_size - 1)
            if self._busy.get(worker) is not batch:
                # The worker died while we claimed: those jobs go back to the queue.
                await self.leases.release([j.id for j in joining])
                self.order.mark_stale()
                return
            for job in joining:
                batch.jobs[job.id] = records.view(job)
                self._track(job.id)
        self._send(worker, batch)

    @staticmethod
    def _send(worker: WorkerLink, batch: _Batch) -> None:
        """Send the batch's jobs (all of one kind) to run on the worker."""
        jobs = list(batch.jobs.values())
        sent = worker.send(
            {
                "op": "run",
                "batch": batch.id,
                "kind": jobs[0].kind,
                "jobs": [{"id": j.id, "params": dict(j.params)} for j in jobs],
            }
        )
        if not sent:
            log.warning("worker %s did not take batch %s", worker.pid, batch.id)

    def _burst_pending(self, lead: Waiting, started: float) -> bool:
        """Whether the first job of a burst should wait a little longer for its batch-mates:
        submissions still arriving, or jobs that would join it still held until their
        commands' first replies are out (a second or so later they would make a second
        batch that waits for the whole first one)."""
        waited = time.monotonic() - started
        if waited < MAX_LINGER and (self._submitting or self._linger() > 0):
            return True
        if waited >= BURST_WAIT:
            return False
        return any(
            w.id in self._held and w.id != lead.id and fits_with(lead, w)
            for w in self.order.order()
        )

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
                now=self.env.clock(),
            )
        if outcome == "cancelled" and job is not None:
            self.order.remove(job.id)
            self._track(job.id)
            self.relay.spawn(self._deliver(job))
        elif outcome == "cancelling":
            self._forward_cancel(job_id)
        return outcome  # type: ignore[return-value]

    async def positions(self) -> dict[int, int]:
        if not self.order.loaded:
            async with self.env.store.session() as session:
                self.order.load(await records.queue_snapshot(session))
        return self.order.positions()

    # -- BackgroundService --------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._loop = asyncio.get_running_loop()
        if self.pool is None:
            self.pool = WorkerPool(await self._link_factory(self.owner), owned=True)
        self.pool.attach(self._post)
        for link in self.pool.links:
            if link.eager:
                self.pool.usable(link, wanted=True)
        await self._sweep(first=True)
        # After a restart: jobs still queued are ours to finish (console waits for them).
        for waiting in self.order.order():
            self._track(waiting.id)
        self._tasks = [
            asyncio.create_task(self._consume(), name="jobs-inbox"),
            asyncio.create_task(self._dispatch_loop(), name="jobs-dispatcher"),
        ]
        self._wake.set()

    async def stop(self) -> None:
        if not self._started or self._stopping:
            return
        self._stopping = True
        deadline = time.monotonic() + self.stop_grace
        if self._busy:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._no_batches.wait(), self.stop_grace)
        await self.relay.drain(within=max(1.0, deadline - time.monotonic()))
        # Jobs still alive on RQ workers stay running: the next bot adopts their results.
        alive = set().union(*(link.live_jobs for link in self.pool.links)) if self.pool else set()
        held = [job_id for b in self._busy.values() for job_id in b.jobs if job_id not in alive]
        requeued = await self.leases.release(held)
        if requeued:
            log.info("stopping: jobs %s go back to the queue", requeued)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.pool is not None:
            await self.pool.stop()
        self._busy.clear()
        self.leases.close()

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

    def _post(self, worker: WorkerLink, message: wire.FromWorker) -> None:
        """Called on a link's thread: hand the message to our event loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._inbox.put_nowait, (worker, message))

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
        assert self.pool is not None
        now = time.monotonic()
        for job_id in [j for j in self._direct if j in self._held and self._held[j] < now]:
            del self._held[job_id]
            self.relay.spawn(self._launch_direct(job_id))  # never released: go anyway
        for job_id in [j for j in self._early if j in self._held and self._held[j] < now]:
            del self._held[job_id]
            self._unpark(self._early.pop(job_id))  # never released: go on anyway
        for worker in self.pool.links:
            if self._stopping or worker in self._busy or not worker.has_room():
                continue
            # Started on first use: a bot whose students never run a model never pays for
            # importing torch (seconds, and memory).
            if not self.pool.usable(worker, wanted=bool(self._pending)):
                continue
            if not self._may_have_work():
                return
            linger = self._linger()
            if linger > 0:
                asyncio.get_running_loop().call_later(linger, self._wake.set)
                return
            # Reserved while the claim awaits the database: a submit meanwhile must not
            # start a job on this worker directly (the claimed batch would push it aside, and
            # the worker would be sent both).
            batch = self._busy[worker] = _Batch(f"{self.owner}:{next(self._batch_ids)}", {})
            self._no_batches.clear()
            try:
                jobs = await self._claim()
            finally:
                if self._busy.get(worker) is batch:
                    del self._busy[worker]  # the reservation ends (taken up again below)
                if not self._busy:
                    self._no_batches.set()
            if not jobs:
                return
            if worker in self._busy:
                # Its worker died while we claimed, came back and was taken since.
                await self.leases.release([j.id for j in jobs])
                self.order.mark_stale()
                return
            batch.jobs.update({j.id: records.view(j) for j in jobs})
            self._busy[worker] = batch
            self._no_batches.clear()
            for job in jobs:
                self._track(job.id)
            self._send(worker, batch)

    def _may_have_work(self) -> bool:
        """Whether a claim could find a job: the order knows one that is ready, or it is old
        enough that other bots may have queued jobs since (read again at the claim). Wakes
        come often (every result, every batch's end): a claim for nothing would still be a
        write transaction and a read of the queue."""
        if self.order.age() > self.poll_interval:
            return True
        now = time.monotonic()
        return any(self._held.get(w.id, 0.0) < now for w in self.order.order())

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

    async def _claim(self, lead: Waiting | None = None, room: int = 0) -> list[Job]:
        """The next fair batch, moved to running under our lease (with `lead`: up to `room`
        jobs that fit with that job, already running, in its batch).

        The order comes from memory while it is fresh; when it is stale, or knows of
        nothing to run, it is read again in the claim's transaction (jobs other bots
        queued, jobs requeued after a crash)."""
        self._arrived_since_claim = 0
        now_mono = time.monotonic()
        leased_until = self.env.clock() + self.lease
        for job_id, until in list(self._held.items()):
            if until < now_mono:
                del self._held[job_id]

        def ready(w: Waiting) -> bool:
            return w.id not in self._held

        async with self.writes.session() as session:
            stale = self.order.age() > self.poll_interval
            if stale or not any(ready(w) for w in self.order.order()):
                self.order.load(await records.queue_snapshot(session))
            if lead is None:
                picked = pick_batch(
                    self.order.order(), self.settings.max_batch_size, skip=lambda w: not ready(w)
                )
            else:
                fits = [w for w in self.order.order() if ready(w) and fits_with(lead, w)]
                picked = fits[:room]
            got = await records.claim(
                session,
                [w.id for w in picked],
                owner=self.owner,
                now=self.env.clock(),
                lease=self.lease,
            )
        claimed = {job.id for job in got}
        self._leased_until.update(dict.fromkeys(claimed, leased_until))
        self.order.started([w for w in picked if w.id in claimed])
        for w in picked:
            if w.id not in claimed:
                self.order.remove(w.id)  # taken or cancelled elsewhere
        return got

    async def _sweep(self, *, first: bool = False) -> None:
        self._last_sweep = time.monotonic()
        started = self.env.clock()
        running = [job_id for batch in self._busy.values() for job_id in batch.jobs]
        elsewhere = set().union(*(link.live_jobs for link in self.pool.links)) if self.pool else ()
        # Only jobs for platforms this process has an adapter for (replicas may differ).
        swept = await self.leases.sweep(
            running, elsewhere, platforms=set(self.env.outboxes), first=first
        )
        for job_id in running:
            self._leased_until.pop(job_id, None)  # not renewed: no longer sure it is ours
        self._leased_until.update(dict.fromkeys(swept.renewed, started + self.lease))
        self.order.load(swept.queue)
        for job_id in swept.to_cancel:
            self._forward_cancel(job_id)
        for job_id in swept.requeued:
            log.info("job %s: its bot stopped; back in the queue", job_id)
            self._track(job_id)
        if swept.requeued:
            self._wake.set()
        for job in swept.to_deliver:
            self._track(job.id)
            self.relay.spawn(self._deliver(job))

    def _forward_cancel(self, job_id: int) -> None:
        for worker, batch in self._busy.items():
            if job_id in batch.jobs:
                if job_id not in batch.cancel_sent:
                    batch.cancel_sent.add(job_id)
                    worker.send({"op": "cancel", "id": job_id})
                return
        # Another bot's job: told now where the workers are shared, not at its bot's next
        # sweep (which never comes if that bot died meanwhile).
        shared = self.pool and next((w for w in self.pool.links if w.cancels_anywhere), None)
        if shared:
            shared.send({"op": "cancel", "id": job_id})

    # -- worker messages ----------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            items = [await self._inbox.get()]
            while not self._inbox.empty():
                items.append(self._inbox.get_nowait())
            # A batch's results arrive together: record them in one transaction.
            results: list[_Result] = []
            for worker, message in self._unparked(items):
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
                    log.exception("handling worker message %s failed", message["op"])
            if results:
                try:
                    await self._finish(results)
                except Exception:
                    log.exception("recording results %s failed", [r[0].id for r in results])

    def _unparked(
        self, items: list[tuple[WorkerLink, wire.FromWorker | None]]
    ) -> Iterator[tuple[WorkerLink, wire.FromWorker]]:
        """The messages to handle now, in the order they came: those of a batch that parks
        them wait in it until its None comes (see _unpark)."""
        for worker, message in items:
            batch = self._busy.get(worker)
            if message is None:
                if batch is not None and batch.parked is not None:
                    parked, batch.parked = batch.parked, None
                    for waited in parked:
                        yield worker, waited
            elif batch is not None and batch.parked is not None:
                batch.parked.append(message)
            else:
                yield worker, message

    def _as_result(self, worker: WorkerLink, message: wire.FromWorker) -> _Result | None:
        batch = self._busy.get(worker)
        if (
            message["op"] != "result"
            or message.get("generation") != worker.generation
            or batch is None
            or message["id"] not in batch.jobs
        ):
            return None
        batch.done.add(message["id"])
        job = batch.jobs[message["id"]]
        return (job, message["state"], message["result"], message["error"])

    async def _handle(self, worker: WorkerLink, message: wire.FromWorker) -> None:
        if message.get("generation") != worker.generation:
            return  # from a process that has since been replaced
        assert self.pool is not None
        batch = self._busy.get(worker)
        if message["op"] == "ready":
            self.pool.ready(worker)
            self._wake.set()
        elif message["op"] == "exit":
            await self._worker_exited(worker, message["code"])
        elif message["op"] == "result" and not any(
            message["id"] in b.jobs for b in self._busy.values()
        ):
            await self._adopt(worker, message)
        elif batch is None:
            return  # a batch of a bot that stopped before it ended (tests share workers)
        elif message["op"] == "progress" and message["id"] in batch.jobs:
            job = batch.jobs[message["id"]]
            self.relay.progress(
                job.id, job.destination, message["step"], message["total"], message["label"]
            )
        elif message["op"] == "batch_done" and message["batch"] == batch.id:
            self._batch_over(worker)

    async def _finish(self, results: list[_Result]) -> None:
        """Outcomes from a worker: each reply goes out first, then one transaction records
        the outcomes, the usage each job's kind reports, and which replies went out.

        Sending before recording keeps the database off the path between the model and
        the student. A crash between the two: with embedded workers (which die with the
        bot) the jobs' leases run out and they run again; on RQ workers the results are
        still on their Redis stream, unacknowledged, and the next bot records them without
        running anything again. Either way the reply is sent again under the same key (as
        with any crash between a send and its mark, see bot/jobs/relay.py)."""
        shown = [
            replace(job, state=state, result=result, error=error)
            for job, state, result, error in results
        ]
        self.relay.spawn(self._complete(shown))

    async def _complete(self, shown: list[JobView]) -> None:
        try:
            # While our lease surely holds no other bot can take the job, so its reply goes
            # out before the record (the database stays off the path to the student). Near
            # the end of the lease, or unsure of it, the result is recorded first, under our
            # lease, and only a job still ours is sent: never twice, by two bots.
            safe_until = self.env.clock() + self.lease / 2
            sure = [j for j in shown if self._leased_until.get(j.id, safe_until) > safe_until]
            unsure = [j for j in shown if j not in sure]
            sent = await asyncio.gather(*(self.relay.send_final(job) for job in sure))
            delivered = {job.id for job, ok in zip(sure, sent, strict=True) if ok}
            try:
                await self._record(sure, delivered, hooks=True)
            except Exception:
                log.exception("jobs %s: an after-delivery hook failed", sorted(delivered))
                await self._record(sure, delivered, hooks=False)
            if unsure:
                rows = await self._record(unsure, set(), hooks=False)
                await asyncio.gather(*(self.relay.deliver(row) for row in rows))
        finally:
            for job in shown:
                self._leased_until.pop(job.id, None)
                self.relay.forget(job.id)
                self._untrack(job.id)

    async def _record(self, shown: list[JobView], delivered: set[int], *, hooks: bool) -> list[Job]:
        """Record the outcomes; the rows recorded (a job whose lease was lost is not)."""
        if not shown:
            return []
        now = self.env.clock()
        recorded: list[Job] = []
        async with self.writes.session() as session:
            for job in shown:
                row = await records.finish(
                    session,
                    job.id,
                    owner=self.owner,
                    state=job.state,
                    now=now,
                    lease=self.lease,
                    result=job.result,
                    error=job.error,
                    delivered=job.id in delivered,
                    # A replica without this platform's adapter hands delivery over.
                    keep=job.destination.platform in self.env.outboxes,
                )
                if row is None:
                    log.warning("job %s finished after its lease was lost; dropped", job.id)
                    continue
                recorded.append(row)
                self.order.ended(row.user_id)
                await self._usage(session, row, job.result, now)
                if hooks and job.id in delivered:
                    await self.relay.after_delivery(session, job, now)
        # Jobs whose reply did not go out keep our lease: the next sweep tries again.
        self._ack([job.id for job in shown])
        return recorded

    def _ack(self, job_ids: list[int]) -> None:
        """Recorded: a durable channel may drop these results now."""
        if self.pool is not None:
            for link in self.pool.links:
                link.ack(job_ids)

    async def _usage(self, session: Any, row: Job, result: dict[str, Any] | None, now: Any) -> None:
        """The usage events of a succeeded job, as its kind reports them."""
        kind = self.kinds.get(row.kind)
        if row.state == "succeeded" and kind is not None and result is not None:
            for run in kind.usage_of(result):
                await record_usage(
                    session,
                    guild_id=row.guild_id,
                    user_id=row.user_id,
                    command=row.kind,
                    now=now,
                    model_id=run.model_id,
                    model_params=run.model_params,
                    detail={"job": row.id, "run": run.label},
                )

    async def _adopt(self, worker: WorkerLink, message: wire.Result) -> None:
        """A result for a job we do not run: from the stream of a bot that stopped (or a
        batch we gave up on). Recorded, whoever's lease it carries, and left for delivery
        by a bot that serves its platform: the job is not run again."""
        now = self.env.clock()
        async with self.writes.session() as session:
            row = await records.finish(
                session,
                message["id"],
                owner=None,
                state=message["state"],
                now=now,
                lease=self.lease,
                result=message["result"],
                error=message["error"],
            )
            if row is not None:
                await self._usage(session, row, message["result"], now)
        worker.ack([message["id"]])
        if row is not None:
            log.info("job %s: recorded a result left by a stopped bot", row.id)
            self._last_sweep = 0.0  # deliver it at the next pass
            self._wake.set()

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
        if self._stopping:
            await self._hand_back_on_stop(worker, code)
            return
        batch = self._batch_over(worker)
        if batch is not None and worker.retries:
            left = _unfinished(batch)
            requeued, ended = await self.leases.requeue(left)
            log.error("the worker running jobs %s died; requeued %s", left, requeued)
            for job_id in left:
                self.relay.forget(job_id)
                if job_id in requeued:
                    self.order.remove(job_id)
                    self.order.mark_stale()  # read again from the table at the next claim
                else:
                    self._untrack(job_id)
            if ended:
                self._last_sweep = 0.0  # deliver the failures and cancels at the next pass
            self._wake.set()
        elif batch is not None:
            log.error(
                "worker %s died (exit %s) running jobs %s", worker.pid, code, list(batch.jobs)
            )
            await self._finish(
                [
                    (job, "failed", None, WORKER_STOPPED)
                    for job_id, job in batch.jobs.items()
                    if job_id not in batch.done
                ]
            )
        if not self._stopping and self.pool is not None:  # a stop may have begun meanwhile
            self.pool.exited(worker, on_back=self._wake.set)

    async def _hand_back_on_stop(self, worker: WorkerLink, code: int | None) -> None:
        """A worker that exits while we stop (the stop signal reached it before it could
        ignore it, or it was killed): its jobs go back to the queue, as stop() hands back
        every running job, not failed. The batch stays ours until they are back: stop()
        waits for the batches to end, so it does not hand back and close before this."""
        batch = self._busy.get(worker)
        if batch is not None:
            requeued = await self.leases.release(_unfinished(batch))
            log.info(
                "worker %s exited (%s) while stopping: jobs %s go back", worker.pid, code, requeued
            )
        self._batch_over(worker)


def _unfinished(batch: _Batch) -> list[int]:
    """The jobs of a batch whose worker has not reported their outcome."""
    return [job_id for job_id in batch.jobs if job_id not in batch.done]
