"""Reminders and closing messages at activity deadlines, surviving restarts.

Deadlines are rows in the database, not timers in memory: each tick reads what is due at
the clock and claims it with a conditional UPDATE (`reminded_at`, `closed_at`)
before sending, so a restarted bot catches up on what fell due while it was down, and
nothing is sent twice. A delivery that fails is un-claimed and retried a little later.

In production one asyncio task sleeps until the next deadline (at most MAX_SLEEP, so
activities posted by another process are noticed) and is woken early when a command posts
or extends an activity. Tests call `await scheduler.tick()` at a FakeClock time instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.activities import messages, store
from bot.config import Settings
from bot.delivery import Destination, Outbox
from bot.replies import Reply
from bot.store import Store
from bot.store.models import Activity

log = logging.getLogger(__name__)

# Activities at least this long get the longer reminder lead.
LONG_ACTIVITY = timedelta(minutes=15)
MAX_SLEEP = 60.0
RETRY_AFTER = timedelta(seconds=30)


@dataclass(frozen=True)
class Sent:
    """One message the scheduler delivered (tick returns these)."""

    activity_id: int
    kind: str  # "reminder" or "closing"


def reminder_at(
    activity: Activity, settings: Settings, closes_at: datetime | None = None
) -> datetime | None:
    """When the reminder is due (with `closes_at`: for that deadline), or None when this
    activity gets none."""
    closes_at = closes_at or activity.closes_at
    duration = closes_at - activity.opens_at
    minutes = (
        settings.activity_reminder_minutes
        if duration >= LONG_ACTIVITY
        else settings.activity_short_reminder_minutes
    )
    if minutes <= 0:
        return None
    due = closes_at - timedelta(minutes=minutes)
    # A reminder at (or before) the announcement itself would only repeat it.
    return due if due > activity.opens_at else None


class ActivityScheduler:
    name = "activities"

    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        clock: Callable[[], datetime],
        outboxes: Mapping[str, Outbox],
    ) -> None:
        """`outboxes` by platform name; the adapters register theirs after start-up, so
        pass the live mapping, not a copy."""
        self.store = store
        self.settings = settings
        self.clock = clock
        self.outboxes = outboxes
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        # Failed deliveries wait before the next try (activity id, kind) → not before.
        self._retry: dict[tuple[int, str], datetime] = {}

    # -- BackgroundService ------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="activity-scheduler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_idle(self) -> None:
        # Future deadlines are not "pending work": only a tick in progress is.
        async with self._lock:
            pass

    def wake(self) -> None:
        """Re-read the next deadline now (an activity was posted, extended or closed)."""
        self._wake.set()

    # -- the work ---------------------------------------------------------------------------

    async def tick(self) -> list[Sent]:
        """Send every reminder and closing message due at the clock, once each."""
        async with self._lock:
            now = self.clock()
            async with self.store.session() as session:
                activities = await store.pending(session, list(self.outboxes))
            sent: list[Sent] = []
            for activity in activities:
                for kind, at in self._moments(activity, now):
                    if at <= now and await self._deliver(activity, kind, now):
                        sent.append(Sent(activity.id, kind))
            return sent

    def _moments(self, activity: Activity, now: datetime) -> list[tuple[str, datetime]]:
        """When each message of a pending activity falls due (a failed one: its retry)."""
        moments = [("closing", activity.closes_at)]
        remind = reminder_at(activity, self.settings)
        if activity.reminded_at is None and remind is not None and activity.closes_at > now:
            moments.append(("reminder", remind))
        return [(kind, max(at, self._retry.get((activity.id, kind), at))) for kind, at in moments]

    async def _deliver(self, activity: Activity, kind: str, now: datetime) -> bool:
        closing, count = kind == "closing", 0
        async with self.store.session(write=True) as session:
            if closing:
                claimed = await store.claim_closing(session, activity.id, now)
                count = (await store.submission_counts(session, [activity.id]))[activity.id]
            else:
                claimed = await store.claim_reminder(session, activity.id, now)
        if not claimed:  # someone else (/activity close, another process) got there first
            self._retry.pop((activity.id, kind), None)
            return False
        tz = messages.zone(self.settings)
        reply: Reply = (
            messages.closing(activity, count, tz, now)
            if closing
            else messages.reminder(activity, tz, now)
        )
        destination = Destination.from_json(activity.destination)
        try:
            outbox = self.outboxes[destination.platform]
            await outbox.send(destination, reply, key=messages.outbox_key(activity, kind))
        except Exception:
            log.exception("activity %s: the %s could not be delivered", activity.id, kind)
            async with self.store.session(write=True) as session:
                await store.release(session, activity.id, closing=closing)
            self._retry[(activity.id, kind)] = now + RETRY_AFTER
            return False
        self._retry.pop((activity.id, kind), None)
        return True

    async def next_due(self) -> datetime | None:
        """The earliest moment a reminder or closing message falls due."""
        now = self.clock()
        async with self.store.session() as session:
            activities = await store.pending(session, list(self.outboxes))
        return min((at for a in activities for _, at in self._moments(a, now)), default=None)

    async def _run(self) -> None:
        while True:
            # Cleared before the tick: a wake during the tick makes the next wait return.
            self._wake.clear()
            delay = MAX_SLEEP
            try:
                await self.tick()
                due = await self.next_due()
                if due is not None:
                    delay = (due - self.clock()).total_seconds()
            except Exception:
                log.exception("activity scheduler tick failed; trying again shortly")
                delay = RETRY_AFTER.total_seconds()
            delay = min(MAX_SLEEP, max(0.05, delay))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
