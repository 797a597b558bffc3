"""The worker pool: the links a dispatcher sends batches to (bot/jobs/links.py).

Links start on first use (a bot whose class never runs a model never imports torch), and a
link whose worker died is started again — at once the first time, then slower and slower
while it keeps dying right after starting (a broken install, a model that kills it at load).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.jobs.links import Sink, WorkerLink

log = logging.getLogger(__name__)

# A worker that dies sooner than this after starting counts as crashing again.
QUICK_DEATH_SECONDS = 30.0
MAX_BACKOFF_SECONDS = 30.0


class WorkerPool:
    def __init__(self, links: list[WorkerLink], *, owned: bool) -> None:
        self.links = list(links)
        # Links we start we also stop; shared ones (tests) are left running.
        self.owned = owned
        self._spawned_at: dict[WorkerLink, float] = {}
        self._crashes: dict[WorkerLink, int] = {}
        self._respawning: set[WorkerLink] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def attach(self, sink: Sink | None) -> None:
        for link in self.links:
            link.attach(sink)

    def free(self, busy: Callable[[WorkerLink], bool]) -> bool:
        """Whether some link could take a batch now (running, or startable)."""
        return any(not busy(link) and (link.alive or not link.generation) for link in self.links)

    def usable(self, link: WorkerLink, wanted: bool) -> bool:
        """Whether `link` can take a batch now; starts it when work is `wanted` and it is
        not already being restarted."""
        if link.alive:
            return True
        if link in self._respawning or not wanted:
            return False
        self._spawn(link)
        return True

    def _spawn(self, link: WorkerLink) -> None:
        self._spawned_at[link] = time.monotonic()
        link.start()

    def ready(self, link: WorkerLink) -> None:
        self._crashes.pop(link, None)

    def exited(self, link: WorkerLink, on_back: Callable[[], None]) -> None:
        """The link's worker is gone: start it again (after a back-off if it keeps dying),
        then call `on_back`."""
        quick = time.monotonic() - self._spawned_at.get(link, 0.0) < QUICK_DEATH_SECONDS
        crashes = self._crashes[link] = self._crashes.get(link, 0) + 1 if quick else 1
        delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** (crashes - 1)) if crashes > 1 else 0.0
        if delay:
            log.warning("worker keeps dying; restarting it in %.0f s", delay)
        self._respawning.add(link)
        self._tasks.append(asyncio.create_task(self._respawn(link, delay, on_back)))

    async def _respawn(self, link: WorkerLink, delay: float, on_back: Callable[[], None]) -> None:
        try:
            await asyncio.sleep(delay)
            if not link.alive:
                self._spawn(link)
                on_back()
        finally:
            self._respawning.discard(link)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for link in self.links:
            link.attach(None)
            if self.owned:
                await asyncio.to_thread(link.stop)
