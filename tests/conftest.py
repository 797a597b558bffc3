from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
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


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """A test that runs the CLI sets up logging (bot/logs.py) onto its own captured stderr,
    which pytest closes afterwards: give the next test the root logger it had before, or
    every later log line fails on the closed stream (and the test reading stderr sees that)."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in list(root.handlers):
        # pytest's own capture handlers come and go with each phase: leave them be.
        if not type(handler).__module__.startswith("_pytest"):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[BotDriver]:
    async with running_bot(settings_for_tests(tmp_path), clock) as driver:
        yield driver
