"""Leases: a running or undelivered job belongs to the bot whose lease it carries.

A sweep renews ours (and learns which running jobs were asked to cancel), puts back in the
queue the running jobs of bots that stopped renewing (failing those out of attempts), and
takes the finished, undelivered jobs that are ours to deliver — all in one transaction. On a
clean stop, `release` hands back what we hold.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.jobs import records
from bot.jobs.records import QueueSnapshot, SerialWrites
from bot.store.models import Job


@dataclass(frozen=True)
class Swept:
    renewed: list[int]  # running here, our lease extended by a full lease from the sweep's start
    to_cancel: list[int]  # running here, cancel requested meanwhile
    requeued: list[int]  # back in the queue: their bot stopped
    to_deliver: list[Job]  # finished, undelivered, ours to deliver now
    queue: QueueSnapshot  # the queue as it stands after the sweep


class Leases:
    def __init__(
        self, writes: SerialWrites, clock: Callable[[], datetime], owner: str, lease: timedelta
    ) -> None:
        self.writes = writes
        self.clock = clock
        self.owner = owner
        self.lease = lease

    async def sweep(
        self,
        running: Iterable[int],
        elsewhere: Iterable[int] = (),
        platforms: Collection[str] | None = None,
    ) -> Swept:
        """`elsewhere`: jobs alive on RQ workers or in their queue, whoever claimed them;
        `platforms`: those this process delivers to (None: any)."""
        now = self.clock()
        async with self.writes.session() as session:
            renewed, to_cancel = await records.renew(
                session, running, owner=self.owner, until=now + self.lease
            )
            await records.keep_alive(session, elsewhere, until=now + self.lease)
            # Jobs that used up their attempts are failed there and delivered below.
            requeued, _ = await records.requeue_expired(session, now=now)
            undelivered = await records.take_for_delivery(
                session, owner=self.owner, now=now, lease=self.lease, platforms=platforms
            )
            queue = await records.queue_snapshot(session)
        return Swept(renewed, to_cancel, requeued, undelivered, queue)

    async def requeue(self, ids: Iterable[int]) -> tuple[list[int], list[int]]:
        """Our jobs whose worker died go back to the queue (or fail, out of attempts)."""
        async with self.writes.session() as session:
            return await records.requeue_stopped(session, ids, owner=self.owner, now=self.clock())

    async def release(self, held: Iterable[int]) -> list[int]:
        async with self.writes.session() as session:
            return await records.release(session, held, owner=self.owner)
