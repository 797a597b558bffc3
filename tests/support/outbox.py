"""RecordingOutbox: the test double of an adapter's outbox (bot.delivery's Outbox protocol)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NamedTuple

from bot.delivery import Destination
from bot.replies import Progress, Reply, as_plain_text


class Delivery(NamedTuple):
    destination: Destination
    reply: Reply
    key: str | None


@dataclass
class RecordingOutbox:
    """Keeps every reply it is asked to deliver, in order; with `fail` set it raises instead,
    like a platform that is down."""

    sent: list[Delivery] = field(default_factory=list)
    # time.monotonic() when each of `sent` was handed over (benchmarks time deliveries).
    times: list[float] = field(default_factory=list)
    fail: bool = False

    async def send(self, destination: Destination, reply: Reply, *, key: str | None = None) -> None:
        if self.fail:
            raise ConnectionError("the platform is down")
        self.sent.append(Delivery(destination, reply, key))
        self.times.append(time.monotonic())

    @property
    def keys(self) -> list[str | None]:
        return [s.key for s in self.sent]

    def texts(self) -> list[str]:
        return [as_plain_text(s.reply) for s in self.sent]

    def delivered_at(self) -> dict[str, float]:
        """When each key's result (not its progress) was handed over."""
        return {
            s.key: at
            for s, at in zip(self.sent, self.times, strict=True)
            if s.key is not None and not isinstance(s.reply, Progress)
        }

    def finals(self) -> list[Delivery]:
        """Results (anything but progress), in delivery order."""
        return [s for s in self.sent if not isinstance(s.reply, Progress)]

    def for_job(self, job_id: int) -> list[Reply]:
        return [s.reply for s in self.sent if s.key == f"job:{job_id}"]

    def final(self, job_id: int) -> Reply:
        finals = [r for r in self.for_job(job_id) if not isinstance(r, Progress)]
        assert len(finals) == 1, f"job {job_id}: {len(finals)} results delivered"
        return finals[0]
