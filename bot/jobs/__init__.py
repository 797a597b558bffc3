"""The inference job queue: the jobs table is the system of record.

- bot/jobs/kinds/: the declared job kinds (typed params and result, rendering, usage);
- bot/jobs/engine.py: the dispatcher; pool.py, leases.py, order.py, relay.py: its parts;
- bot/jobs/service.py: what commands use (submit, cancel, /jobs, re-roll's lookup);
- bot/jobs/wire.py, links.py, worker.py, rq.py: the messages and where batches run
  (embedded worker processes by default, RQ workers on Redis for scale-out).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

# Imported lazily: a model worker imports bot.jobs.wire and must not pay for the engine.
if TYPE_CHECKING:
    from bot.jobs.engine import EmbeddedQueue
    from bot.jobs.kinds import AnyKind
    from bot.jobs.links import LinkFactory
    from bot.jobs.protocol import JobEnv
    from bot.jobs.wire import WorkerConfig


def worker_config(env: JobEnv) -> WorkerConfig:
    from bot.jobs.wire import WorkerConfig
    from bot.logs import for_workers

    settings = env.settings
    token = settings.hf_token
    logs = for_workers()
    return WorkerConfig(
        device="cpu",  # replaced per planned device by the link factory
        memory_budget_mb=settings.model_memory_budget_mb,
        hf_token=token.get_secret_value() if token else None,
        log_level=logs.level,
        log_file=logs.file,
    )


def link_factory(env: JobEnv, kinds: Iterable[AnyKind] | None = None) -> LinkFactory:
    """Where the settings say batches run: a hosted backend (CLASSBOT_BACKEND=hf|openai,
    decided at start when it is auto), local worker processes, or RQ workers."""
    settings = env.settings
    if settings.backend in ("hf", "openai"):
        from bot.inference.hosted.backend import HostedBackend
        from bot.jobs.hosted.link import hosted_links
        from bot.jobs.kinds import KINDS, by_name

        backend = HostedBackend(settings.backend, settings)
        return hosted_links(backend, by_name(KINDS if kinds is None else kinds))
    if settings.queue_backend == "rq":
        from bot.jobs.rq import rq_links

        return rq_links(
            settings.redis_url, lease_seconds=settings.job_lease_seconds, queue=settings.rq_queue
        )
    from bot.inference.devices import plan_devices
    from bot.jobs.worker import local_links

    return local_links(worker_config(env), plan_devices(settings.device))


def build_queue(env: JobEnv, kinds: Iterable[AnyKind] | None = None) -> EmbeddedQueue:
    """The queue the settings ask for, running the given job kinds (default: all)."""
    from bot.jobs.engine import EmbeddedQueue
    from bot.jobs.kinds import KINDS, by_name

    chosen = KINDS if kinds is None else tuple(kinds)
    return EmbeddedQueue(env, by_name(chosen), link_factory(env, chosen))
