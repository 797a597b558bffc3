"""/run jobs in the engine like /generate's: batched per model, handed over, cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.jobs import engine, records
from bot.jobs.engine import BURST_GAP
from bot.jobs.kinds.run import RUN
from bot.jobs.records import view
from bot.jobs.worker import WorkerProcess
from bot.replies import Card, Error, Progress, Reply, as_plain_text
from tests.jobs.support import JobBot, until
from tests.tasks.conftest import task_bot


async def test_concurrent_requests_for_one_model_run_as_one_batch(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    texts = ["I loved it", "I hated it", "the cat sat on the mat", "what a great class"]
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models, start=False) as bot:
        ids = [
            await bot.generate(f"/run task:text-classification {text}", user=f"s{i}")
            for i, text in enumerate(texts)
        ]
        alone = await bot.generate("/run task:fill-mask the [MASK] sat", user="s9")
        await bot.start()
        await bot.idle()
        stored = await bot.jobs()
        outputs = [RUN.result_of(view(stored[i])).outputs[0] for i in ids]
        assert [o.batch_rows for o in outputs] == [len(texts)] * len(texts)
        assert len({tuple(o.scores) for o in outputs}) > 1  # each its own answer
        # Another task (and model) is never in that batch.
        assert RUN.result_of(view(stored[alone])).outputs[0].batch_rows == 1


async def test_a_lone_run_on_an_idle_bot_starts_without_a_claim(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    task_models: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A /run is one forward pass: the few ms of the dispatcher's claim would show, so a
    lone job goes to the free worker inserted already running, as /generate's do."""
    claimed: list[int] = []
    claim = records.claim

    async def counted(session: Any, ids: Sequence[int], **kwargs: Any) -> Any:
        claimed.extend(ids)
        return await claim(session, ids, **kwargs)

    monkeypatch.setattr(records, "claim", counted)
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models) as bot:
        job = await bot.generate("/run task:text-classification I loved it")
        await bot.idle()
        assert (await bot.jobs())[job].state == "succeeded"
        assert job not in claimed


async def test_a_batched_answer_is_the_answer_alone(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    line = '/run task:question-answering Who lives in Paris? context:"Ada lives in Paris."'
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models, start=False) as bot:
        batched = await bot.generate(line)
        await bot.generate(
            '/run task:question-answering Where is the cat? context:"The cat sat on the '
            'mat in London with the dog."',
            user="other",
        )
        await bot.start()
        await bot.idle()
        single = await bot.generate(line)
        await bot.idle()
        stored = await bot.jobs()
        together = RUN.result_of(view(stored[batched])).outputs[0]
        apart = RUN.result_of(view(stored[single])).outputs[0]
        assert together.batch_rows == 2 and apart.batch_rows == 1
        assert together.spans[0].start == apart.spans[0].start
        assert together.spans[0].end == apart.spans[0].end
        assert abs(together.spans[0].score - apart.spans[0].score) < 1e-3


async def test_a_text_generation_model_is_handed_to_generate(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models) as bot:
        first = await bot.run(f'/run model:{tiny_model_dir} "Once: upon a time"')
        assert isinstance(first, Progress), as_plain_text(first)
        job = int(first.label.rsplit("job ", 1)[1].rstrip(")"))
        await bot.idle()
        stored = (await bot.jobs())[job]
        assert stored.kind == "generate"
        # The text reads as /run reads it (the quotes are not part of the prompt).
        assert stored.params["prompt"] == "Once: upon a time"
        card = bot.outbox.final(job)
        assert isinstance(card, Card) and "parameters" in card.title
        via_task = await bot.run("/run task:text-generation Hello")
        assert isinstance(via_task, Progress)


async def test_run_jobs_are_listed_and_cancelled_like_others(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models, start=False) as bot:
        first = await bot.run("/run task:text-classification I loved it")
        assert isinstance(first, Progress) and first.total == 1
        assert [b.label for b in first.buttons] == ["Cancel"]
        job = int(first.label.rsplit("job ", 1)[1].rstrip(")"))
        listed = await bot.text("/jobs")
        assert "text-classification: I loved it" in listed
        cancelled = await bot.text(f"/jobs cancel id:{job}")
        assert "ancel" in cancelled
        await bot.start()
        await bot.idle()
        assert (await bot.jobs())[job].state == "cancelled"


async def test_a_language_pair_the_model_lacks_is_named_with_the_ones_it_has(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models) as bot:
        # A language the model's prompts never name: refused before anything is queued.
        unknown = await bot.run("/run task:translation Good morning source:en target:ro")
        assert isinstance(unknown, Error), as_plain_text(unknown)
        assert unknown.what == "tiny-t5 does not know ro; it knows: en, de, fr."
        # Languages it knows, in a direction it has no prompt for: refused with the pairs
        # it has, before anything is queued (retrying would not help).
        for line in ("source:de target:fr", "source:fr"):
            wrong = await bot.run(f"/run task:translation Bonjour {line}")
            assert isinstance(wrong, Error), as_plain_text(wrong)
            assert (
                wrong.what == "tiny-t5 translates only: source:en target:de, source:en target:fr."
            )
            assert str(task_models["translation"]) not in as_plain_text(wrong)  # no server folders
        right = await bot.generate("/run task:translation Good morning target:fr max_new_tokens:4")
        await bot.idle()
        assert len(await bot.jobs()) == 1
        card = bot.outbox.final(right)
        assert isinstance(card, Card) and card.title == "translation · tiny-t5"


async def test_run_jobs_queued_when_the_bot_stops_run_after_a_restart(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models, start=False) as first:
        ids = [
            await first.generate("/run task:text-classification I loved it", user="ana"),
            await first.generate("/run task:fill-mask the [MASK] sat", user="ben"),
        ]
    assert first.outbox.sent == []
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models) as second:
        await second.idle()
        for job in ids:
            assert isinstance(second.outbox.final(job), Card)
        stored = await second.jobs()
        assert all(stored[j].state == "succeeded" and stored[j].delivered_at for j in ids)


class _WorkerResults:
    """The ids of the results the shared worker gave back, as they come."""

    def __init__(self, worker: WorkerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ids: list[int] = []
        emit = worker._emit

        def emitting(generation: int, message: Any) -> None:
            if message["op"] == "result":
                self.ids.append(int(message["id"]))
            emit(generation, message)

        monkeypatch.setattr(worker, "_emit", emitting)


async def _warm_and_idle(bot: JobBot) -> None:
    """The model loaded, its worker free, and the next command not part of a burst: a
    lone job on an idle bot."""
    await bot.generate("/run task:text-classification warm up")
    await bot.idle()
    await until(lambda: not bot.engine._busy, what="the worker's batch to end")
    await asyncio.sleep(2 * BURST_GAP)


async def _first_reply(bot: JobBot) -> tuple[AsyncIterator[Reply], int]:
    """A /run's command after its first reply, not resumed (as while that reply travels
    to the platform), and its job's id."""
    replies = bot.driver.app.router.run_line(
        "/run task:text-classification I loved it", bot.driver.adapter.actor()
    )
    first = await anext(replies)
    assert isinstance(first, Progress), as_plain_text(first)
    return replies, int(first.label.rsplit("job ", 1)[1].rstrip(")"))


async def test_a_lone_run_runs_while_its_first_reply_goes_out_and_answers_after_it(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    task_models: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On Discord or Slack the command's first reply takes a round trip to the platform:
    a quick job's model runs meanwhile, and its answer waits until that reply is out (it
    would otherwise be overwritten by it)."""
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models) as bot:
        await _warm_and_idle(bot)
        results = _WorkerResults(model_worker, monkeypatch)
        replies, job = await _first_reply(bot)  # on its way to the platform
        await until(lambda: job in results.ids, timeout=20, what="the model's answer")
        await asyncio.sleep(0.2)
        assert bot.outbox.for_job(job) == []  # the answer waits for the reply
        assert [r async for r in replies] == []  # the command ends: the job is released
        await bot.idle()
        card = bot.outbox.final(job)
        assert isinstance(card, Card) and card.title.startswith("text classification")
        stored = (await bot.jobs())[job]
        assert stored.state == "succeeded" and stored.delivered_at is not None
        assert RUN.result_of(view(stored)).outputs[0].scores


async def test_a_run_whose_command_never_ends_is_answered_after_the_hold(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    task_models: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A command stuck before it releases its job (its platform never took the first
    reply) does not keep the answer, or the worker, forever."""
    monkeypatch.setattr(engine, "HOLD_SECONDS", 0.3)
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models) as bot:
        await _warm_and_idle(bot)
        replies, job = await _first_reply(bot)  # and never resumed
        await until(lambda: bot.outbox.for_job(job), timeout=10, what="the answer")
        assert isinstance(bot.outbox.final(job), Card)
        await until(lambda: not bot.engine._busy, what="the worker to be free")
        await replies.aclose()
