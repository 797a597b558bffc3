from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.botdriver import BotDriver, FakeClock, running_bot, settings_for_tests
from tests.support.hub_stub import HubStub, point_huggingface_hub_at, restore_hf


@pytest.fixture
async def hub_bot(
    tmp_path: Path, clock: FakeClock, fresh_hub_stub: HubStub
) -> AsyncIterator[BotDriver]:
    """The bot with the Hub and the dataset viewer served by the stand-in (counts reset)."""
    # A test module that imports the hub fixtures itself gets a second session stand-in and
    # points huggingface_hub at it: point it back at the one these tests count.
    saved = point_huggingface_hub_at(fresh_hub_stub.url)
    settings = settings_for_tests(
        tmp_path,
        datasets_server_url=fresh_hub_stub.viewer_url,
        # A test types many commands in a row as one student.
        rate_limit_per_minute=10_000,
        rate_limit_burst=10_000,
    )
    try:
        async with running_bot(settings, clock) as driver:
            yield driver
    finally:
        restore_hf(saved)
