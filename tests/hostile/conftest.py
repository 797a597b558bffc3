from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.botdriver import BotDriver, FakeClock, running_bot, settings_for_tests
from tests.support.hub_stub import HubStub, point_huggingface_hub_at, restore_hf
from tests.support.image_fixtures import tiny_image_model  # noqa: F401


@asynccontextmanager
async def class_bot_on(
    tmp_path: Path,
    clock: FakeClock,
    stub: HubStub,
    models: tuple[Path, Path],
    **overrides: Any,
) -> AsyncIterator[BotDriver]:
    """A bot whose default models are the tiny ones on disk (text, image) and whose Hub is
    the stand-in; not started, so model commands are vetted and queued but never run."""
    saved = point_huggingface_hub_at(stub.url)
    text_model, image_model = models
    settings = settings_for_tests(
        tmp_path,
        datasets_server_url=stub.viewer_url,
        text_model=str(text_model),
        image_model=str(image_model),
        # One student types the whole corpus: the class rate limit is another test's subject.
        rate_limit_per_minute=100_000,
        rate_limit_burst=100_000,
        # Queued jobs never run here: every model line must reach the job it asks for.
        max_queued_jobs_per_user=100_000,
        **overrides,
    )
    try:
        async with running_bot(settings, clock) as driver:
            yield driver
    finally:
        restore_hf(saved)


@pytest.fixture
async def class_bot(
    tmp_path: Path,
    clock: FakeClock,
    fresh_hub_stub: HubStub,
    tiny_model_dir: Path,
    tiny_image_model: Path,  # noqa: F811
) -> AsyncIterator[BotDriver]:
    models = (tiny_model_dir, tiny_image_model)
    async with class_bot_on(tmp_path, clock, fresh_hub_stub, models) as driver:
        yield driver
