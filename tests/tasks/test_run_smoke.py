"""/run end to end: the router, the guard, the job engine and the real worker."""

from __future__ import annotations

from pathlib import Path

from bot.jobs.worker import WorkerProcess
from bot.replies import Card, as_plain_text
from tests.tasks.conftest import task_bot


async def test_text_classification_through_the_router(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models) as bot:
        job = await bot.generate('/run task:text-classification "I loved this film"')
        await bot.idle()
        card = bot.outbox.final(job)
        assert isinstance(card, Card), as_plain_text(card)
        print(as_plain_text(card))
        assert card.title == "text classification · tiny-sentiment"
