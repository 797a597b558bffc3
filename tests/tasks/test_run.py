"""/run through the router, the guard, the job engine and the real worker, on tiny models
built in fixtures (tests/support/tiny_task_models.py) and loaded by the production code."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from bot.jobs.kinds.run import RUN, RunParams, TaskOutput
from bot.jobs.records import view
from bot.jobs.worker import WorkerProcess
from bot.replies import Card, Error, File, Image, as_plain_text
from tests.tasks.conftest import task_bot

# One line per task, and what its reply must show.
LINES = {
    "text-classification": "/run task:text-classification I loved this film",
    "token-classification": "/run task:token-classification Ada lives in Paris with her cat",
    "fill-mask": "/run task:fill-mask Paris is the [MASK] of France",
    "question-answering": '/run task:question-answering Where does Ada live? context:"Ada lives '
    'in Paris with her cat."',
    "summarization": "/run task:summarization The students loved the class. max_new_tokens:8",
    "translation": "/run task:translation Good morning source:en target:de max_new_tokens:8",
    "text2text-generation": "/run task:text2text-generation What is the capital of France? "
    "max_new_tokens:8",
    "zero-shot-classification": "/run task:zero-shot-classification I need a new phone "
    "labels:shopping,sport,cooking,Sport",  # a label typed twice is scored once
    "sentence-similarity": '/run task:sentence-similarity A cat sits on the mat sentences:"A cat '
    'is sitting|Dogs bark|The weather is sunny"',
}


async def test_every_task_returns_a_well_formed_result(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models) as bot:
        jobs = {task: await bot.generate(line) for task, line in LINES.items()}
        await bot.idle()
        stored = await bot.jobs()
        for task, job_id in jobs.items():
            card = bot.outbox.final(job_id)
            assert isinstance(card, Card), (task, as_plain_text(card))
            assert card.title.endswith(task_models[task].name), card.title
            assert "parameters · license not stated" in (card.footer or "")
            result = RUN.result_of(view(stored[job_id]))
            (out,) = result.outputs
            assert out.model.id == str(task_models[task]) and out.model_params > 20_000
            _check_shape(task, out, card)


def _check_shape(task: str, out: TaskOutput, card: Card) -> None:
    if task == "text-classification":
        assert {s.label for s in out.scores} == {"NEGATIVE", "POSITIVE"}
        assert abs(sum(s.score for s in out.scores) - 1) < 1e-3
        assert "▓" in card.description or "░" in card.description
    elif task == "zero-shot-classification":
        assert sorted(s.label for s in out.scores) == ["cooking", "shopping", "sport"]
        assert abs(sum(s.score for s in out.scores) - 1) < 1e-3
        assert [s.score for s in out.scores] == sorted((s.score for s in out.scores), reverse=True)
    elif task == "fill-mask":
        assert len(out.scores) == 5 and all(s.label for s in out.scores)
        first, second = card.description.split("\n")[:2]
        assert first == f"Paris is the **{out.scores[0].label}** of France"
        assert second == "fills for [MASK]:"
    elif task == "sentence-similarity":
        assert sorted(s.label for s in out.scores) == sorted(
            ["A cat is sitting", "Dogs bark", "The weather is sunny"]
        )
        assert all(-1.0 <= s.score <= 1.0 for s in out.scores)
        assert card.description.startswith("cosine similarity")
    elif task == "token-classification":
        text = "Ada lives in Paris with her cat"
        assert out.spans  # the tiny model's fixed weights do mark some words
        for span in out.spans:
            assert 0 <= span.start < span.end <= len(text)
            assert span.label in {"PER", "LOC"}
            assert f"[{text[span.start : span.end]}]({span.label}" in card.description
    elif task == "question-answering":
        context = "Ada lives in Paris with her cat."
        (span,) = out.spans
        assert 0 <= span.start < span.end <= len(context) and 0 < span.score <= 1
        answer = context[span.start : span.end]
        assert card.description.startswith(f"Answer: {answer} (score")
        assert f"**{answer}**" in card.description
    else:  # seq2seq: text, at most the tokens asked for
        assert isinstance(out.text, str) and len(out.text.split()) <= 8
    assert not out.truncated


async def test_compare_gives_one_column_per_model_with_size_license_and_time(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    other = task_models["text-classification-2"]
    async with task_bot(
        tmp_path, model_worker, tiny_model_dir, task_models, model_allowlist=str(other)
    ) as bot:
        main = task_models["text-classification"]
        job = await bot.generate(f"/run model:{main} compare:{other} What a great film")
        await bot.idle()
        card = bot.outbox.final(job)
        assert isinstance(card, Card)
        assert card.title == "text classification: tiny-sentiment vs tiny-sentiment-2"
        assert [f.name for f in card.fields] == ["tiny-sentiment", "tiny-sentiment-2"]
        for field in card.fields:
            assert field.inline
            assert "27K parameters · license not stated · " in field.value
            assert field.value.splitlines()[-1].endswith((" ms", " s"))
            assert "NEGATIVE" in field.value and "POSITIVE" in field.value
        # Different weights, different answers.
        (stored,) = (await bot.jobs()).values()
        first, second = RUN.result_of(view(stored)).outputs
        assert [m.model.id for m in (first, second)] == [str(main), str(other)]
        assert first.scores != second.scores
        # The comparison as a picture: each model's size and time, in the alt text too.
        (chart,) = [b for b in card.buttons if b.label == "Chart"]
        picture = await bot.run(chart.action)
        assert isinstance(picture, Image) and picture.data.startswith(b"\x89PNG")
        for out in (first, second):
            assert f"{out.model.short_name}: 27K, {out.seconds * 1000:,.0f} ms" in picture.alt
        alone = await bot.generate(f"/run model:{main} What a great film")
        await bot.idle()
        single = bot.outbox.final(alone)
        assert isinstance(single, Card) and "Chart" not in [b.label for b in single.buttons]
        nothing = await bot.run(f"/chart job:{alone}")
        assert isinstance(nothing, Error) and "/run comparisons" in nothing.todo
        twice = await bot.run(f"/run model:{main} compare:{other},{other} Hi")
        assert isinstance(twice, Error) and "twice" in twice.what
        wrong = await bot.run(f"/run model:{main} compare:{task_models['fill-mask']} Hi")
        assert isinstance(wrong, Error)


async def test_bad_input_gets_a_reply_and_nothing_runs(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models, start=False) as bot:
        cases = {
            '/run task:text-classification ""': "needs some text",
            "/run task:fill-mask Paris is the capital of France": "mask token [MASK]",
            "/run task:fill-mask [MASK] is the [MASK] of France": "2 times",
            "/run task:fill-mask Paris is the <mask> of France": (
                "mask token is [MASK], not <mask>."
            ),
            "/run task:question-answering Where does Ada live?": "needs a context",
            "/run task:zero-shot-classification I need a phone labels:shopping": "two different",
            "/run task:zero-shot-classification I need a phone labels:sport,Sport": "two different",
            "/run task:sentence-similarity A cat sits": "none were given",
            "/run task:zero-shot-classification I need a phone labels: sport, politics": (
                "Write labels:sport,politics with no space after the colon"
            ),
            "/run task:question-answering Where? context: Ada lives in Paris": (
                "Write context:Ada lives in Paris. with no space"
            ),
            "/run I loved it": "needs a model or a task",
            # A misspelled option would be read as input, and the model run on it.
            "/run task:zero-shot-classification I love football label:sport,politics": (
                "Unknown option label:. Did you mean labels:?"
            ),
            "/run modle:some/model I loved it": "Did you mean model:?",
            "/run task:text-generation": "none was typed",
            "/run task:image-segmentation a cat": "a task on the Hub that /run can't do yet",
        }
        for line, words in cases.items():
            reply = await bot.run(line)
            assert isinstance(reply, Error), (line, as_plain_text(reply))
            assert words in as_plain_text(reply), (line, as_plain_text(reply))
        assert await bot.jobs() == {}


async def test_options_typed_as_people_type_them(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    """Spaces after the commas of a list, and a context or sentences without quotes."""
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models, start=False) as bot:
        await bot.generate(
            "/run task:zero-shot-classification I love football labels:sport, politics ,cooking"
        )
        await bot.generate(
            "/run task:question-answering Where does Ada live? context:Ada lives in Paris."
        )
        await bot.generate(
            "/run task:sentence-similarity The cat sits sentences:A cat is sitting|Dogs bark"
        )
        # Quotes around each item, as in a Python list, are not part of it.
        await bot.generate(
            "/run task:zero-shot-classification Great match labels:'sport', \"politics\",“food”"
        )
        await bot.generate(
            '/run task:sentence-similarity Hi sentences:\'Hello there\'|"He said "hi""'
        )
        # The task's name in words, as the Hub's site shows it.
        await bot.generate("/run task:Text Classification I loved it")
        # The context first: it runs to the line's end, and the question is taken back.
        await bot.generate("/run task:question-answering context:Ada lives in Paris. Who?")
        stored = list((await bot.jobs()).values())
        typed = [RunParams.from_json(job.params).input for job in stored]
        assert (typed[0].text, typed[0].labels) == (
            "I love football",
            ("sport", "politics", "cooking"),
        )
        assert (typed[1].text, typed[1].context) == ("Where does Ada live?", "Ada lives in Paris.")
        assert (typed[2].text, typed[2].sentences) == (
            "The cat sits",
            ("A cat is sitting", "Dogs bark"),
        )
        assert typed[3].labels == ("sport", "politics", "food")
        assert typed[4].sentences == ("Hello there", 'He said "hi"')
        ran = RunParams.from_json(stored[5].params)
        assert (ran.task, typed[5].text) == ("text-classification", "I loved it")
        assert (typed[6].text, typed[6].context) == ("Who?", "Ada lives in Paris.")


async def test_text_typed_in_quotes_reads_like_a_quoted_option(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models, start=False) as bot:
        lines = {
            r'/run task:text-classification "She said \"hi\" to me"': 'She said "hi" to me',
            '/run task:text-classification "Hello" and "bye"': '"Hello" and "bye"',
            "/run task:text-classification 'I loved it'": "I loved it",
        }
        for line in lines:
            await bot.generate(line)
        stored = await bot.jobs()
        typed = [RunParams.from_json(job.params).input.text for job in stored.values()]
        assert typed == list(lines.values())


async def test_an_input_the_worker_refuses_says_what_to_change_not_to_retry(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    late = " ".join(["the cat sat"] * 30) + " [MASK]"  # the mask falls past 48 tokens
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models) as bot:
        job = await bot.generate(f"/run task:fill-mask {late}")
        await bot.idle()
        reply = bot.outbox.final(job)
        assert isinstance(reply, Error), as_plain_text(reply)
        assert (reply.what, reply.todo) == (
            "The mask is past the model's length.",
            "Put it earlier, or shorten the text.",
        )
        assert (await bot.jobs())[job].state == "failed"
        shared = await bot.run(f"/share job:{job}")
        assert isinstance(shared, Error)
        assert shared.todo == "Run it again, then share the new result."


async def test_input_over_the_model_length_is_cut_with_a_note(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    long_text = " ".join(["the cat sat on the mat"] * 20)  # 120 words, the model takes 48
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models) as bot:
        job = await bot.generate(f"/run task:text-classification {long_text}")
        short = await bot.generate("/run task:text-classification the cat sat")
        await bot.idle()
        card = bot.outbox.final(job)
        assert isinstance(card, Card)
        assert "(the input was cut to the model's length)" in card.description
        plain = bot.outbox.final(short)
        assert isinstance(plain, Card) and "cut" not in plain.description
        # Pairs too: a question or a text longer than the model takes is cut, never an error.
        long_qa = await bot.generate(
            f'/run task:question-answering {long_text}? context:"Ada lives in Paris."'
        )
        long_nli = await bot.generate(
            f"/run task:zero-shot-classification {long_text} labels:cats,dogs"
        )
        await bot.idle()
        for job in (long_qa, long_nli):
            reply = bot.outbox.final(job)
            assert isinstance(reply, Card), as_plain_text(reply)
            assert "(the input was cut to the model's length)" in reply.description


async def test_each_model_run_is_usage_in_the_activity_csv(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    other = task_models["text-classification-2"]
    async with task_bot(
        tmp_path, model_worker, tiny_model_dir, task_models, model_allowlist=str(other)
    ) as bot:
        posted = await bot.text(
            '/activity post title:"Tasks" minutes:10 Try a task.', user="teacher", role="instructor"
        )
        assert posted.startswith("== Activity #"), posted
        await bot.generate(
            f"/run model:{task_models['text-classification']} compare:{other} Great", user="ana"
        )
        await bot.generate("/run task:fill-mask The [MASK] sat", user="ana")
        await bot.idle()
        await bot.run("/activity submit done", user="ana")
        replies = await bot.driver.run_all("/activity results", user="teacher", role="instructor")
        attachment = replies[-1]
        assert isinstance(attachment, File)
        rows = list(csv.DictReader(io.StringIO(attachment.data.decode("utf-8-sig"))))
        (ana,) = [r for r in rows if r["user id"] == "ana"]
        ran = ana["models run"]
        for task in ("text-classification", "text-classification-2", "fill-mask"):
            assert str(task_models[task]) in ran, ran
