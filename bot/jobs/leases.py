"""Leases: a running or undelivered job belongs to the bot whose lease it carries.

A sweep renews ours (and learns which running jobs were asked to cancel), puts back in the
queue the running jobs of bots that stopped renewing (failing those out of attempts, ending
those asked to cancel), and takes the finished, undelivered jobs that are ours to deliver —
all in one transaction. On a clean stop, `release` hands back what we hold.

A lease names its bot (bot/owners.py). The first sweep of a bot does not wait for the lease
of a bot that ran on this machine and no longer does (a crash, then a restart).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.jobs import records
from bot.jobs.records import QueueSnapshot, SerialWrites
from bot.owners import died_here
from bot.store.models import Job


@dataclass(frozen=True)
class Swept:
    renewed: list[int]  # running here, our lease extended by a full lease from the sweep's start
    to_cancel: list[int]  # running here, cancel requested meanwhile
    requeued: list[int]  # back in the queue: their bot stopped
    to_deliver: list[Job]  # finished, undelivered, ours to deliver now
    queue: QueueSnapshot  # the queue as it stands after the sweep


# The lease owners alive in this process (several engines, as in tests, share one pid).
_ALIVE_HERE: set[str] = set()


class Leases:
    def __init__(
        self, writes: SerialWrites, clock: Callable[[], datetime], owner: str, lease: timedelta
    ) -> None:
        self.writes = writes
        self.clock = clock
        self.owner = owner
        self.lease = lease
        _ALIVE_HERE.add(owner)

    def close(self) -> None:
        """We hold nothing any more: a later bot of this process need not wait for us."""
        _ALIVE_HERE.discard(self.owner)

    async def sweep(
        self,
        running: Iterable[int],
        elsewhere: Iterable[int] = (),
        platforms: Collection[str] | None = None,
        *,
        first: bool = False,
    ) -> Swept:
        """`elsewhere`: jobs alive on RQ workers or in their queue, whoever claimed them;
        `platforms`: those this process delivers to (None: any); `first`: the bot's first
        sweep, which also takes back the jobs of bots that died on this machine."""
        now = self.clock()
        alive = set(elsewhere)
        async with self.writes.session() as session:
            renewed, to_cancel = await records.renew(
                session, running, owner=self.owner, until=now + self.lease
            )
            await records.keep_alive(session, alive, until=now + self.lease)
            gone = await self._died_here(session) if first else []
            # Jobs that used up their attempts, or were asked to cancel, end there and are
            # delivered below.
            requeued, _ = await records.requeue_expired(session, now=now, gone=gone, alive=alive)
            undelivered = await records.take_for_delivery(
                session, owner=self.owner, now=now, lease=self.lease, platforms=platforms
            )
            queue = await records.queue_snapshot(session)
        return Swept(renewed, to_cancel, requeued, undelivered, queue)

    async def _died_here(self, session: AsyncSession) -> list[str]:
        """The owners of running jobs that ran on this machine and are gone."""
        owners = await records.running_owners(session)
        return [o for o in owners if o != self.owner and died_here(o, _ALIVE_HERE)]

    async def requeue(self, ids: Iterable[int]) -> tuple[list[int], list[int]]:
        """Our jobs whose worker died go back to the queue (or end: out of attempts, or
        asked to cancel): (requeued, ended)."""
        async with self.writes.session() as session:
            return await records.requeue_stopped(session, ids, owner=self.owner, now=self.clock())

    async def release(self, held: Iterable[int]) -> list[int]:
        async with self.writes.session() as session:
            return await records.release(session, held, owner=self.owner, now=self.clock())
