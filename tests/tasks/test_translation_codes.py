"""Translation models take any code or English name of a language they know, in any case:
in the worker's runner and through /run (the tiny models; their answers are nonsense)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.inference.tasks.runners import Row, TaskInputError, TaskRunner
from bot.jobs.worker import WorkerProcess
from bot.replies import Card, Error, as_plain_text
from tests.tasks.conftest import task_bot

TO_FRENCH = "translate English to French: "


def test_a_t5_prompt_is_found_by_any_code_or_name(task_models: dict[str, Path]) -> None:
    runner = TaskRunner.load(task_models["translation"], "translation")
    for source, target in (("eng", "fra"), ("english", "french"), ("EN", "FR"), ("", "French")):
        row = Row(text="Hi", source=source, target=target)
        assert runner._prompt(row) == TO_FRENCH + "Hi", (source, target)
    with pytest.raises(TaskInputError) as refused:
        runner._prompt(Row(text="Salut", source="french"))
    assert refused.value.what == (
        "tiny-t5 translates only: source:en target:de, source:en target:fr."
    )


def test_a_many_to_many_translator_takes_language_names(nllb_model: Path) -> None:
    runner = TaskRunner.load(nllb_model, "translation")
    assert runner._language_pair(Row(text="x", source="French", target="german")) == (
        "fra_Latn",
        "deu_Latn",
    )


async def test_run_accepts_the_pair_a_model_knows_in_other_codes_and_names(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models) as bot:
        jobs = [
            await bot.generate(f"/run task:translation Hello {pair} max_new_tokens:4")
            for pair in ("source:eng target:fra", "source:english target:french", "target:FR")
        ]
        # No direction given: the bot picks one, and the answer says which.
        chosen = await bot.generate("/run task:translation Hello max_new_tokens:4")
        wrong = await bot.run("/run task:translation Hello source:english target:romanian")
        assert isinstance(wrong, Error), as_plain_text(wrong)
        assert wrong.what == "tiny-t5 does not know romanian; it knows: en, de, fr."
        await bot.idle()
        for job in jobs:
            card = bot.outbox.final(job)
            assert isinstance(card, Card), as_plain_text(card)
            assert card.title == "translation · tiny-t5"
            assert card.description.startswith("(en → fr) "), card.description
        picked = bot.outbox.final(chosen)
        assert isinstance(picked, Card) and picked.description.startswith("(en → de) ")
