"""Comparisons that name the same models in other orders share a batch (the batch key sorts
the models), and each still shows every model's own answer under that model's name."""

from __future__ import annotations

from pathlib import Path

from bot.jobs.kinds.run import RUN
from bot.jobs.records import view
from bot.jobs.worker import WorkerProcess
from bot.replies import Card, as_plain_text
from tests.tasks.conftest import task_bot


async def test_comparisons_in_opposite_orders_batch_together_and_label_each_answer(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    main, other = task_models["text-classification"], task_models["text-classification-2"]
    async with task_bot(
        tmp_path, model_worker, tiny_model_dir, task_models, model_allowlist=str(other), start=False
    ) as bot:
        forward = await bot.generate(f"/run model:{main} compare:{other} I love it", user="ana")
        backward = await bot.generate(f"/run model:{other} compare:{main} I love it", user="bo")
        await bot.start()
        await bot.idle()
        alone = await bot.generate(f"/run model:{other} I love it")
        await bot.idle()
        stored = await bot.jobs()
        ahead = RUN.result_of(view(stored[forward])).outputs
        behind = RUN.result_of(view(stored[backward])).outputs
        (truth,) = RUN.result_of(view(stored[alone])).outputs
        assert [o.batch_rows for o in (*ahead, *behind)] == [2] * 4  # one batch
        assert [o.model.id for o in ahead] == [str(main), str(other)]
        assert [o.model.id for o in behind] == [str(other), str(main)]
        assert ahead[0].scores != ahead[1].scores  # other weights, other answers
        # Each model's answer under its own name, whatever place the job gave it.
        assert behind[0].scores == ahead[1].scores and behind[1].scores == ahead[0].scores
        for got, want in zip(behind[0].scores, truth.scores, strict=True):
            assert got.label == want.label and abs(got.score - want.score) < 1e-3
        card = bot.outbox.final(backward)
        assert isinstance(card, Card), as_plain_text(card)
        assert [f.name for f in card.fields] == ["tiny-sentiment-2", "tiny-sentiment"]
        assert f"{truth.scores[0].score:.0%}" in card.fields[0].value
