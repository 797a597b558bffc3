"""Task kinds on the hf backend: the seam (a sample kind with a hosted runner; a kind
without one fails plainly), then /run's text tasks through the router, the hosted guard,
the engine and the real huggingface_hub client against the providers' stand-in, which
answers in hf-inference's wire formats."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.inference.hosted.providers import PROVIDER_TASKS, runs_hosted
from bot.inference.tasks import TASKS as RUN_TASKS
from bot.inference.tasks import TEXT_TASKS, setting_name
from bot.jobs.hosted.tasks import TASKS
from bot.jobs.kinds.run import RUN, TaskOutput
from bot.jobs.records import view
from bot.replies import Card, Error, File, Text, as_plain_text
from tests.hosted.conftest import TOKEN, hosted_job_bot
from tests.hosted.sample_task import CLASSIFY, ClassifyParams
from tests.jobs.support import JobBot, until
from tests.support.providers_stub import ProvidersStub


async def _submit(bot: JobBot, kind: object, params: ClassifyParams) -> int:
    first = await bot.generate('/generate prompt:"Hi" max_new_tokens:2')
    await bot.idle(10)
    row = (await bot.jobs())[first]
    destination = bot.outbox.sent[-1].destination
    request = CLASSIFY.request(
        params, guild_pk=row.guild_id, user_pk=row.user_id, destination=destination
    )
    request = replace(request, kind=kind.name)  # type: ignore[attr-defined]
    ticket = await bot.driver.app.services.jobs.submit(request)
    bot.driver.app.services.jobs.release(ticket.job_id)
    await bot.idle(10)
    return ticket.job_id


async def test_a_task_kind_runs_hosted_through_its_seam(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    engine = hosted_bot.engine
    assert engine.pool is not None
    engine.kinds["classify"] = CLASSIFY
    engine.pool.links[0].kinds["classify"] = CLASSIFY  # type: ignore[attr-defined]
    job = await _submit(
        hosted_bot, CLASSIFY, ClassifyParams("classbot-test/sentiment", "I love it")
    )
    reply = hosted_bot.outbox.final(job)
    assert isinstance(reply, Text), as_plain_text(reply)
    assert reply.text == "POSITIVE 0.90, NEGATIVE 0.10"
    [seen] = providers.requests("/hf-inference/models/classbot-test/sentiment")
    assert seen.body["inputs"] == "I love it"


async def test_a_kind_without_a_hosted_runner_fails_plainly(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    local_only = replace(CLASSIFY, name="local-only", hosted=None)
    engine = hosted_bot.engine
    assert engine.pool is not None
    engine.kinds["local-only"] = local_only
    engine.pool.links[0].kinds["local-only"] = local_only  # type: ignore[attr-defined]
    job = await _submit(hosted_bot, local_only, ClassifyParams("classbot-test/sentiment", "x"))
    text = as_plain_text(hosted_bot.outbox.final(job))
    assert "run only on the bot's own workers" in text


# -- /run's text tasks on the hf backend ------------------------------------------------------

# The class's model per task, as the tests set it (each one is in the Hub stand-in's records).
TASK_DEFAULTS = {
    "text-classification": "classbot-test/sentiment",
    "token-classification": "classbot-test/ner",
    "fill-mask": "classbot-test/fill",
    "question-answering": "classbot-test/qa",
    "summarization": "classbot-test/summarize",
    "translation": "classbot-test/translate",
    "text2text-generation": "classbot-test/t2t",
    "zero-shot-classification": "classbot-test/nli",
    "sentence-similarity": "classbot-test/embed",
}
LINES = {
    "text-classification": "/run task:text-classification I loved this film",
    "token-classification": "/run task:token-classification Ada lives in Paris with her cat",
    "fill-mask": "/run task:fill-mask Paris is the [MASK] of France",
    "question-answering": '/run task:question-answering Where does Ada live? context:"Ada lives '
    'in Paris with her cat."',
    "summarization": "/run task:summarization The students loved the class today max_new_tokens:3",
    "translation": "/run task:translation Good morning class source:en target:de max_new_tokens:8",
    "text2text-generation": "/run task:text2text-generation What is the capital of France? "
    "max_new_tokens:5",
    "zero-shot-classification": "/run task:zero-shot-classification I need a new phone "
    "labels:shopping,sport,cooking",
    "sentence-similarity": '/run task:sentence-similarity A cat sits on the mat sentences:"A cat '
    'is sitting on a mat|Dogs bark|The weather is sunny"',
}


def _defaults(**overrides: Any) -> dict[str, Any]:
    return {**{setting_name(t): m for t, m in TASK_DEFAULTS.items()}, **overrides}


@asynccontextmanager
async def task_bot(tmp_path: Path, stub: ProvidersStub, **overrides: Any) -> AsyncIterator[JobBot]:
    values = {"max_queued_jobs_per_user": 20, **_defaults(**overrides)}
    async with hosted_job_bot(tmp_path, stub, **values) as bot:
        yield bot


def _output(bot_jobs: dict[int, Any], job: int) -> TaskOutput:
    (out,) = RUN.result_of(view(bot_jobs[job])).outputs
    return out


async def test_every_text_task_runs_on_hf_inference_with_its_payload(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    async with task_bot(tmp_path, providers) as bot:
        jobs = {task: await bot.generate(line) for task, line in LINES.items()}
        await bot.idle(15)
        stored = await bot.jobs()
        outs = {task: _output(stored, job) for task, job in jobs.items()}
        cards = {task: bot.outbox.final(job) for task, job in jobs.items()}
    for task, card in cards.items():
        assert isinstance(card, Card), (task, as_plain_text(card))
        assert card.title.endswith(TASK_DEFAULTS[task].split("/")[1]), card.title
        assert outs[task].model.id == TASK_DEFAULTS[task]
    sent = {
        task: providers.requests(f"/models/{model}")[0] for task, model in TASK_DEFAULTS.items()
    }

    # Scores: the labels, fills and similarities the provider answered, best first.
    sentiment = outs["text-classification"]
    assert [(s.label, s.score) for s in sentiment.scores] == [("POSITIVE", 0.9), ("NEGATIVE", 0.1)]
    assert sent["text-classification"].body == {
        "inputs": "I loved this film",
        "parameters": {"top_k": 10},
    }
    assert "▓" in cards["text-classification"].description
    fills = outs["fill-mask"].scores
    assert len(fills) == 5 and all(f.label and f.label == f.label.strip() for f in fills)
    assert [f.score for f in fills] == sorted((f.score for f in fills), reverse=True)
    first_line = cards["fill-mask"].description.splitlines()[0]
    assert first_line == f"Paris is the **{fills[0].label}** of France"
    assert sent["fill-mask"].body["parameters"] == {"top_k": 5}
    zero = outs["zero-shot-classification"].scores
    assert sorted(s.label for s in zero) == ["cooking", "shopping", "sport"]
    assert abs(sum(s.score for s in zero) - 1) < 1e-3
    assert sent["zero-shot-classification"].body["parameters"]["candidate_labels"] == [
        "shopping",
        "sport",
        "cooking",
    ]
    similar = outs["sentence-similarity"].scores
    assert similar[0].label == "A cat is sitting on a mat"  # most words in common
    assert [s.label for s in similar[1:]] != []
    assert sent["sentence-similarity"].path.endswith("/pipeline/sentence-similarity")
    assert sent["sentence-similarity"].body["inputs"]["source_sentence"] == "A cat sits on the mat"
    assert cards["sentence-similarity"].description.startswith("cosine similarity")

    # Spans: character offsets into the text (entities) or the context (the answer).
    text = "Ada lives in Paris with her cat"
    entities = outs["token-classification"].spans
    assert [(text[s.start : s.end], s.label) for s in entities] == [
        ("Ada", "PER"),
        ("Paris", "LOC"),
    ]
    assert "[Ada](PER 98%) lives in [Paris](LOC 98%)" in cards["token-classification"].description
    assert sent["token-classification"].body["parameters"] == {"aggregation_strategy": "simple"}
    (answer,) = outs["question-answering"].spans
    context = "Ada lives in Paris with her cat."
    assert context[answer.start : answer.end] == "Paris"
    assert cards["question-answering"].description.startswith("Answer: Paris (score")
    assert sent["question-answering"].body["inputs"] == {
        "question": "Where does Ada live?",
        "context": context,
    }

    # Text: seq2seq answers, max_new_tokens passed the way each task takes it.
    assert outs["summarization"].text == "The students loved"
    assert sent["summarization"].body["parameters"] == {
        "generate_parameters": {"max_new_tokens": 3}
    }
    assert outs["translation"].text == "(de) class morning Good"
    assert sent["translation"].body["parameters"]["src_lang"] == "en"
    assert sent["translation"].body["parameters"]["tgt_lang"] == "de"
    assert outs["text2text-generation"].text == "the cat the cat the"
    assert sent["text2text-generation"].body["parameters"]["max_new_tokens"] == 5

    # Sizes come from the Hub's safetensors count where it lists one: "size unknown" otherwise.
    assert outs["token-classification"].model_params == 108_000_000
    assert "108M parameters" in (cards["token-classification"].footer or "")
    assert outs["summarization"].model_params == 0
    assert "size unknown · license not stated" in (cards["summarization"].footer or "")
    assert all(not o.truncated for o in outs.values())


async def test_compare_runs_the_models_at_once_with_size_and_license(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    providers.latency = 0.4
    async with task_bot(tmp_path, providers) as bot:
        # The second model as its page's address, pasted from the browser.
        job = await bot.generate(
            "/run model:classbot-test/sentiment"
            " compare:https://huggingface.co/classbot-test/sentiment-2/tree/main What a film"
        )
        await bot.idle(15)
        card = bot.outbox.final(job)
        (stored,) = (await bot.jobs()).values()
    assert isinstance(card, Card), as_plain_text(card)
    assert card.title == "text classification: sentiment vs sentiment-2"
    first, second = card.fields
    assert first.name == "sentiment" and second.name == "sentiment-2"
    assert "size unknown · license not stated" in first.value
    assert "125M parameters · license apache-2.0" in second.value
    a, b = RUN.result_of(view(stored)).outputs
    assert a.scores != b.scores  # two models, two answers
    assert providers.most_in_flight == 2  # side by side, not one after the other
    assert all(o.seconds >= 0.4 for o in (a, b))


async def test_models_no_provider_serves_for_the_task_are_refused_before_queueing(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    async with task_bot(tmp_path, providers) as bot:
        refused = await bot.run("/run model:classbot-test/sentiment-unserved Great")
        assert isinstance(refused, Error)
        assert "not served by any Inference Provider for text-classification" in refused.what
        assert "leave model: out" in refused.todo
        elsewhere = await bot.run("/run model:classbot-test/ner-elsewhere Ada lives in Paris")
        assert isinstance(elsewhere, Error)
        assert "served as: together (conversational)" in elsewhere.what
        compare = await bot.run(
            "/run model:classbot-test/sentiment compare:classbot-test/sentiment-unserved Great"
        )
        assert isinstance(compare, Error) and "sentiment-unserved" in compare.what
        # The task asked for must be the model's own, as locally.
        wrong = await bot.run("/run model:classbot-test/ner task:fill-mask Ada [MASK] here")
        assert isinstance(wrong, Error) and "does token-classification, not fill-mask" in wrong.what
        assert await bot.jobs() == {}
    assert providers.requests() == []


async def test_a_class_model_no_provider_serves_sends_the_student_to_the_instructor(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    unserved = "classbot-test/sentiment-unserved"
    async with task_bot(tmp_path, providers, text_classification_model=unserved) as bot:
        refused = await bot.run("/run task:text-classification Great")
        assert isinstance(refused, Error)
        assert refused.what.startswith("The class's model for text-classification is not available")
        assert "not served by any Inference Provider" in refused.what
        assert "CLASSBOT_TEXT_CLASSIFICATION_MODEL" in refused.todo
        assert "leave model: out" not in refused.todo  # the very model refused
        assert await bot.jobs() == {}


async def test_a_task_without_a_hosted_runner_is_refused_at_the_guard(
    tmp_path: Path, providers: ProvidersStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(PROVIDER_TASKS, "fill-mask")
    async with task_bot(tmp_path, providers) as bot:
        refused = await bot.run("/run task:fill-mask Paris is the [MASK] of France")
        assert isinstance(refused, Error)
        assert "fill-mask does not run on hosted inference yet" in refused.what
        assert "text-classification" in refused.todo and "fill-mask" not in refused.todo
        assert await bot.jobs() == {}


def test_every_task_the_guard_lets_through_has_a_hosted_call() -> None:
    hosted = {task for task in RUN_TASKS if runs_hosted(task)}
    assert hosted == set(TASKS)
    assert set(LINES) == set(TEXT_TASKS)  # every text task of the lesson runs hosted
    assert set(LINES) <= hosted


async def test_bad_input_is_refused_before_anything_is_sent(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    async with task_bot(tmp_path, providers) as bot:
        no_mask = await bot.run("/run task:fill-mask Paris is the capital of France")
        assert isinstance(no_mask, Error) and "mask token [MASK]" in no_mask.what
        no_context = await bot.run("/run task:question-answering Where does Ada live?")
        assert isinstance(no_context, Error) and "needs a context" in no_context.what
        assert await bot.jobs() == {}
    assert providers.requests("/hf-inference/") == []


@pytest.mark.parametrize(
    ("task", "status", "headers", "body", "expected"),
    [
        ("text-classification", 401, {}, b"{}", "refused the bot's token (401)"),
        ("zero-shot-classification", 402, {}, b"{}", "credits for hosted models are used up"),
        ("token-classification", 404, {}, b"{}", "does not serve classbot-test/ner (404)"),
        ("question-answering", 429, {"Retry-After": "60"}, b"{}", "Try again in 60 s"),
        (
            "summarization",
            503,
            {},
            json.dumps({"estimated_time": 20.0}).encode(),
            "classbot-test/summarize is loading on Inference Providers (hf-inference) (about 20 s)",
        ),
        ("sentence-similarity", 200, {}, b"[0.5]", "sent back an answer I could not read"),
        ("fill-mask", 200, {}, b"<html>oops</html>", "sent back an answer I could not read"),
    ],
)
async def test_a_fault_per_task_family_gets_its_plain_reply(
    tmp_path: Path,
    providers: ProvidersStub,
    task: str,
    status: int,
    headers: dict[str, str],
    body: bytes,
    expected: str,
) -> None:
    providers.fail(f"/models/{TASK_DEFAULTS[task]}", status, headers=headers, body=body)
    async with task_bot(tmp_path, providers) as bot:
        job = await bot.generate(LINES[task])
        await bot.idle(15)
        text = as_plain_text(bot.outbox.final(job))
        state = (await bot.jobs())[job].state
    assert expected in text, text
    assert "Something went wrong" not in text and TOKEN not in text
    assert state == "failed"


async def test_a_timeout_and_a_fault_in_compare_fail_the_job_plainly(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    providers.fail("/models/classbot-test/ner", 200, delay=3.0)
    providers.fail("/models/classbot-test/sentiment-2", 401)
    async with task_bot(tmp_path, providers, hosted_timeout_seconds=0.5) as bot:
        slow = await bot.generate(LINES["token-classification"])
        both = await bot.generate(
            "/run model:classbot-test/sentiment compare:classbot-test/sentiment-2 Great"
        )
        await bot.idle(15)
        assert "did not answer within 0.5 s" in as_plain_text(bot.outbox.final(slow))
        assert "refused the bot's token (401)" in as_plain_text(bot.outbox.final(both))


async def test_the_budget_counts_run_and_usage_lands_in_the_activity_csv(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    async with task_bot(tmp_path, providers, hosted_daily_jobs_per_student=3) as bot:
        posted = await bot.text(
            '/activity post title:"Tasks" minutes:10 Try a task.', user="teacher", role="instructor"
        )
        assert posted.startswith("== Activity #"), posted
        await bot.generate(
            "/run model:classbot-test/sentiment compare:classbot-test/sentiment-2 Great", user="ana"
        )
        await bot.generate(LINES["fill-mask"], user="ana")
        await bot.generate('/generate prompt:"Hi" max_new_tokens:2', user="ana")
        await bot.idle(15)
        refused = as_plain_text(await bot.run(LINES["summarization"], user="ana"))
        assert "used your 3 hosted model runs for today" in refused
        await bot.run("/activity submit done", user="ana")
        replies = await bot.driver.run_all("/activity results", user="teacher", role="instructor")
    attachment = replies[-1]
    assert isinstance(attachment, File)
    rows = list(csv.DictReader(io.StringIO(attachment.data.decode("utf-8-sig"))))
    (ana,) = [r for r in rows if r["user id"] == "ana"]
    ran = ana["models run"]
    for model in ("classbot-test/sentiment", "classbot-test/sentiment-2", "classbot-test/fill"):
        assert model in ran, ran
    assert len(providers.requests("/hf-inference/models/classbot-test/summarize")) == 0


async def test_run_on_the_openai_backend_says_it_serves_text_generation_only(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    async with task_bot(
        tmp_path,
        providers,
        backend="openai",
        hf_token=None,
        openai_base_url=providers.url + "/v1",
        text_model="tiny-chat",
    ) as bot:
        refused = await bot.run(LINES["text-classification"])
        assert isinstance(refused, Error)
        assert "/run does not run on this class's model server" in refused.what
    assert providers.requests() == []


async def test_cancel_abandons_a_runs_requests(tmp_path: Path, providers: ProvidersStub) -> None:
    providers.latency = 5.0
    async with task_bot(tmp_path, providers) as bot:
        job = await bot.generate(
            "/run model:classbot-test/sentiment compare:classbot-test/sentiment-2 Great"
        )
        await until(lambda: providers.in_flight == 2, 5, "both requests to start")
        await bot.run(f"/jobs cancel id:{job}")
        await bot.idle(3)
        await until(lambda: providers.abandoned == 2, 3, "the stand-in to see both dropped")
        assert (await bot.jobs())[job].state == "cancelled"


async def test_a_translation_with_a_target_alone_goes_from_english(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    # The client refuses a target without a source before sending anything.
    async with task_bot(tmp_path, providers) as bot:
        job = await bot.generate("/run task:translation Good morning target:de max_new_tokens:8")
        # Languages by name reach the provider as codes.
        named = await bot.generate("/run task:translation Hi source:English target:German")
        await bot.idle(15)
        for done in (job, named):
            reply = bot.outbox.final(done)
            assert isinstance(reply, Card), as_plain_text(reply)
    sent = [s.body["parameters"] for s in providers.requests("/models/classbot-test/translate")]
    assert [(p["src_lang"], p["tgt_lang"]) for p in sent] == [("en", "de"), ("en", "de")]
