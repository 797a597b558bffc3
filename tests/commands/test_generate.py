"""/generate and /jobs through the router, with the tiny GPT-Neo on the shared worker."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.delivery import Destination
from bot.inference.repetition import repeated_ngrams, words_of
from bot.jobs.kinds.generate import COLUMN_PART, GENERATE, TEXT_PART
from bot.jobs.protocol import JobView
from bot.jobs.worker import WorkerProcess
from bot.replies import Card, Error, Image, Progress, Reply, Text, as_plain_text
from tests.jobs.support import job_bot


async def test_generate_shows_text_meter_and_decoding(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as bot:
        first = await bot.run('/generate prompt:"Hello" seed:1 max_new_tokens:20')
        assert isinstance(first, Progress) and first.total == 20
        assert [b.label for b in first.buttons] == ["Cancel"]
        job = await bot.generate('/generate prompt:"Hello" seed:1 max_new_tokens:20')
        greedy = await bot.generate('/generate prompt:"Hello" max_new_tokens:20')
        await bot.idle()
        card = bot.outbox.final(job)
        assert isinstance(card, Card)
        assert card.title == f"{tiny_model_dir.name} · 165K parameters"
        fields = {f.name: f.value for f in card.fields}
        assert fields["Prompt"] == "Hello"
        meter, explanation = fields["Repetition"].split("\n")
        assert meter.endswith("%") and set(meter[:10]) <= {"▓", "░"}
        assert explanation.endswith(".")
        assert fields["Decoding"] == "sampled · temperature 1 · top-p 1 · top-k 50 · seed 1"
        assert "20 tokens" in (card.footer or "")
        # Same seed, settings and model: the same text as the first run.
        assert card.description == bot.outbox.final(job - 1).description  # type: ignore[attr-defined]
        plain = bot.outbox.final(greedy)
        assert isinstance(plain, Card)
        assert plain.fields[2].value == "greedy (always the most likely token)"
        # The prompt typed in quotes without prompt: is the same prompt, and the same text.
        quoted = await bot.generate('/generate "Hello" max_new_tokens:20')
        await bot.idle()
        again = bot.outbox.final(quoted)
        assert isinstance(again, Card) and again.fields[0].value == "Hello"
        assert again.description == plain.description


async def test_compare_greedy_and_sampled_side_by_side(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as bot:
        both = await bot.generate('/generate prompt:"The cat" compare:greedy seed:3')
        greedy = await bot.generate('/generate prompt:"The cat"')
        sampled = await bot.generate('/generate prompt:"The cat" seed:3')
        await bot.idle()
        card = bot.outbox.final(both)
        assert isinstance(card, Card) and card.title == "greedy vs sampled"
        left, right = card.fields
        assert left.inline and right.inline
        assert left.name.startswith("greedy · ") and right.name.startswith("sampled · ")
        assert "Repetition ▓" in left.value or "Repetition ░" in left.value
        alone = [bot.outbox.final(j) for j in (greedy, sampled)]
        for column, single in zip(card.fields, alone, strict=True):
            assert isinstance(single, Card)
            assert column.value.startswith(single.description.rstrip("…"))


async def test_compare_two_models(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    other = tmp_path / "other-model"
    shutil.copytree(tiny_model_dir, other)
    async with job_bot(tmp_path, model_worker, tiny_model_dir, model_allowlist=str(other)) as bot:
        job = await bot.generate(f'/generate prompt:"Hi" seed:2 compare:{other}')
        await bot.idle()
        card = bot.outbox.final(job)
        assert isinstance(card, Card)
        assert card.title == f"{tiny_model_dir.name} vs other-model"
        # A label that is the model's own name is not repeated beside it.
        names = [f.name for f in card.fields]
        assert names == [
            f"{tiny_model_dir.name} (165K parameters)",
            "other-model (165K parameters)",
        ]
        same = await bot.run(f'/generate prompt:"Hi" compare:{tiny_model_dir}')
        assert isinstance(same, Error) and "same model" in same.what


async def test_refused_compare_model_runs_the_first_and_says_why(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as bot:
        job = await bot.generate('/generate prompt:"Hi" seed:2 compare:bert-base-uncased')
        alone = await bot.generate('/generate prompt:"Hi" seed:2')
        await bot.idle()
        card, plain = bot.outbox.final(job), bot.outbox.final(alone)
        assert isinstance(card, Card) and isinstance(plain, Card)
        assert card.title == plain.title == f"{tiny_model_dir.name} · 165K parameters"
        assert card.description == plain.description
        fields = {f.name: f.value for f in card.fields}
        # The guard's own words, as /generate model:bert-base-uncased would say them.
        refused = await bot.run('/generate prompt:"Hi" model:bert-base-uncased')
        assert isinstance(refused, Error)
        assert fields["Compare: not run"].startswith(refused.what)
        assert "Compare: not run" not in {f.name for f in plain.fields}


def _remove(weights: Path) -> None:
    weights.unlink()


def _cut_short(weights: Path) -> None:
    # The header stays readable (the guard reads only that); the tensors are cut off.
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage", [_remove, _cut_short], ids=["missing", "cut-short"])
async def test_compare_model_that_cannot_load_keeps_the_first_column(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    damage: Callable[[Path], None],
) -> None:
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_model_dir, broken)
    async with job_bot(
        tmp_path, model_worker, tiny_model_dir, model_allowlist=str(broken), start=False
    ) as bot:
        job = await bot.generate(f'/generate prompt:"Hi" seed:2 compare:{broken}')
        alone = await bot.generate('/generate prompt:"Hi" seed:2')
        # The guard approved the folder; its weights go missing before the worker loads it.
        damage(broken / "model.safetensors")
        await bot.start()
        await bot.idle()
        assert (await bot.jobs())[job].state == "succeeded"
        card, plain = bot.outbox.final(job), bot.outbox.final(alone)
        assert isinstance(card, Card) and isinstance(plain, Card)
        assert card.title == f"{tiny_model_dir.name} vs broken-model"
        first, second = card.fields
        assert plain.description and first.value.startswith(plain.description.rstrip("…"))
        assert second.name == "broken-model (165K parameters)"
        assert second.value.startswith(f"Not run: {broken} could not be loaded")
        if damage is _remove:
            assert "model.safetensors" in second.value
        assert (card.footer or "").count("tokens in") == 1


async def test_bad_requests_are_clear_errors(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir, start=False) as bot:
        refused = await bot.run('/generate prompt:"x" model:bert-base-uncased')
        assert isinstance(refused, Error)
        assert "google-bert/bert-base-uncased does fill-mask" in refused.what
        zero = await bot.run('/generate prompt:"x" top_p:0')
        assert isinstance(zero, Error) and "top_p must be above 0" in zero.what
        too_long = await bot.run('/generate prompt:"x" max_new_tokens:500')
        assert isinstance(too_long, Error) and "between 1 and 256" in too_long.what
        same = await bot.run('/generate prompt:"x" compare:greedy temperature:0')
        assert isinstance(same, Error) and "the two would be the same" in same.what
        assert await bot.jobs() == {}
        none = await bot.run("/jobs")
        assert isinstance(none, Text) and "You have no queued or running jobs" in none.text
        assert none.text.endswith("Start one with /run, /generate or /imagine.")
        which = await bot.run("/jobs cancel")
        assert isinstance(which, Error) and "Which job?" in which.what
        missing = await bot.run("/jobs cancel id:99")
        assert isinstance(missing, Error) and "no job 99" in missing.what


def _job(runs: list[dict[str, object]], prompt: str = "Once") -> JobView:
    return JobView(
        id=7,
        kind="generate",
        state="succeeded",
        params={"prompt": prompt},
        destination=Destination("console", "g", "c", "u"),
        result={"runs": runs},
    )


def render(job: JobView) -> Reply:
    """The reply the relay sends for this stored job (params and result read back from JSON)."""
    return GENERATE.reply(job)


def _run(text: str, label: str = "sampled") -> dict[str, object]:
    return {
        "label": label,
        "model": {"id": "EleutherAI/gpt-neo-125m", "source": "hub", "params": 125_198_592},
        "model_params": 125_198_592,
        "text": text,
        "tokens": 256,
        "finish": "length",
        "seconds": 2.5,
        "seed": 9,
        "settings": {"temperature": 0.8, "top_p": 0.9, "top_k": 0, "repetition_penalty": 1.2},
        "prompt_truncated": False,
    }


def test_a_text_cut_by_the_models_context_says_so() -> None:
    full = {**_run("a b c"), "settings": {"max_new_tokens": 256}}
    cut = {**full, "tokens": 224}  # a 32-token prompt in a 256-token context
    footers = [render(_job([run])).footer or "" for run in (full, cut)]  # type: ignore[attr-defined]
    assert "256 tokens in 2.5 s, stopped at max_new_tokens" in footers[0]
    assert "224 tokens in 2.5 s, stopped at the end of the model's context" in footers[1]


def test_long_output_is_cut_cleanly_to_chat_limits() -> None:
    long = "the cat sat on the mat " * 300 + "\x07\x00end"
    card = render(_job([_run(long)], prompt="p " * 2000))
    assert isinstance(card, Card)
    assert len(card.description) <= TEXT_PART and card.description.endswith("…")
    assert card.description[-2] != " "  # cut at a word boundary
    assert all(len(f.value) <= 1024 for f in card.fields)
    assert card.title == "gpt-neo-125m · 125M parameters"
    decoding = card.fields[2].value
    assert (
        decoding
        == "sampled · temperature 0.8 · top-p 0.9 · no top-k · seed 9 · repetition penalty 1.2"
    )
    assert "a 6-word chunk appears twice" not in card.fields[1].value  # the words differ…
    assert "keeps choosing the most likely words" in card.fields[1].value  # …but they repeat

    pair = render(_job([_run(long, "greedy"), _run("\x01Short one.\t\n\n\n\nok")]))
    assert isinstance(pair, Card)
    assert all(len(f.value) <= 1024 for f in pair.fields)
    assert len(pair.fields[0].value.split("\n\nRepetition")[0]) <= COLUMN_PART
    assert pair.fields[1].value.startswith("Short one. \n\nok")
    text = as_plain_text(pair)
    assert "\x01" not in text and "\x07" not in text


async def test_chart_draws_where_the_text_repeats_for_its_student_only(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as bot:
        job = await bot.generate('/generate prompt:"Hello" max_new_tokens:30')
        await bot.idle()
        card = bot.outbox.final(job)
        assert isinstance(card, Card)
        chart = next(b for b in card.buttons if b.label == "Chart")
        assert chart.action == f"/chart job:{job}"

        pictures = await bot.driver.run_all(chart.action)
        assert len(pictures) == 1 and isinstance(pictures[0], Image)
        picture = pictures[0]
        assert picture.data.startswith(b"\x89PNG\r\n\x1a\n")
        # The picture's numbers are in its text too, for screen readers; the same count the
        # card's meter is computed from.
        text = (await bot.jobs())[job].result["runs"][0]["text"]  # type: ignore[index]
        repeats = repeated_ngrams(words_of(text), 3)
        assert picture.alt.startswith(
            f"Repeated 3-word chunks along the text: {sum(repeats)} of {len(repeats)} "
        )
        assert picture.private

        other = await bot.run(chart.action, user="someone-else")
        assert isinstance(other, Error) and "not yours" in other.what
        teacher = await bot.driver.run_all(chart.action, user="teacher", role="instructor")
        assert isinstance(teacher[0], Image)
        missing = await bot.run(f"/chart job:{job + 100}")
        assert isinstance(missing, Error) and "no job" in missing.what
        # A text of a word or two repeats nothing: no empty plot, and the reply says why.
        short = await bot.generate('/generate prompt:"Hello" max_new_tokens:1')
        await bot.idle()
        none = await bot.run(f"/chart job:{short}")
        assert isinstance(none, Error) and "of a few words or more" in none.todo
