from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.jobs.worker import WorkerProcess
from tests.jobs.support import JobBot
from tests.support.media_files import write_samples
from tests.tasks.conftest import class_defaults, task_bot


@pytest.fixture(scope="session")
def media_models(request: pytest.FixtureRequest) -> dict[str, Path]:
    """{task: folder} of the tiny audio and image models (tests/support/tiny_media_models.py),
    kept in pytest's cache and rebuilt only when the builder changes."""
    source = Path(__file__).parents[1] / "support" / "tiny_media_models.py"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    root = Path(request.config.cache.mkdir(f"tiny-media-models-{digest}"))
    names = {
        "automatic-speech-recognition": "tiny-asr",
        "audio-classification": "tiny-sound",
        "image-classification": "tiny-vit",
        "image-classification-2": "tiny-vit-2",
        "object-detection": "tiny-yolos",
        "image-to-text": "tiny-captioner",
    }
    if not (root / "built").exists():
        from tests.support.tiny_media_models import build_media_models  # imports torch

        built = build_media_models(root)
        assert {k: v.name for k, v in built.items()} == names
        (root / "built").touch()
    return {task: root / name for task, name in names.items()}


@pytest.fixture
def media_files(tmp_path: Path) -> dict[str, Path]:
    return write_samples(tmp_path / "files")


@asynccontextmanager
async def media_bot(
    tmp_path: Path,
    worker: WorkerProcess,
    tiny_model_dir: Path,
    models: dict[str, Path],
    **extra: Any,
) -> AsyncIterator[JobBot]:
    values = {**class_defaults(models), **extra}
    async with task_bot(tmp_path, worker, tiny_model_dir, {}, **values) as bot:
        yield bot
