"""The job engine's link to a hosted backend: batches run as asyncio tasks in the bot.

The engine (bot/jobs/engine.py) sends a batch to a free link and reads the messages of
bot/jobs/wire.py back, as it does for a worker process; here each job of the batch is one
task in the bot's own event loop, each HTTP call bounded by the backend's semaphore, so a
class's requests overlap instead of running one at a time. A cancel cancels the job's task,
which abandons its HTTP request. Each job kind says how it runs hosted (`JobKind.hosted`);
a kind that has no hosted runner fails with a plain message.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Mapping
from functools import cache
from typing import Any

from bot.inference.hosted.backend import HostedBackend
from bot.inference.hosted.faults import HostedFault, scrub
from bot.jobs import wire
from bot.jobs.hosted.runners import HostedCall, HostedRunner
from bot.jobs.kinds.base import AnyKind
from bot.jobs.links import LinkBase, LinkFactory, WorkerLink

log = logging.getLogger(__name__)


@cache
def _import_runner(path: str) -> HostedRunner:
    module, _, name = path.partition(":")
    runner: HostedRunner = getattr(importlib.import_module(module), name)
    return runner


class HostedLink(LinkBase):
    """One batch at a time, like a worker; the engine keeps several of these busy."""

    def __init__(self, backend: HostedBackend, kinds: Mapping[str, AnyKind], index: int) -> None:
        super().__init__()
        self.backend = backend
        self.kinds = kinds
        self.index = index
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        self._jobs: dict[int, asyncio.Task[None]] = {}
        # Cancels that came before their job's task was made (the batch had not begun yet).
        self._cancel_early: set[int] = set()
        self._batches: set[asyncio.Task[None]] = set()

    @property
    def alive(self) -> bool:
        return self._running

    @property
    def pid(self) -> int | None:
        return None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._running = True
        generation = self._next_generation()
        self._emit(generation, {"op": "ready", "device": self.backend.where(), "pid": 0})

    def send(self, message: wire.ToWorker) -> bool:
        if not self._running or self._loop is None:
            return False
        if message["op"] == "run":
            task = self._loop.create_task(self._run_batch(message, self.generation))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)
        elif message["op"] == "cancel":
            job = self._jobs.get(int(message["id"]))
            if job is not None:
                job.cancel()  # abandons the HTTP request under way
            else:
                self._cancel_early.add(int(message["id"]))
        elif message["op"] == "stop":
            self.stop()
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Abandon what runs (the engine requeues unfinished jobs). Safe from any thread."""
        self._running = False
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for task in [*self._jobs.values(), *self._batches]:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        if self.index == 0:
            # The links stop together (the pool stops them all): one closes the shared
            # connection pool; a link started again later opens a new one.
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(self.backend.aclose(), loop)

    async def _run_batch(self, message: wire.Run, generation: int) -> None:
        kind = self.kinds.get(message["kind"])
        path = kind.hosted if kind is not None else None
        jobs = [(int(j["id"]), dict(j["params"])) for j in message["jobs"]]
        try:
            if path is None:
                for job_id, _ in jobs:
                    self._result(generation, job_id, "failed", None, _no_hosted(message["kind"]))
                return
            runner = _import_runner(path)
            tasks = []
            for job_id, params in jobs:
                task = asyncio.create_task(self._run_job(runner, job_id, params, generation))
                self._jobs[job_id] = task
                tasks.append(task)
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for job_id, _ in jobs:
                self._jobs.pop(job_id, None)
                self._cancel_early.discard(job_id)
            if self._running:
                self._emit(generation, {"op": "batch_done", "batch": message["batch"]})

    async def _run_job(
        self, runner: HostedRunner, job_id: int, params: dict[str, Any], generation: int
    ) -> None:
        def progress(step: int, total: int, label: str) -> None:
            self._emit(
                generation,
                {"op": "progress", "id": job_id, "step": step, "total": total, "label": label},
            )

        if job_id in self._cancel_early:
            self._result(generation, job_id, "cancelled", None, None)
            return
        call = HostedCall(self.backend, job_id, params, progress)
        try:
            result = await runner(call)
        except asyncio.CancelledError:
            if self._running:  # a student's cancel, not the bot stopping
                self._result(generation, job_id, "cancelled", None, None)
            return
        except HostedFault as fault:
            # What to do is the fault's own advice, not the relay's "try again" (a 402 or a
            # gated model would not pass on a second try).
            todo = {wire.TODO: scrub(fault.todo, self.backend.secrets)} if fault.todo else None
            self._result(generation, job_id, "failed", todo, fault.what)
            return
        except Exception as error:
            log.exception("hosted job %s failed: %s", job_id, type(error).__name__)
            text = f"Something went wrong while running job {job_id}."
            self._result(generation, job_id, "failed", None, text)
            return
        self._result(generation, job_id, "succeeded", result.to_json(), None)

    def _result(
        self,
        generation: int,
        job_id: int,
        state: wire.JobOutcome,
        result: dict[str, Any] | None,
        error: str | None,
    ) -> None:
        if error is not None:
            error = scrub(error, self.backend.secrets)
        self._emit(
            generation,
            {"op": "result", "id": job_id, "state": state, "result": result, "error": error},
        )


def _no_hosted(kind: str) -> str:
    return (
        f"{kind} jobs run only on the bot's own workers, and this class runs models on a "
        "hosted backend. Ask your instructor (CLASSBOT_BACKEND)."
    )


def hosted_links(backend: HostedBackend, kinds: Mapping[str, AnyKind]) -> LinkFactory:
    """As many links as calls may be in flight: the engine keeps each one busy with a batch,
    and the backend's semaphore bounds the calls themselves."""

    async def make(owner: str) -> list[WorkerLink]:
        count = backend.settings.hosted_concurrency
        return [HostedLink(backend, kinds, i) for i in range(count)]

    return make
