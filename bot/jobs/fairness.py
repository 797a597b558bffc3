"""Who goes next: a fair order over the waiting jobs, and which of them share one batch.

The rule: the next job is the oldest job of the user with the fewest jobs running and the
longest wait, where "longest wait" is measured as *fewest jobs served since the backlog began*
(the oldest waiting job's creation). With one worker nobody has a job running when the next
is picked, so a plain "oldest first" would let a student who queued 20 jobs first run all 20
before anyone else; counting what each user got served since the backlog began turns it into
a round-robin: one student with 20 jobs and three with one each → A, B, C, D, A, A, ...
Counting (not comparing timestamps) also keeps the order exact when many jobs share a
timestamp. Instructors' jobs (priority 1) go before students' (priority 0).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Waiting:
    """A queued job, as much as the scheduler needs."""

    id: int
    user: int
    priority: int = 0
    batch_key: str | None = None
    cost: float = 1.0

    @classmethod
    def of(cls, job_id: int, user: int, priority: int, params: Mapping[str, Any]) -> Waiting:
        batch = params.get("_batch") or {}
        key = batch.get("key")
        return cls(job_id, user, priority, str(key) if key else None, float(batch.get("cost", 1)))


def fair_order(
    waiting: Iterable[Waiting],
    running: Mapping[int, int] | None = None,
    served: Mapping[int, int] | None = None,
) -> list[Waiting]:
    """All waiting jobs in the order they would start, one pick at a time.

    `running`: jobs running now per user; `served`: jobs started per user since the oldest
    waiting job was queued. Each pick counts as served, so the simulation is the round-robin
    the dispatcher will actually follow (and what queue positions report).
    """
    queues: dict[int, deque[Waiting]] = {}
    for job in sorted(waiting, key=lambda j: j.id):
        queues.setdefault(job.user, deque()).append(job)
    busy = dict(running or {})
    got = dict(served or {})
    order: list[Waiting] = []
    while queues:
        user = min(
            queues,
            key=lambda u: (-queues[u][0].priority, busy.get(u, 0), got.get(u, 0), queues[u][0].id),
        )
        line = queues[user]
        order.append(line.popleft())
        got[user] = got.get(user, 0) + 1
        if not line:
            del queues[user]
    return order


def fits_with(lead: Waiting, other: Waiting) -> bool:
    """Whether `other` may join `lead`'s batch: same model and settings family, and not so
    much longer that it would hold the lead back (a batch ends with its longest row).
    A shorter job always gains: alone it would wait for the whole lead batch anyway."""
    if lead.batch_key is None or other.batch_key != lead.batch_key:
        return False
    return other.cost <= lead.cost * 1.25 + 1


def pick_batch(
    order: Sequence[Waiting],
    max_size: int,
    *,
    skip: Callable[[Waiting], bool] = lambda _: False,
) -> list[Waiting]:
    """The next batch: the first job in fair order, plus later ones that fit with it, taken
    in fair order too, so a student's 20 jobs do not fill a batch before the others' one."""
    lead = next((job for job in order if not skip(job)), None)
    if lead is None:
        return []
    batch = [lead]
    for job in order:
        if len(batch) >= max_size:
            break
        if job is not lead and not skip(job) and fits_with(lead, job):
            batch.append(job)
    return batch
