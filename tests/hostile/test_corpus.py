"""A hostile class finds no crack: every line of data/corpus.txt, typed by a student and by
an instructor, gets a reply that is not an internal error, fits Discord and Slack, pings no
one, and leaves a database that agrees with what the replies said."""

from __future__ import annotations

from pathlib import Path

from bot.declare import Option
from tests.hostile import corpus
from tests.hostile.conftest import class_bot_on
from tests.hostile.run import database_problems, run_corpus
from tests.support.botdriver import BotDriver, FakeClock
from tests.support.hub_stub import HubStub

LINES = corpus.read()


def _covers(option: Option, written: str) -> bool:
    return f" {option.name}:" in written


async def test_every_command_and_option_has_lines(class_bot: BotDriver) -> None:
    """A new command, verb, option or choice fails here until the corpus has a line for it."""
    router = class_bot.app.router
    by_path: dict[tuple[str, ...], list[str]] = {}
    for line in LINES:
        path = corpus.declared_path(router, line.written)
        if path is not None:
            by_path.setdefault(path, []).append(line.written)
    missing = []
    for path, command in corpus.runnable(router):
        lines = by_path.get(path, [])
        where = "/" + " ".join(path)
        if len(lines) < 3:
            missing.append(f"{where}: {len(lines)} lines")
        for option in command.options:
            if not any(_covers(option, written) for written in lines):
                missing.append(f"{where} {option.name}:")
            for choice in option.choices:
                # A free-text option's choice is typed as a word (/jobs cancel).
                typed = (f"{option.name}:{choice}", *([f" {choice}"] if option.rest else []))
                if not any(t in w.lower() for t in typed for w in lines):
                    missing.append(f"{where} {option.name}:{choice}")
    assert missing == [], "no corpus line for:\n" + "\n".join(missing)


def test_the_corpus_is_large_and_hostile() -> None:
    assert len(LINES) >= 300
    typed = "".join(line.typed for line in LINES)
    for kind in (
        "\x00",  # PostgreSQL refuses it in text
        "\ud800",  # a lone surrogate: no UTF-8 for it
        "\u202e",  # right-to-left override
        "\x1b",
        "\n",
        "a" * 10_000,
        "9223372036854775808",  # 2**63
        "1e400",
        "NaN",
        "-0",
        "etc/passwd",  # as a model, dataset or help path
        "C:\\",
        "@everyone",
        "<!channel>",
        "<@&",
        "DROP TABLE",
        '{"blocks"',
        "🤗",
    ):
        assert kind in typed, repr(kind)


async def test_the_corpus_finds_no_crack(
    class_bot: BotDriver, fresh_hub_stub: HubStub, tiny_model_dir: Path, tiny_image_model: Path
) -> None:
    outcome = await run_corpus(class_bot, LINES)
    problems = outcome.problems
    problems += await database_problems(class_bot, outcome, {tiny_model_dir, tiny_image_model})
    # Models are vetted from their Hub metadata: the bot itself downloads no model file
    # (the worker would, for an approved job); README.md is a model card that /search shows.
    problems += [
        f"downloaded {seen.path}"
        for seen in fresh_hub_stub.requests
        if "/resolve/" in seen.path
        and not seen.path.startswith("/datasets/")
        and not seen.path.endswith("/README.md")
    ]
    assert problems == [], f"{len(problems)} problems:\n" + "\n".join(problems[:80])
    # The corpus reached the commands: most lines are refused, some are served.
    assert outcome.errors < outcome.replies
    assert outcome.saved and outcome.jobs_told
    assert fresh_hub_stub.count("/api/models/") > 0  # the guard asked the Hub


async def test_a_sample_finds_no_crack_on_postgresql(
    postgres_url: str,
    tmp_path: Path,
    clock: FakeClock,
    fresh_hub_stub: HubStub,
    tiny_model_dir: Path,
    tiny_image_model: Path,
) -> None:
    """PostgreSQL refuses NUL in text and checks UTF-8 where SQLite stores what it gets."""
    sample = corpus.postgres_sample(LINES)
    assert 40 <= len(sample) <= 80
    models = (tiny_model_dir, tiny_image_model)
    async with class_bot_on(
        tmp_path, clock, fresh_hub_stub, models, database_url=postgres_url
    ) as bot:
        outcome = await run_corpus(bot, sample)
        problems = outcome.problems + await database_problems(bot, outcome, set(models))
    assert problems == [], f"{len(problems)} problems:\n" + "\n".join(problems[:80])
    assert outcome.saved
