"""/run's refusals that must say the right thing to the right person: the class's own model
broken (the instructor's to fix), a compare: that repeats the class's model, a task typed in
a student's words, a download that fails after the guard said yes, a diffusers folder, and
options typed for another task. Each is answered before anything is queued."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
import torch

from bot.config import Settings
from bot.hub.errors import RepoNotFound, unavailable
from bot.inference.guard import ClassModelRefused, ModelGuard, ModelRefused
from bot.inference.manager import ModelManager, ModelUnavailable, _download_failed
from bot.inference.tasks.vetting import HandOver, check_task
from bot.jobs.kinds.run import RunParams
from bot.jobs.worker import WorkerProcess
from bot.replies import Error, as_plain_text
from tests.jobs.support import JobBot
from tests.support.image_fixtures import tiny_image_model  # noqa: F401
from tests.tasks.conftest import task_bot

INSTRUCTOR = (
    "Tell your instructor: the setting {setting} names it. Meanwhile you can name a model "
    "yourself with model: (/search task:{task} finds them)."
)


async def refused(bot: JobBot, line: str) -> Error:
    reply = await bot.run(line)
    assert isinstance(reply, Error), (line, as_plain_text(reply))
    return reply


# -- 1. the class's own model is missing --------------------------------------------------------


async def test_a_class_model_missing_on_the_hub_sends_the_student_to_the_instructor(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    task_models: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    missing = "nosuchorg/nosuchmodel"
    async with task_bot(
        tmp_path,
        model_worker,
        tiny_model_dir,
        task_models,
        start=False,
        text_classification_model=missing,
        image_model="nosuchorg/nosuchdiffuser",
    ) as bot:
        with caplog.at_level(logging.WARNING, logger="bot.inference.guard"):
            for _ in range(2):
                error = await refused(bot, "/run task:text-classification hi")
                assert error.what == (
                    "The class's model for text-classification is not available. I can't find "
                    f"the model {missing} on the Hugging Face Hub."
                )
                assert error.todo == INSTRUCTOR.format(
                    setting="CLASSBOT_TEXT_CLASSIFICATION_MODEL", task="text-classification"
                )
        warned = [r for r in caplog.records if "CLASSBOT_TEXT_CLASSIFICATION_MODEL" in r.message]
        assert len(warned) == 1, warned  # once for whoever runs the bot, not per student
        assert missing in warned[0].message

        # The same id typed by the student: their spelling to check.
        typed = await refused(bot, f"/run model:{missing} hi")
        assert typed.what == f"I can't find the model {missing} on the Hugging Face Hub."
        assert typed.todo.startswith("Check the spelling")

        # /imagine's default: not "ids look like stabilityai/sd-turbo" for the id that failed.
        image = await refused(bot, "/imagine a red fox")
        assert image.what == (
            "The class's model for /imagine is not available. I can't find the model "
            "nosuchorg/nosuchdiffuser on the Hugging Face Hub."
        )
        assert image.todo == INSTRUCTOR.format(setting="CLASSBOT_IMAGE_MODEL", task="text-to-image")
        assert await bot.jobs() == {}


async def test_a_class_model_folder_that_is_gone_names_the_setting_not_the_path(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    gone = tmp_path / "models" / "gone"
    async with task_bot(
        tmp_path,
        model_worker,
        tiny_model_dir,
        task_models,
        start=False,
        text_classification_model=str(gone),
    ) as bot:
        error = await refused(bot, "/run task:text-classification hi")
        assert error.what == (
            "The class's model for text-classification is not available: its folder is "
            "missing on the bot's machine."
        )
        assert error.todo == INSTRUCTOR.format(
            setting="CLASSBOT_TEXT_CLASSIFICATION_MODEL", task="text-classification"
        )
        assert str(gone) not in as_plain_text(error)
        assert await bot.jobs() == {}

    # A folder that is there but holds another kind of model: the reason, by the folder's name.
    wrong = task_models["fill-mask"]
    async with task_bot(
        tmp_path / "wrong",
        model_worker,
        tiny_model_dir,
        task_models,
        start=False,
        text_classification_model=str(wrong),
    ) as bot:
        error = await refused(bot, "/run task:text-classification hi")
        assert error.what == (
            "The class's model for text-classification is not available. tiny-fill-mask holds "
            "a BertForMaskedLM model, which does not do text-classification."
        )
        assert "CLASSBOT_TEXT_CLASSIFICATION_MODEL" in error.todo
        assert str(wrong.parent) not in as_plain_text(error)
        assert await bot.jobs() == {}


async def test_the_hub_not_answering_is_not_the_class_models_fault() -> None:
    def offline(name: str) -> object:
        raise httpx.ConnectError("no network")

    settings = Settings(_env_file=None, device="cpu")  # type: ignore[call-arg]
    guard = ModelGuard(settings, model_info=offline)  # type: ignore[arg-type]
    with pytest.raises(ModelRefused) as caught:
        await check_task(guard, None, "text-classification")
    assert not isinstance(caught.value, ClassModelRefused)
    assert caught.value.error.what == unavailable().what


# -- 2. compare: names the class's model ------------------------------------------------------


async def test_compare_with_the_class_model_says_it_is_the_class_model(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    own = task_models["text-classification"]
    other = task_models["text-classification-2"]
    async with task_bot(
        tmp_path,
        model_worker,
        tiny_model_dir,
        task_models,
        start=False,
        model_allowlist=f"{own.parent}/*",
    ) as bot:
        error = await refused(bot, f"/run task:text-classification I loved it compare:{own}")
        assert error.what == "tiny-sentiment is already the class's model for text-classification."
        assert error.todo == (
            "compare: takes other models; /search task:text-classification finds them."
        )
        named = await refused(bot, f"/run model:{other} I loved it compare:{other}")
        assert named.what == "tiny-sentiment-2 is already the model: of this run."
        twice = await refused(
            bot, f"/run task:text-classification I loved it compare:{other},{other}"
        )
        assert (twice.what, twice.todo) == (
            "compare: names tiny-sentiment-2 twice.",
            "Give each model once.",
        )
        assert await bot.jobs() == {}


# -- 3. a task in a student's words -----------------------------------------------------------


async def test_a_task_in_a_students_words_gets_the_guess_search_makes(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models, start=False) as bot:
        cases = {
            "/run task:sentiment hi": (
                "sentiment is not a task /run knows.",
                "Did you mean task:text-classification? /help run lists the tasks /run does.",
            ),
            "/run task:speech to text": (
                "speech-to-text is not a task /run knows.",
                "Did you mean task:automatic-speech-recognition? /help run lists the tasks "
                "/run does.",
            ),
            "/run task:chat Once upon a time": (
                "chat is not a task /run knows.",
                "Did you mean task:text-generation? /help run lists the tasks /run does.",
            ),
        }
        for line, (what, todo) in cases.items():
            error = await refused(bot, line)
            assert (error.what, error.todo) == (what, todo), line
        # /search's own reply for the same word: the same guess.
        search = await bot.text("/search task:sentiment")
        assert "Did you mean task:text-classification?" in search
        hub_task = await refused(bot, "/run task:image-segmentation a cat")
        assert hub_task.what == "image-segmentation is a task on the Hub that /run can't do yet."
        assert hub_task.todo.startswith("/run does these tasks: text-classification, ")
        assert await bot.jobs() == {}
        # Discord suggests /run's own tasks as the student types.
        router = bot.driver.app.router
        assert await router.complete(("run",), "task", "text-c") == ["text-classification"]
        assert "text-to-image" in await router.complete(("run",), "task", "image")


# -- 4. a download that fails after the guard said yes ------------------------------------------


def test_a_failed_download_says_one_thing_and_never_check_the_spelling() -> None:
    # The stand-in knows gpt2 (the guard accepts it) but serves none of its files.
    manager = ModelManager(torch.device("cpu"), budget_bytes=10**9)
    with pytest.raises(ModelUnavailable) as caught:
        manager.fetch({"id": "gpt2", "source": "hub", "params": 1, "rev": None}, print)
    said = str(caught.value)
    assert said == (
        "Downloading gpt2 failed. There is no public model called gpt2 on the Hub now, or not "
        "all of its files: it was made private, deleted or changed since it was checked."
    )
    assert "spelling" not in said and "Try again" not in said  # the job's reply says what to do
    # Other faults keep the shared words, without their advice.
    assert _download_failed("gpt2", unavailable()) == (
        "Downloading gpt2 failed. I could not reach the Hugging Face Hub."
    )
    assert "misspelled" not in _download_failed("gpt2", RepoNotFound("model", "gpt2"))


# -- 5. a local diffusers folder ----------------------------------------------------------------


async def test_a_diffusers_folder_is_handed_over_to_imagine(
    tmp_path: Path,
    model_worker: WorkerProcess,
    tiny_model_dir: Path,
    task_models: dict[str, Path],
    tiny_image_model: Path,  # noqa: F811
) -> None:
    folder = str(tiny_image_model)
    async with task_bot(
        tmp_path,
        model_worker,
        tiny_model_dir,
        task_models,
        start=False,
        model_allowlist=f"{tiny_image_model.parent}/*",
    ) as bot:
        guard = bot.driver.app.services.guard
        assert await check_task(guard, folder, None) == HandOver("/imagine", folder)
        wrong = await refused(bot, f"/run model:{folder} task:text-classification a fox")
        assert wrong.what == (
            f"{folder} is an image-generation (diffusers) model: it draws a picture from a "
            "prompt, and does not do text-classification."
        )
        assert wrong.todo == (
            f"Draw with it: /imagine model:{folder} a red fox in the snow. For "
            "text-classification, leave model: out to use the class's model."
        )
        assert await bot.jobs() == {}
        job_id = await bot.generate(f"/run model:{folder} a fox in the snow")
        job = (await bot.jobs())[job_id]
        assert job.kind == "imagine"
        assert job.params["prompt"] == "a fox in the snow"
        assert job.params["model"]["id"] == str(Path(folder).resolve())


# -- 6. options of another task -------------------------------------------------------------------


async def test_an_option_of_another_task_is_refused_before_anything_runs(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path, task_models: dict[str, Path]
) -> None:
    classify = '/run task:text-classification "I loved this film"'
    qa = '/run task:question-answering "Where does Ada live?" context:"Ada lives in Paris."'
    cases = {
        # context: took the rest of the line: the text is there, just not as the input.
        "/run task:text-classification context:foo I like it": (
            "context: is for question-answering; text-classification does not use it.",
            f"Leave context: out, e.g. {classify}. For question-answering: {qa}",
        ),
        "/run task:text-classification I like it labels:a,b": (
            "labels: is for zero-shot-classification; text-classification does not use it.",
            f"Leave labels: out, e.g. {classify}. For zero-shot-classification: "
            '/run task:zero-shot-classification "I need a new phone" '
            "labels:shopping,sport,cooking",
        ),
        '/run task:text-classification I like it sentences:"a|b"': (
            "sentences: is for sentence-similarity; text-classification does not use it.",
            f"Leave sentences: out, e.g. {classify}. For sentence-similarity: "
            '/run task:sentence-similarity "A cat sits" sentences:"A cat is sitting|Dogs bark"',
        ),
        "/run task:text-classification I like it source:en": (
            "source: is for translation; text-classification does not use it.",
            f"Leave source: out, e.g. {classify}. For translation: "
            '/run task:translation "Good morning" source:en target:fr',
        ),
        "/run task:question-answering Where? context:Ada lives in Paris. max_new_tokens:5": (
            "max_new_tokens: is for summarization, translation, text2text-generation and "
            "text-generation; question-answering does not use it.",
            f"Leave max_new_tokens: out, e.g. {qa}",
        ),
        # The model named: the example names it too.
        f"/run model:{task_models['zero-shot-classification']} I need a phone "
        "labels:a,b context:x": (
            "context: is for question-answering; zero-shot-classification does not use it.",
            f"Leave context: out, e.g. /run model:{task_models['zero-shot-classification']} "
            f'"I need a new phone" labels:shopping,sport,cooking. For question-answering: {qa}',
        ),
        "/run task:text-to-image a fox compare:some/model": (
            "text-to-image does not use compare:.",
            "Leave compare: out, e.g. /run task:text-to-image a red fox in the snow",
        ),
        "/run task:text-generation Once upon a time labels:a,b": (
            "labels: is for zero-shot-classification; text-generation does not use it.",
            "Leave labels: out, e.g. /run task:text-generation Once upon a time. For "
            "zero-shot-classification: /run task:zero-shot-classification "
            '"I need a new phone" labels:shopping,sport,cooking',
        ),
    }
    async with task_bot(tmp_path, model_worker, tiny_model_dir, task_models, start=False) as bot:
        for line, (what, todo) in cases.items():
            error = await refused(bot, line)
            assert (error.what, error.todo) == (what, todo), line
        assert await bot.jobs() == {}
        # Each task still takes its own, and max_new_tokens: left out is the job's own length.
        summary = await bot.generate("/run task:summarization The class was long and good.")
        rewrite = await bot.generate("/run task:text2text-generation Fix this max_new_tokens:7")
        # Handed over to /generate: /generate's own length, or the one typed.
        story = await bot.generate("/run task:text-generation Once upon a time")
        short = await bot.generate("/run task:text-generation Once upon a time max_new_tokens:5")
        stored = await bot.jobs()
        assert RunParams.from_json(stored[summary].params).input.max_new_tokens == 60
        assert RunParams.from_json(stored[rewrite].params).input.max_new_tokens == 7
        lengths = [
            stored[job].params["runs"][0]["settings"]["max_new_tokens"] for job in (story, short)
        ]
        assert lengths == [50, 5]
