"""Console transcripts stay clean: stdout holds the answers, logs and warnings go elsewhere."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from bot.jobs import worker_config
from bot.jobs.protocol import JobEnv
from bot.jobs.worker import WorkerProcess
from bot.logs import WorkerLogging, for_workers, setup_logging
from tests.support.botdriver import BotDriver, settings_for_tests
from tests.support.cli import run_classbot

REPO = Path(__file__).resolve().parents[2]
LINES = ["/help search", "/activity list", "/serch gpt"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CLASSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'class.db'}",
        "CLASSBOT_OUT_DIR": str(tmp_path / "out"),
        "CLASSBOT_LOG_LEVEL": "DEBUG",
        **extra,
    }


async def _answers(bot: BotDriver) -> str:
    return "".join([await bot.text(line) + "\n" for line in LINES])


async def test_stdout_holds_only_the_answers_and_the_log_file_the_rest(
    tmp_path: Path, bot: BotDriver
) -> None:
    log_file = tmp_path / "logs" / "classbot.log"
    done = run_classbot(
        "console",
        env=_env(tmp_path, CLASSBOT_LOG_FILE=str(log_file)),
        cwd=tmp_path,
        input="\n".join(LINES) + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == await _answers(bot)
    logged = log_file.read_text(encoding="utf-8")
    assert "DEBUG bot.router: request" in logged  # the DEBUG lines went to the file
    assert done.stderr == ""


async def test_without_a_log_file_the_console_shows_no_chatter(
    tmp_path: Path, bot: BotDriver
) -> None:
    done = run_classbot("console", env=_env(tmp_path), cwd=tmp_path, input="\n".join(LINES) + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == await _answers(bot)
    assert "DEBUG" not in done.stderr and "INFO" not in done.stderr


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    logging.captureWarnings(False)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_library_warnings_go_to_the_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log_file = tmp_path / "classbot.log"
    setup_logging(settings_for_tests(tmp_path, log_file=log_file), console=True)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn_explicit(
            "`resume_download` is deprecated", FutureWarning, "lib/huggingface_hub/x.py", 1
        )
    logging.getLogger("bot.jobs").info("job 3 done")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    logged = log_file.read_text(encoding="utf-8")
    assert "WARNING py.warnings" in logged and "`resume_download` is deprecated" in logged
    assert "INFO bot.jobs: job 3 done" in logged


@pytest.mark.usefixtures("restore_logging")
def test_a_worker_logs_where_and_as_much_as_its_bot(tmp_path: Path) -> None:
    # Without a log file the console shows warnings only: a worker shares that screen, so
    # its INFO lines (a download's HTTP requests) must not land between a command and its
    # answer.
    quiet = settings_for_tests(tmp_path, log_level="INFO")
    setup_logging(quiet, console=True)
    assert for_workers() == WorkerLogging("WARNING", None)
    setup_logging(quiet, console=False)  # a server: stderr at the bot's level
    assert for_workers() == WorkerLogging("INFO", None)
    log_file = tmp_path / "classbot.log"
    setup_logging(settings_for_tests(tmp_path, log_file=log_file, log_level="INFO"), console=True)
    env = cast(JobEnv, SimpleNamespace(settings=quiet))
    config = dataclasses.replace(worker_config(env), progress_interval=0.02)
    assert (config.log_level, config.log_file) == ("INFO", str(log_file))

    # A batch the worker cannot run is logged by the worker process, into the bot's file.
    done = threading.Event()
    worker = WorkerProcess(config)
    worker.attach(lambda _link, message: done.set() if message["op"] == "batch_done" else None)
    worker.start()
    try:
        assert worker.ready.wait(60), "the worker did not start"
        worker.send({"op": "run", "batch": "b1", "kind": "no-such-kind", "jobs": []})
        assert done.wait(30), "the worker did not finish the batch"
    finally:
        worker.stop()
    logged = log_file.read_text(encoding="utf-8")
    assert "ERROR worker bot.jobs.tasks: batch b1 (no-such-kind) failed" in logged
