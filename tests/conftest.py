from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# huggingface_hub reads these at import time; no test may reach the real Hub.
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.pop("HF_HUB_OFFLINE", None)

from tests.jobs.support import model_worker, tiny_model_dir  # noqa: F401
from tests.support.botdriver import BotDriver, FakeClock, running_bot, settings_for_tests
from tests.support.hub_fixtures import (  # noqa: F401
    fresh_hub_stub,
    hub_stub,
    hub_stub_for_every_test,
)
from tests.support.postgres import postgres_url  # noqa: F401


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[BotDriver]:
    async with running_bot(settings_for_tests(tmp_path), clock) as driver:
        yield driver
