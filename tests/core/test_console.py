from __future__ import annotations

import io
import os
from pathlib import Path

from adapters.console import ConsoleAdapter
from bot.identity import Role
from bot.replies import Card, Error, Image
from tests.support.botdriver import BotDriver, FakeClock, running_bot, settings_for_tests
from tests.support.cli import run_classbot

REPO = Path(__file__).resolve().parents[2]


async def test_help_lists_every_command(bot: BotDriver) -> None:
    reply = await bot.run("/help", role="instructor")
    assert isinstance(reply, Card)
    names = [field.name for field in reply.fields]
    assert "/help" in names
    assert len(names) == len(list(bot.app.router.walk()))


async def test_help_for_one_command_shows_usage_and_examples(bot: BotDriver) -> None:
    text = await bot.text("/help help")
    assert "Usage: /help [command]" in text
    assert "/help search" in text


async def test_unknown_command_is_an_error_with_a_hint(bot: BotDriver) -> None:
    reply = await bot.run("/hepl")
    assert isinstance(reply, Error)
    assert "Did you mean /help?" in reply.todo


async def test_files_are_saved_and_their_path_printed(bot: BotDriver, tmp_path: Path) -> None:
    adapter = bot.adapter
    adapter.show(Image(filename="fox 1.png", data=b"\x89PNG fake", caption="a red fox"))
    adapter.show(Image(filename="fox 1.png", data=b"second", caption="again"))
    saved = [
        line.removeprefix("saved: ")
        for line in bot.stream.getvalue().splitlines()
        if line.startswith("saved: ")
    ]
    assert len(saved) == 2 and saved[0] != saved[1]
    assert Path(saved[0]).read_bytes() == b"\x89PNG fake"
    assert Path(saved[0]).parent == (tmp_path / "out").resolve()


async def test_reads_lines_until_end_of_input(bot: BotDriver) -> None:
    stream = io.StringIO()
    adapter = ConsoleAdapter(bot.app, user="ana", stream=stream)
    await adapter.run(io.StringIO("/help\n\n# a comment\n/nosuch\n"))
    out = stream.getvalue()
    assert "== classbot commands ==" in out
    assert "There is no /nosuch command." in out


def test_the_cli_answers_a_pipe_and_exits_zero(tmp_path: Path) -> None:
    env = {**os.environ, "CLASSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    env.pop("DISCORD_TOKEN", None)
    env.pop("SLACK_BOT_TOKEN", None)
    result = run_classbot(
        "run",
        input="/help\n/help help\n/nosuch\n",
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "== classbot commands ==" in result.stdout
    assert "Usage: /help [command]" in result.stdout
    assert "There is no /nosuch command." in result.stdout


def test_a_bad_setting_names_its_variable(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CLASSBOT_DEVICE": "gpu",
        "CLASSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    result = run_classbot(
        "console",
        input="",
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert "CLASSBOT_DEVICE" in result.stderr


async def test_words_typed_as_people_type_them(bot: BotDriver) -> None:
    # A number after cancel, a "#" as lists show ids, a sentence's full stop.
    lines = ("/jobs cancel 5", "/jobs cancel #5", "/jobs cancel id:#5", "/jobs cancel id:5.")
    for n, line in enumerate(lines):
        reply = await bot.run(line, user=f"s{n}")  # one student each: the class rate limit
        assert isinstance(reply, Error) and reply.what == "There is no job 5 here.", line
    word = await bot.run("/jobs cancel five", user="t1")
    assert isinstance(word, Error) and word.what == "five is not a job number."
    typo = await bot.run("/jobs cancle", user="t2")
    assert isinstance(typo, Error) and typo.what == "/jobs cancle is not something /jobs does."
    assert (await bot.text("/jobs.", user="t3")).startswith("You have no queued or running jobs.")
    # /help about a command, whatever follows its name.
    for line in ("/help run task:x", "/help share job:1", "/help search."):
        assert "Usage: /" in await bot.text(line, user="t4"), line


async def test_the_console_reads_instructors_from_the_settings(
    tmp_path: Path, clock: FakeClock
) -> None:
    # CLASSBOT_INSTRUCTORS names console users as it names Slack and Discord ids.
    settings = settings_for_tests(tmp_path, instructors=["teacher"])
    async with running_bot(settings, clock) as driver:
        assert driver.adapter.actor("teacher").role is Role.INSTRUCTOR
        assert driver.adapter.actor("ana").role is Role.STUDENT
        posted = await driver.text(
            "/activity post title:Cards minutes:5 Read a card", user="teacher"
        )
        assert posted.startswith("== Activity #1"), posted


async def test_a_pasted_page_is_not_quoted_back_whole(bot: BotDriver) -> None:
    unknown = await bot.run("/" + "z" * 5000)
    assert isinstance(unknown, Error) and len(unknown.what) < 80
    bad = await bot.run("/search bert limit:" + "9" * 5000, user="ana")
    assert isinstance(bad, Error) and len(bad.what) < 100 and "…" in bad.what


async def test_help_marks_instructors_commands_and_says_whole_sentences(bot: BotDriver) -> None:
    group = await bot.run("/help activity")
    assert isinstance(group, Card)
    names = [f.name for f in group.fields]
    assert "/activity post (instructor)" in names and "/activity submit" in names
    search = await bot.run("/help search")
    assert isinstance(search, Card)
    guess = next(f for f in search.fields if f.name.startswith("/search guess [answer]"))
    # A docstring's first line may stop mid-sentence: the summary is the first sentence.
    assert (
        guess.value
        == "Guess what a top model does from its name: show or start this channel's round."
    )
