"""Edges of what people type: answers and titles that show nothing or break a line, /class
typed like a sentence, a refused share, and a file over its limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.activities.messages import visible
from bot.attachments import Attachment, InMemory
from bot.errors import UsageError
from bot.inference.tasks.media import MAX_AUDIO_BYTES, MAX_IMAGE_BYTES, prepare
from bot.jobs.worker import WorkerProcess
from bot.replies import Error, Text, as_plain_text
from bot.store.models import Activity, Submission
from tests.activity.conftest import post
from tests.jobs.support import job_bot
from tests.support.botdriver import BotDriver

# -- answers with no visible text -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\u200b",  # zero-width space (Cf)
        "\u200b\u200c\u200d\u2060\ufeff",  # joiners, word joiner, BOM (Cf)
        "\u00a0\u3000\u2003",  # no-break, ideographic, em spaces (Zs)
        "\u2028\u2029",  # line and paragraph separators
        "\u0007\u001b",  # control characters (Cc)
        "\u202e\u200f",  # direction marks (Cf)
    ],
)
def test_text_of_spaces_and_format_characters_alone_is_not_visible(text: str) -> None:
    assert not visible(text)
    assert visible(text + "a") and visible("\u200b42\u200b")


@pytest.mark.parametrize(
    "line",
    [
        '/activity submit ""',
        "/activity submit ''",
        "/activity submit \u200b",
        '/activity submit "\u200b"',
        "/activity submit \u200b\u2060\ufeff\u00a0",
        '/activity submit answer:"\u200b"',
        "/activity submit id:1 \u200d",
        "/activity submit “ ”",  # curly quotes, as phones type them
    ],
)
async def test_an_answer_with_no_visible_text_is_refused(bot: BotDriver, line: str) -> None:
    await post(bot)
    reply = await bot.run(line, user="ana")
    assert isinstance(reply, Error) and reply.private, as_plain_text(reply)
    assert reply.what == "Your answer has no visible text, so it was not saved."
    assert "/activity submit alone" in reply.todo
    async with bot.app.services.store.session() as session:
        assert await session.scalar(select(func.count()).select_from(Submission)) == 0


async def test_an_answer_with_words_among_invisible_characters_is_saved(bot: BotDriver) -> None:
    await post(bot)
    reply = await bot.run('/activity submit "\u200bGPT-2 was faster\u200b"', user="ana")
    assert isinstance(reply, Text) and reply.text.startswith("Saved your answer to #1")


# -- titles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    ['"Lab\nnewline"', '"Lab\r\nnewline"', '"Lab\u2028newline"', '"Lab\n\n  newline"'],
)
async def test_a_title_on_two_lines_is_refused_with_it_on_one(bot: BotDriver, title: str) -> None:
    line = f"/activity post title:{title} minutes:5 Compare two models."
    reply = await bot.run(line, user="teacher", role="instructor")
    assert isinstance(reply, Error), as_plain_text(reply)
    assert reply.what == "A title is one line; this one has a line break."
    assert reply.todo == 'Write it on one line: title:"Lab newline"'
    async with bot.app.services.store.session() as session:
        assert await session.scalar(select(func.count()).select_from(Activity)) == 0


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ('/activity post title:"\u200b" minutes:5 Compare.', "The title has no visible text."),
        ("/activity post title:Lab minutes:5 \u200b\u2060", "The prompt has no visible text."),
        ('/activity post title:Lab minutes:5 ""', "The prompt has no visible text."),
    ],
)
async def test_a_title_or_prompt_with_no_visible_text_is_refused(
    bot: BotDriver, line: str, what: str
) -> None:
    reply = await bot.run(line, user="teacher", role="instructor")
    assert isinstance(reply, Error) and reply.what == what, as_plain_text(reply)
    assert reply.todo
    async with bot.app.services.store.session() as session:
        assert await session.scalar(select(func.count()).select_from(Activity)) == 0


# -- /class -----------------------------------------------------------------------------------


async def test_a_student_typing_class_public_is_told_it_is_for_instructors(bot: BotDriver) -> None:
    reply = await bot.run("/class public", user="ana")
    assert isinstance(reply, Error) and reply.what == "/class is for instructors."
    assert reply.todo


async def test_an_instructor_may_type_class_public_without_the_option_name(
    bot: BotDriver,
) -> None:
    public = await bot.run("/class public", user="teacher", role="instructor")
    assert isinstance(public, Text) and public.text.startswith("Exploration replies are now public")
    named = await bot.run("/class replies:private", user="teacher", role="instructor")
    assert isinstance(named, Text) and "now private" in named.text
    loud = await bot.run("/class loud", user="teacher", role="instructor")
    assert isinstance(loud, Error) and "choose one of private, public" in loud.what


# -- /share -----------------------------------------------------------------------------------


async def test_sharing_someone_elses_job_says_what_to_share_instead(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir, start=False) as bot:
        job = await bot.generate('/generate prompt:"Hello" max_new_tokens:4', user="ana")
        reply = await bot.run(f"/share job:{job}", user="ben")
        assert isinstance(reply, Error) and reply.what == f"Job {job} is not yours to share."
        assert reply.todo.startswith("Share one of your own results")


# -- files over the limit ---------------------------------------------------------------------


class Unsized(InMemory):
    """A file whose platform does not state its size before the download."""

    def __init__(self, name: str, data: bytes) -> None:
        super().__init__(name, data)
        self.size = None


async def _too_large(file: Attachment, limit: int) -> Error:
    with pytest.raises(UsageError) as refused:
        await file.read(limit)
    return refused.value.error


@pytest.mark.parametrize("unsized", [False, True])
async def test_a_file_over_the_limit_is_told_to_shrink_as_its_kind_can(unsized: bool) -> None:
    big = bytes(12_000_000)
    make = Unsized if unsized else InMemory
    photo = await _too_large(make("photo.jpg", big), MAX_IMAGE_BYTES)
    assert photo.todo == "Attach a smaller image: at most 10.0 MB."
    clip = await _too_large(make("voice.ogg", big), MAX_AUDIO_BYTES)
    assert clip.todo == "Attach a shorter clip: at most 10.0 MB."
    video = await _too_large(InMemory("note", big, content_type="video/webm"), MAX_AUDIO_BYTES)
    assert video.todo == "Attach a shorter clip: at most 10.0 MB."
    unknown = await _too_large(make("data.bin", big), MAX_IMAGE_BYTES)
    assert unknown.todo == "Attach a shorter clip or a smaller image: at most 10.0 MB."


def test_a_prepared_file_over_the_limit_is_told_to_shrink_as_its_task_needs() -> None:
    big = bytes(12_000_000)
    with pytest.raises(UsageError) as image:
        prepare("image", "image-classification", "photo.png", big)
    assert image.value.error.what == "photo.png is 12.0 MB; the limit is 10.0 MB."
    assert image.value.error.todo == "Attach a smaller image: at most 10.0 MB."
    with pytest.raises(UsageError) as audio:
        prepare("audio", "audio-classification", "clip.wav", big)
    assert audio.value.error.todo == "Attach a shorter clip: at most 10.0 MB."
