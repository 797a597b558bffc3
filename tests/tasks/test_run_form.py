"""/run's form (what a model page's Run button opens) and the languages of translation models,
through the router, the guard, the job engine and the real worker on tiny models."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from bot.identity import Role
from bot.jobs.worker import WorkerProcess
from bot.replies import Card, Error, Modal, Progress, Reply, as_plain_text
from bot.router import Invocation
from tests.jobs.support import JobBot
from tests.tasks.conftest import task_bot


async def submit(bot: JobBot, form: Modal, fields: dict[str, str]) -> list[Reply]:
    """What the adapters do with a submitted form: its command line, the fields as options."""
    router = bot.driver.app.router
    actor = bot.driver.adapter.actor("student", Role.STUDENT)
    parsed = router.parse(form.submit_action, actor)
    invocation = replace(parsed, options={**parsed.options, **fields})
    assert isinstance(invocation, Invocation)
    return [reply async for reply in router.dispatch(invocation)]


async def submitted_job(bot: JobBot, form: Modal, fields: dict[str, str]) -> int:
    replies = await submit(bot, form, fields)
    first = replies[0]
    assert isinstance(first, Progress), as_plain_text(first)
    return int(first.label.rsplit("job ", 1)[1].rstrip(")"))


async def test_the_form_asks_for_each_tasks_input_and_its_submit_runs_the_model(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models) as bot:
        qa = await bot.run("/run task:question-answering")
        assert isinstance(qa, Modal) and qa.private
        assert qa.submit_action == "/run task:question-answering"
        assert [f.name for f in qa.fields] == ["input", "context"]
        assert all(f.required for f in qa.fields)
        assert qa.fields[0].label == "Your question"
        assert 'context:"…"' in qa.fallback  # the console says what to type instead
        assert len(qa.title) <= 45

        fill = await bot.run("/run task:fill-mask")
        assert isinstance(fill, Modal) and [f.name for f in fill.fields] == ["input"]
        assert "[MASK]" in fill.fields[0].placeholder  # the model's own mask token
        shot = await bot.run("/run task:zero-shot-classification")
        assert isinstance(shot, Modal) and [f.name for f in shot.fields] == ["input", "labels"]
        similar = await bot.run("/run task:sentence-similarity")
        assert isinstance(similar, Modal)
        assert [f.name for f in similar.fields] == ["input", "sentences"]

        context = "Ada lives in Paris with her cat."
        job = await submitted_job(bot, qa, {"input": "Where does Ada live?", "context": context})
        labels = await submitted_job(
            bot, shot, {"input": "I need a new phone", "labels": "shopping,sport"}
        )
        await bot.idle()
        card = bot.outbox.final(job)
        assert isinstance(card, Card), as_plain_text(card)
        assert card.title == "question answering · tiny-qa"
        assert card.description.startswith("Answer: ")
        scored = bot.outbox.final(labels)
        assert isinstance(scored, Card) and "shopping" in scored.description

        # The form checks what /run checks: a submit with a missing field gets its reply.
        (missing,) = await submit(bot, qa, {"input": "Where does Ada live?"})
        assert isinstance(missing, Error) and "needs a context" in missing.what


async def test_the_form_keeps_the_models_compared_and_what_was_typed(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    main, other = task_models["text-classification"], task_models["text-classification-2"]
    async with task_bot(
        tmp_path, model_worker, tiny_model_dir, task_models, model_allowlist=str(other)
    ) as bot:
        form = await bot.run(f"/run model:{main} compare:{other}")
        assert isinstance(form, Modal)
        assert form.submit_action == f"/run model:{main} compare:{other}"
        job = await submitted_job(bot, form, {"input": "What a great film"})
        await bot.idle()
        card = bot.outbox.final(job)
        assert isinstance(card, Card)
        assert [f.name for f in card.fields] == ["tiny-sentiment", "tiny-sentiment-2"]
        # A refused model opens no form: the refusal comes first.
        refused = await bot.run(f"/run model:{main} compare:{task_models['fill-mask']}")
        assert isinstance(refused, Error)
        labels = await bot.run("/run task:zero-shot-classification labels:cats,dogs")
        assert isinstance(labels, Modal) and labels.fields[1].default == "cats,dogs"


async def test_a_multilingual_model_takes_the_languages_it_knows(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    task_models: dict[str, Path],
    nllb_model: Path,
) -> None:
    async with task_bot(
        tmp_path, model_worker, tiny_model_dir, task_models, model_allowlist=str(nllb_model)
    ) as bot:
        form = await bot.run(f"/run model:{nllb_model}")
        assert isinstance(form, Modal)
        source, target = form.fields[1:]
        assert (source.name, source.required) == ("source", False)
        assert (target.name, target.required) == ("target", True)
        assert target.placeholder == "one of: eng_Latn, fra_Latn, deu_Latn"

        # Short codes, three-letter codes and the model's own tokens all name a language.
        jobs = [
            await submitted_job(bot, form, {"input": "good morning", "target": "fr"}),
            await bot.generate(f"/run model:{nllb_model} hello source:fra target:deu_Latn"),
        ]
        for line, words in {
            f"/run model:{nllb_model} hello target:ro": "does not know ro; it knows: eng_Latn,"
            " fra_Latn, deu_Latn",
            f"/run model:{nllb_model} hello": "say which with target:",
            f"/run model:{nllb_model} hello source:xx target:fr": "does not know xx",
        }.items():
            reply = await bot.run(line)
            assert isinstance(reply, Error), (line, as_plain_text(reply))
            assert words in reply.what and "target:" in reply.todo, reply
            assert str(nllb_model.parent) not in as_plain_text(reply)  # no server folders
        await bot.idle()
        for job in jobs:
            card = bot.outbox.final(job)
            assert isinstance(card, Card), as_plain_text(card)
            assert card.title == "translation · tiny-nllb"
        assert len(await bot.jobs()) == 2  # the refused lines queued nothing


async def test_a_single_pair_model_refuses_another_pair(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    # The tiny T5 without its prompts, named like a Helsinki-NLP pair.
    pair = tmp_path / "models" / "opus-mt-en-de"
    shutil.copytree(task_models["translation"], pair)
    config = json.loads((pair / "config.json").read_text())
    config.pop("task_specific_params")
    (pair / "config.json").write_text(json.dumps(config))
    async with task_bot(
        tmp_path, model_worker, tiny_model_dir, task_models, model_allowlist=str(pair)
    ) as bot:
        form = await bot.run(f"/run model:{pair} task:translation")
        assert isinstance(form, Modal) and [f.name for f in form.fields] == ["input"]
        wrong = await bot.run(f"/run model:{pair} task:translation hello source:fr")
        assert isinstance(wrong, Error)
        assert wrong.what == "opus-mt-en-de translates only from en to de."
        assert "source:en target:de" in wrong.todo
        same = await bot.generate(
            f"/run model:{pair} task:translation hello source:eng target:de max_new_tokens:4"
        )
        await bot.idle()
        card = bot.outbox.final(same)
        assert isinstance(card, Card) and card.title == "translation · opus-mt-en-de"
