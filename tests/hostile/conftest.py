from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.botdriver import BotDriver, FakeClock, running_bot, settings_for_tests
from tests.support.hub_stub import HubStub, point_huggingface_hub_at, restore_hf
from tests.support.image_fixtures import tiny_image_model  # noqa: F401


@pytest.fixture
async def class_bot(
    tmp_path: Path,
    clock: FakeClock,
    fresh_hub_stub: HubStub,
    tiny_model_dir: Path,
    tiny_image_model: Path,  # noqa: F811
) -> AsyncIterator[BotDriver]:
    """A bot whose default models are the tiny ones on disk and whose Hub is the stand-in;
    not started, so model commands are vetted and queued but never run."""
    saved = point_huggingface_hub_at(fresh_hub_stub.url)
    settings = settings_for_tests(
        tmp_path,
        datasets_server_url=fresh_hub_stub.viewer_url,
        text_model=str(tiny_model_dir),
        image_model=str(tiny_image_model),
        # One student types the whole corpus: the class rate limit is another test's subject.
        rate_limit_per_minute=100_000,
        rate_limit_burst=100_000,
    )
    try:
        async with running_bot(settings, clock) as driver:
            yield driver
    finally:
        restore_hf(saved)
