"""`JobKind`: one model task, declared once — its typed params and result, how the result
renders, what usage it records, what happens once it is delivered, how jobs batch, and
which worker function runs it.

The engine is generic over kinds: it stores `params.to_json()`, hands the JSON to the
worker, stores the JSON result, and asks the kind for the reply and the usage. The worker
side (`runner`, "module:function") is imported by import path inside worker processes
only, so the bot never imports torch for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, Self, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import Destination
from bot.jobs.protocol import JobRequest, JobView
from bot.replies import Button, Reply


class JsonData(Protocol):
    """A frozen dataclass that round-trips through the jobs table's JSON columns."""

    def to_json(self) -> dict[str, Any]: ...

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self: ...


P = TypeVar("P", bound=JsonData)
R = TypeVar("R", bound=JsonData)


@dataclass(frozen=True)
class UsageRun:
    """One model run a finished job records as a usage event."""

    model_id: str
    model_params: int
    label: str = ""


@dataclass(frozen=True)
class JobKind(Generic[P, R]):
    name: str
    params_type: type[P]
    result_type: type[R]
    # "module:function" of the worker-side runner (bot/jobs/tasks.py: Runner).
    runner: str
    render: Callable[[JobView, P, R], Reply]
    usage: Callable[[R], list[UsageRun]]
    # Jobs with the same batch key may run as one batched call; cost (e.g. new tokens)
    # keeps a short job's batch from being held back by a much longer one.
    batch_key: Callable[[P], str | None]
    cost: Callable[[P], float]
    # One line for /jobs ("generate: Once upon a time…").
    summary: Callable[[P], str]
    # With nothing waiting and a worker free, a job is inserted running on it and sent as
    # soon as its command has replied, skipping the dispatcher's claim (a few ms): worth it
    # for short jobs where those ms show. Long jobs (images) rather wait for the dispatcher,
    # whose later look catches more of a burst to share one batched call. A job of one step
    # (cost 1) is sent even before its command has replied (bot/jobs/engine.py).
    start_at_once: bool = False
    # Runs once after the result is marked delivered, in its own transaction (e.g. the
    # image's outcome goes to the audit log). A crash between the mark and the hook skips
    # it: it is a record, not the delivery.
    after_delivery: Callable[[AsyncSession, JobView, P, datetime], Awaitable[None]] | None = None
    # "module:function" of the runner on a hosted backend (bot/jobs/hosted/runners.py:
    # HostedRunner); None: the kind runs only on local or RQ workers.
    hosted: str | None = None
    # Pictures of a succeeded job's result, drawn when asked (/chart job:N, the result's
    # Chart button) rather than for every job: drawing costs the bot ~0.2 s of CPU.
    chart: Callable[[JobView, P, R], Awaitable[list[Reply]]] | None = None

    def request(
        self,
        params: P,
        *,
        guild_pk: int,
        user_pk: int,
        destination: Destination,
        priority: int = 0,
    ) -> JobRequest:
        """What a command submits for these params."""
        return JobRequest(
            kind=self.name,
            params=params.to_json(),
            guild_pk=guild_pk,
            user_pk=user_pk,
            destination=destination,
            priority=priority,
            batch_key=self.batch_key(params),
            cost=self.cost(params),
            summary=self.summary(params),
        )

    def params_of(self, job: JobView) -> P:
        return self.params_type.from_json(job.params)

    def result_of(self, job: JobView) -> R:
        return self.result_type.from_json(job.result or {})

    def reply(self, job: JobView) -> Reply:
        """The reply for a succeeded job."""
        return self.render(job, self.params_of(job), self.result_of(job))

    def usage_of(self, result: Mapping[str, Any]) -> list[UsageRun]:
        return self.usage(self.result_type.from_json(result))

    async def charts(self, job: JobView) -> list[Reply]:
        """The kind's pictures of a succeeded job (none when the kind draws none)."""
        if self.chart is None:
            return []
        return await self.chart(job, self.params_of(job), self.result_of(job))

    async def delivered(self, session: AsyncSession, job: JobView, now: datetime) -> None:
        if self.after_delivery is not None:
            await self.after_delivery(session, job, self.params_of(job), now)


AnyKind = JobKind[Any, Any]


def chart_button(job_id: int) -> Button:
    """Under a result that has a picture to draw (the kind's `chart`)."""
    return Button(label="Chart", action=f"/chart job:{job_id}")
