"""The inference job queue: the jobs table is the system of record; see bot/jobs/engine.py
(embedded worker processes, the default) and bot/jobs/rq.py (RQ on Redis, for scale-out)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.jobs.engine import EmbeddedQueue
    from bot.router import Router
    from bot.services import Services


def build_queue(services: Services, router: Router) -> EmbeddedQueue:
    """The queue the settings ask for, with the result renderers the commands declare."""
    from bot.jobs.engine import EmbeddedQueue
    from bot.jobs.relay import job_delivered_hooks, job_renderers

    queue: EmbeddedQueue
    if services.settings.queue_backend == "rq":
        from bot.jobs.rq import RqQueue

        queue = RqQueue(services, job_renderers(router))
    else:
        queue = EmbeddedQueue(services, job_renderers(router))
    queue.relay.delivered_hooks.update(job_delivered_hooks(router))
    return queue
