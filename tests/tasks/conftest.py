from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.inference.tasks import setting_name
from bot.jobs.worker import WorkerProcess
from tests.jobs.support import JobBot, job_bot


@pytest.fixture(scope="session")
def task_models(request: pytest.FixtureRequest) -> dict[str, Path]:
    """{task: folder} of the tiny models (tests/support/tiny_task_models.py), kept in
    pytest's cache and rebuilt only when the builder changes."""
    source = Path(__file__).parents[1] / "support" / "tiny_task_models.py"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    root = Path(request.config.cache.mkdir(f"tiny-task-models-{digest}"))
    names = {
        "text-classification": "tiny-sentiment",
        "text-classification-2": "tiny-sentiment-2",
        "token-classification": "tiny-ner",
        "fill-mask": "tiny-fill-mask",
        "question-answering": "tiny-qa",
        "zero-shot-classification": "tiny-nli",
        "sentence-similarity": "tiny-embedder",
        "text2text-generation": "tiny-t5",
    }
    if not (root / "built").exists():
        from tests.support.tiny_task_models import build_task_models  # imports torch

        built = build_task_models(root)
        assert {k: v.name for k, v in built.items()} == names
        (root / "built").touch()
    folders = {task: root / name for task, name in names.items()}
    for task in ("summarization", "translation"):
        folders[task] = folders["text2text-generation"]
    return folders


def class_defaults(models: dict[str, Path]) -> dict[str, Any]:
    """Settings naming each tiny model as the class's default for its task."""
    return {
        setting_name(task): str(folder)
        for task, folder in models.items()
        if not task.endswith("-2")
    }


@asynccontextmanager
async def task_bot(
    tmp_path: Path,
    worker: WorkerProcess,
    tiny_model_dir: Path,
    models: dict[str, Path],
    **extra: Any,
) -> AsyncIterator[JobBot]:
    values = {**class_defaults(models), "max_queued_jobs_per_user": 20, **extra}
    async with job_bot(tmp_path, worker, tiny_model_dir, **values) as bot:
        yield bot


@pytest.fixture(scope="session")
def nllb_model(request: pytest.FixtureRequest) -> Path:
    """The tiny NLLB-shaped translator (tests/support/tiny_translation_models.py), cached
    like the task models."""
    source = Path(__file__).parents[1] / "support" / "tiny_translation_models.py"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    root = Path(request.config.cache.mkdir(f"tiny-nllb-{digest}"))
    folder = root / "tiny-nllb"
    if not (root / "built").exists():
        from tests.support.tiny_translation_models import build_nllb  # imports torch

        build_nllb(folder)
        (root / "built").touch()
    return folder
