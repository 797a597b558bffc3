"""Assemble the bot: settings → store (migrated) → services → router with every command."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from bot.activities.scheduler import ActivityScheduler
from bot.commands import all_commands
from bot.config import Settings
from bot.hub.client import HubClient
from bot.inference.guard import ModelGuard
from bot.jobs import build_queue
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
    background: list[BackgroundService] = field(default_factory=list)
    started: bool = False

    async def start(self) -> None:
        if not self.started:
            self.started = True
            for service in self.background:
                await service.start()

    async def wait_idle(self) -> None:
        await asyncio.gather(*(service.wait_idle() for service in self.background))

    async def close(self) -> None:
        for service in reversed(self.background):
            await service.stop()
        if self.services.hub is not None:
            await self.services.hub.aclose()
        await self.services.store.close()


async def create_app(settings: Settings, clock: Clock = utc_now) -> App:
    """Everything a running bot needs; migrates the database first if it is behind.

    Background services are created here but only run after `App.start()`, which the
    adapter calls once it can deliver replies.
    """
    store = Store(settings.database_url)
    await store.upgrade()
    services = Services(settings=settings, store=store, clock=clock)
    router = Router(all_commands(), services)
    activities = ActivityScheduler(
        store=store, settings=settings, clock=clock, outboxes=services.outboxes
    )
    services.wakeups[activities.name] = activities.wake
    # One Hub client for commands and the guard: one cache, one breaker, one fault mapping.
    services.hub = hub = HubClient(settings, clock=clock)
    services.guard = ModelGuard(settings, hub)
    services.jobs = jobs = build_queue(services, router)
    return App(settings=settings, services=services, router=router, background=[activities, jobs])
