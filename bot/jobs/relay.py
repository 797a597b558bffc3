"""The relay: job progress and results become chat replies, each result delivered once.

Every reply about job N is sent with key "job:N", so the platform shows one message that
goes from "queued" through progress to the result. Progress is coalesced to the latest value
at most once per interval (the adapters also throttle edits to the platform limits), and a
job's sends are serialised so a slow progress edit can never land after the result.

Exactly once: a result is delivered by whoever holds the job's lease (the bot that ran it,
or after it stopped, the next bot to start), then `delivered_at` is set with a conditional
UPDATE. If the process dies between the send and that mark, the next start sends the
result again (at-least-once on the wire, exactly once in the table): because the resend uses
the same key, platforms that can edit (Discord's interaction message, Slack's response_url)
replace the first copy instead of posting a second; a console prints it twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import Destination
from bot.jobs import records, wire
from bot.jobs.kinds.base import AnyKind
from bot.jobs.protocol import JobEnv, JobView
from bot.replies import Button, Error, Progress, Reply, Text
from bot.store.models import Job

log = logging.getLogger(__name__)

# A result that cannot be sent (platform down, message deleted) is retried at each sweep,
# and given up after this many tries so one bad destination cannot loop forever.
MAX_SEND_TRIES = 5
# How often a running job's progress is saved to the jobs table (for /jobs).
DB_PROGRESS_SECONDS = 2.0


def cancel_button(job_id: int) -> Button:
    return Button(label="Cancel", action=f"/jobs cancel id:{job_id}", style="danger")


class Relay:
    def __init__(
        self,
        env: JobEnv,
        kinds: Mapping[str, AnyKind],
        writes: records.SerialWrites,
        *,
        owner: str,
        interval: float,
    ) -> None:
        self.env = env
        self.kinds = kinds
        self.writes = writes
        self.owner = owner
        self.interval = interval
        self._locks: dict[int, asyncio.Lock] = {}
        self._latest: dict[int, tuple[Destination, Progress]] = {}
        self._last_sent: dict[int, float] = {}
        self._first_seen: dict[int, float] = {}
        self._last_saved: dict[int, float] = {}
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._finished: set[int] = set()
        self._tries: dict[int, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, within: float) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=within)

    # -- progress ----------------------------------------------------------------------------

    def progress(
        self, job_id: int, destination: Destination, step: int, total: int, label: str
    ) -> None:
        if job_id in self._finished:
            return
        reply = Progress(step=step, total=total, label=label, buttons=(cancel_button(job_id),))
        self._latest[job_id] = (destination, reply)
        wait = self._last_sent.get(job_id, 0.0) + self.interval - time.monotonic()
        if wait <= 0:
            self.spawn(self._flush(job_id))
        elif job_id not in self._timers:
            loop = asyncio.get_running_loop()
            self._timers[job_id] = loop.call_later(wait, lambda: self.spawn(self._flush(job_id)))

    async def _flush(self, job_id: int) -> None:
        self._timers.pop(job_id, None)
        item = self._latest.pop(job_id, None)
        if item is None:
            return
        destination, reply = item
        async with self._lock(job_id):
            if job_id in self._finished:
                return
            now = time.monotonic()
            self._last_sent[job_id] = now
            # The table's copy (what /jobs shows) is refreshed less often than the chat, and
            # not at all for a job's first seconds: a write per job per step would compete
            # with the students' commands for SQLite's single writer.
            first = self._first_seen.setdefault(job_id, now)
            if (
                now - first >= DB_PROGRESS_SECONDS
                and now - self._last_saved.get(job_id, first) >= DB_PROGRESS_SECONDS
            ):
                self._last_saved[job_id] = now
                async with self.writes.session() as session:
                    await records.set_progress(
                        session,
                        job_id,
                        owner=self.owner,
                        step=reply.step,
                        total=reply.total,
                        label=reply.label,
                    )
            outbox = self.env.outboxes.get(destination.platform)
            if outbox is not None:
                try:
                    await outbox.send(destination, reply, key=f"job:{job_id}")
                except Exception:  # progress is best effort; the result is what matters
                    log.warning("progress for job %s not sent", job_id, exc_info=True)

    def _lock(self, job_id: int) -> asyncio.Lock:
        return self._locks.setdefault(job_id, asyncio.Lock())

    # -- results -----------------------------------------------------------------------------

    def render(self, job: JobView) -> Reply:
        if job.state == "cancelled":
            return Text(text=f"Job {job.id} was cancelled.", shareable=False)
        if job.state == "failed":
            todo = (job.result or {}).get(wire.TODO)
            return Error(
                what=job.error or "The job failed.",
                todo=str(todo or "Try again; if it keeps failing, tell your instructor."),
                ref=f"job {job.id}",
                private=False,
            )
        kind = self.kinds.get(job.kind)
        if kind is None:
            return Text(text=f"Job {job.id} is done.")
        try:
            return kind.reply(job)
        except Exception:
            log.exception("rendering job %s failed", job.id)
            return Error(
                what="Your job finished but its result could not be shown.",
                todo="Tell your instructor.",
                ref=f"job {job.id}",
                private=False,
            )

    async def send_final(self, shown: JobView) -> bool:
        """Send a finished job's reply. True: it went out (or was given up after
        MAX_SEND_TRIES), so it counts as delivered; False: it must wait (no adapter for its
        platform in this process, or the platform failed) and is retried at a later sweep."""
        self._finished.add(shown.id)
        timer = self._timers.pop(shown.id, None)
        if timer is not None:
            timer.cancel()
        self._latest.pop(shown.id, None)
        async with self._lock(shown.id):
            outbox = self.env.outboxes.get(shown.destination.platform)
            if outbox is None:
                # No adapter for that platform runs in this process: the job stays
                # undelivered and goes out when a bot with that adapter starts.
                log.warning("job %s: no %s outbox here", shown.id, shown.destination.platform)
                return False
            try:
                await outbox.send(shown.destination, self.render(shown), key=f"job:{shown.id}")
            except Exception:
                tries = self._tries[shown.id] = self._tries.get(shown.id, 0) + 1
                log.warning("job %s: delivery failed (try %s)", shown.id, tries, exc_info=True)
                if tries < MAX_SEND_TRIES:
                    return False
                log.error("job %s: giving up delivery after %s tries", shown.id, tries)
        return True

    async def after_delivery(self, session: AsyncSession, shown: JobView, now: datetime) -> None:
        """The kind's after-delivery hook, once the job is marked delivered."""
        kind = self.kinds.get(shown.kind)
        if kind is not None:
            await kind.delivered(session, shown, now)

    async def deliver(self, job: Job) -> bool:
        """Send a finished job (read from the table) and mark it delivered; False if it
        must wait. A crash between the send and the mark re-sends on the next start,
        under the same key (see above)."""
        shown = records.view(job)
        if not await self.send_final(shown):
            return False
        now = self.env.clock()
        async with self.writes.session() as session:
            marked = await records.mark_delivered(session, job.id, now=now)
        if marked:
            try:
                async with self.writes.session() as session:
                    await self.after_delivery(session, shown, now)
            except Exception:
                log.exception("job %s: after-delivery hook failed", job.id)
        self.forget(job.id)
        return True

    def forget(self, job_id: int) -> None:
        self._locks.pop(job_id, None)
        self._last_sent.pop(job_id, None)
        self._first_seen.pop(job_id, None)
        self._last_saved.pop(job_id, None)
        self._tries.pop(job_id, None)
        # The id stays in _finished: a progress flush still waiting for the lock must see it.
