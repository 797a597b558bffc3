"""Fixtures for the hosted backends: the providers' stand-in, the Hub's records for the
models it serves, and a bot whose jobs run on it (CLASSBOT_BACKEND=hf or openai)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.jobs.support import JobBot
from tests.support.botdriver import FakeClock, running_bot, settings_for_tests
from tests.support.hub_stub import HubStub
from tests.support.outbox import RecordingOutbox
from tests.support.providers_stub import ProvidersStub, hub_records

TOKEN = "hf_classbot_secret_token_123456"


@pytest.fixture(scope="session")
def providers_session(hub_stub: HubStub) -> Iterator[ProvidersStub]:
    records = hub_stub.data.models.records
    added = hub_records()
    records.update(added)
    stub = ProvidersStub().start()
    try:
        yield stub
    finally:
        stub.stop()
        for repo_id in added:
            records.pop(repo_id, None)


@pytest.fixture
def providers(providers_session: ProvidersStub) -> Iterator[ProvidersStub]:
    providers_session.reset()
    yield providers_session
    providers_session.reset()


class Serving(Protocol):
    """Where the stand-in listens (in this process, or in its own for the bench)."""

    url: str


def hosted_settings(tmp_path: Path, stub: Serving, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "backend": "hf",
        "hf_token": TOKEN,
        "inference_url": stub.url,
        "text_model": "classbot-test/chat-tiny",
        "image_model": "classbot-test/draw-tiny",
        "hosted_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return settings_for_tests(tmp_path, **values)


@asynccontextmanager
async def hosted_job_bot(
    tmp_path: Path, stub: Serving, clock: FakeClock | None = None, **overrides: Any
) -> AsyncIterator[JobBot]:
    """A started bot whose jobs run on the stand-in; it records what it delivers."""
    values: dict[str, Any] = {"rate_limit_per_minute": 10_000, "rate_limit_burst": 10_000}
    values.update(overrides)
    async with running_bot(hosted_settings(tmp_path, stub, **values), clock) as driver:
        outbox = RecordingOutbox()
        driver.app.services.outboxes["console"] = outbox
        engine = driver.app.queue
        engine.relay.interval = 0.02
        engine.poll_interval = 0.1
        bot = JobBot(driver, outbox, engine)
        await bot.start()
        yield bot


@pytest.fixture
async def hosted_bot(
    tmp_path: Path, clock: FakeClock, providers: ProvidersStub
) -> AsyncIterator[JobBot]:
    async with hosted_job_bot(tmp_path, providers, clock) as bot:
        yield bot
