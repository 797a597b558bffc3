"""Assemble the bot: settings → store (migrated) → hub → guard → jobs → services → router."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis

from bot.activities.scheduler import ActivityScheduler
from bot.commands import all_commands
from bot.config import Settings
from bot.delivery import Outbox
from bot.hub.client import HubClient
from bot.inference.guard import ModelGuard
from bot.inference.hosted.backend import choose_backend
from bot.inference.hosted.guard import HostedGuard
from bot.jobs import build_queue
from bot.jobs.engine import EmbeddedQueue
from bot.jobs.hosted.budget import DailyBudget
from bot.jobs.service import JobService
from bot.ratelimit import Limiter, RedisRateLimiter, redis_at
from bot.router import Router
from bot.services import Clock, Services, utc_now
from bot.store import Store


class BackgroundService(Protocol):
    """Work that runs beside the adapters (the job dispatcher, the activity scheduler)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def wait_idle(self) -> None:
        """Return once nothing started so far is still pending (the console waits for it
        at the end of its input so queued results are printed before it exits)."""
        ...


@dataclass
class App:
    settings: Settings
    services: Services
    router: Router
    queue: EmbeddedQueue
    background: list[BackgroundService] = field(default_factory=list)
    started: bool = False
    # The Redis that replicas share state through (the RQ backend), closed with the app.
    redis: Redis | None = None

    # Adapters that call start() before the background starts (see expect_adapters).
    _adapters: int = 1
    _everyone: asyncio.Event = field(default_factory=asyncio.Event)

    def expect_adapters(self, count: int) -> None:
        """Several adapters share this App (`classbot run` with Discord and Slack)."""
        self._adapters = count

    async def start(self) -> None:
        """Called by each adapter once it can deliver replies. The background services
        start when every expected adapter has called it, so the job engine's first sweep
        already sees every platform's outbox; the earlier callers wait until then."""
        self._adapters -= 1
        if self._adapters > 0:
            await self._everyone.wait()
            return
        if not self.started:
            self.started = True
            for service in self.background:
                await service.start()
        self._everyone.set()

    async def wait_idle(self) -> None:
        await asyncio.gather(*(service.wait_idle() for service in self.background))

    async def close(self) -> None:
        for service in reversed(self.background):
            await service.stop()
        await self.services.hub.aclose()
        await self.services.store.close()
        if self.redis is not None:
            await self.redis.aclose()


@dataclass(frozen=True)
class _JobEnv:
    """What the job engine sees of the bot (bot.jobs.protocol.JobEnv)."""

    settings: Settings
    store: Store
    clock: Clock
    outboxes: dict[str, Outbox]


def build_services(
    settings: Settings, store: Store, clock: Clock = utc_now
) -> tuple[Services, EmbeddedQueue, ActivityScheduler]:
    """Every dependency, complete and in dependency order; nothing runs yet."""
    outboxes: dict[str, Outbox] = {}
    # Decided once (a warning at most once): everything below reads the chosen backend.
    backend = choose_backend(settings)
    # Hosted jobs are one HTTP call each: batching them buys nothing, and waiting for a
    # burst to batch (the engine's linger) would only delay them.
    hosted = {} if backend == "local" else {"max_batch_size": 1}
    settings = settings.model_copy(update={"backend": backend, **hosted})
    # One Hub client for commands and the guard: one cache, one breaker, one fault mapping.
    hub = HubClient(settings, clock=clock)
    guard = ModelGuard(settings, hub) if backend == "local" else HostedGuard(settings, hub, backend)
    queue = build_queue(_JobEnv(settings, store, clock, outboxes))
    budget = None if backend == "local" else DailyBudget(settings, clock)
    activities = ActivityScheduler(store=store, settings=settings, clock=clock, outboxes=outboxes)
    services = Services(
        settings=settings,
        store=store,
        hub=hub,
        guard=guard,
        jobs=JobService(queue, store, admit=budget),
        wake_activities=activities.wake,
        clock=clock,
        outboxes=outboxes,
    )
    return services, queue, activities


async def create_app(settings: Settings, clock: Clock = utc_now) -> App:
    """Everything a running bot needs; migrates the database first if it is behind.

    Background services are created here but only run after `App.start()`, which the
    adapter calls once it can deliver replies.
    """
    # Checked first: without the Redis it was told to share, a replica must not start.
    redis = await redis_at(settings.redis_url) if settings.queue_backend == "rq" else None
    store = Store(settings.database_url)
    await store.upgrade()
    services, queue, activities = build_services(settings, store, clock)
    router = Router(all_commands(), services, _limiter(settings, redis))
    return App(
        settings=settings,
        services=services,
        router=router,
        queue=queue,
        background=[activities, queue],
        redis=redis,
    )


def _limiter(settings: Settings, redis: Redis | None) -> Limiter | None:
    """Replicas (the RQ backend) share each student's command budget through Redis; one
    bot keeps it in memory (None: the router's own)."""
    if redis is None:
        return None
    return RedisRateLimiter(
        redis, per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst
    )
