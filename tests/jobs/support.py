"""A bot whose job engine runs on a shared, real model worker, and records what it delivers.

Spawning a worker costs seconds (it imports torch and transformers), so one worker process
serves the whole test session (`model_worker`, imported by tests/conftest.py); each test's
bot attaches to it. A test that kills it gets a respawned one back from the engine.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.jobs.engine import EmbeddedQueue
from bot.jobs.worker import WorkerConfig, WorkerLink, WorkerProcess
from bot.replies import Progress, Reply, as_plain_text
from bot.store.models import Job
from tests.support.botdriver import BotDriver, FakeClock, running_bot, settings_for_tests
from tests.support.outbox import RecordingOutbox


@pytest.fixture(scope="session")
def tiny_model_dir(request: pytest.FixtureRequest) -> Path:
    """The tiny GPT-Neo (tests/support/tiny_models.py), kept in pytest's cache between runs.

    Building it means importing torch and transformers in the test process (seconds); the
    build is deterministic, so it is redone only when tiny_models.py changes.
    """
    source = Path(__file__).parents[1] / "support" / "tiny_models.py"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    folder = Path(request.config.cache.mkdir(f"tiny-gpt-neo-{digest}"))
    if not (folder / "built").exists():
        from tests.support.tiny_models import build_text_model  # imports torch

        build_text_model(folder)
        (folder / "built").touch()
    return folder


@pytest.fixture(scope="session")
def model_worker() -> Iterator[WorkerProcess]:
    worker = WorkerProcess(WorkerConfig(device="cpu", progress_interval=0.02))
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


async def until(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.01)


@dataclass
class JobBot:
    driver: BotDriver
    outbox: RecordingOutbox
    engine: EmbeddedQueue

    async def run(self, line: str, user: str = "student", role: str = "student") -> Reply:
        return await self.driver.run(line, user=user, role=role)

    async def text(self, line: str, user: str = "student", role: str = "student") -> str:
        return await self.driver.text(line, user=user, role=role)

    async def generate(self, line: str, user: str = "student", role: str = "student") -> int:
        """Run a /generate line; the id of the job it queued."""
        reply = await self.run(line, user=user, role=role)
        assert isinstance(reply, Progress), as_plain_text(reply)
        return int(reply.label.rsplit("job ", 1)[1].rstrip(")"))

    async def start(self) -> None:
        await self.driver.app.start()

    async def idle(self, timeout: float = 60.0) -> None:
        await asyncio.wait_for(self.driver.app.wait_idle(), timeout)

    async def jobs(self) -> dict[int, Job]:
        async with self.driver.app.services.store.session() as session:
            return {j.id: j for j in await session.scalars(select(Job))}


@asynccontextmanager
async def job_bot(
    tmp_path: Path,
    worker: WorkerProcess,
    model_dir: Path,
    *,
    clock: FakeClock | None = None,
    start: bool = True,
    links: Callable[[EmbeddedQueue], list[WorkerLink]] | None = None,
    **overrides: Any,
) -> AsyncIterator[JobBot]:
    """A started bot on the shared worker, or on the workers `links(engine)` returns."""
    values: dict[str, Any] = {
        "text_model": str(model_dir),
        "rate_limit_per_minute": 10_000,
        "rate_limit_burst": 10_000,
    }
    values.update(overrides)
    tmp_path.mkdir(parents=True, exist_ok=True)
    async with running_bot(settings_for_tests(tmp_path, **values), clock) as driver:
        outbox = RecordingOutbox()
        driver.app.services.outboxes["console"] = outbox
        engine = driver.app.queue
        if links is None:
            # A test that killed the shared worker and failed before the engine respawned
            # it must not take the tests after it down too.
            if not worker.alive:
                worker.start()
            engine.use_workers([worker])
        else:
            engine.use_workers(links(engine), owned=True)
        engine.relay.interval = 0.02
        engine.poll_interval = 0.1
        bot = JobBot(driver, outbox, engine)
        if start:
            await bot.start()
        yield bot
