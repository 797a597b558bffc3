"""The console: a line read is as good as acknowledged. A durable line saved before a crash
runs on the next start; SIGTERM stops `classbot console` gracefully even while it waits for
input."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.store.models import InboxEntry, Submission
from tests.crash.bot_process import ROOT
from tests.support.botdriver import running_bot, settings_for_tests


class Crash(BaseException):
    """The process dies here (nothing after it runs, not even `except Exception`)."""


async def test_a_line_saved_before_a_crash_runs_on_the_next_start(tmp_path: Path) -> None:
    settings = settings_for_tests(tmp_path)
    async with running_bot(settings) as bot:
        await bot.run("/activity post title:Cards minutes:30 What is in a card?", role="instructor")
        adapter = bot.adapter
        handle = adapter.handle

        async def crash(line: str, **who: object) -> list[object]:
            if "submit" in line:
                raise Crash  # after the line was read (and saved), before it ran
            return await handle(line, **who)  # type: ignore[arg-type]

        adapter.handle = crash  # type: ignore[method-assign,assignment]
        with pytest.raises(Crash):
            await adapter.run(io.StringIO("/help\n/activity submit id:1 saved before the crash\n"))
        async with bot.app.services.store.session() as session:
            assert list(await session.scalars(select(Submission))) == []
            (entry,) = await session.scalars(select(InboxEntry))  # /help is not saved
        assert entry.command == "activity submit" and entry.request_id.endswith(":2")

    async with running_bot(settings) as bot:
        bot.adapter.user = "ben"  # another person's console on the same database
        assert await bot.adapter.replay_saved() == 0
        bot.adapter.user = "student"
        await bot.adapter.run(io.StringIO(""))
        assert "Saved your answer to #1 Cards" in bot.stream.getvalue()
        async with bot.app.services.store.session() as session:
            (saved,) = await session.scalars(select(Submission))
        assert saved.answer == "saved before the crash"
        await bot.app.services.store.close()
        assert await bot.adapter.inbox.pending("console") == []


def test_sigterm_stops_the_console_gracefully_while_it_waits_for_input(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLASSBOT_")},
        "PYTHONPATH": str(ROOT),
        "CLASSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'class.db'}",
        "CLASSBOT_OUT_DIR": str(tmp_path / "out"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "console", "--user", "teacher", "--role", "instructor"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write("/activity post title:Cards minutes:30 What is in a card?\n")
        process.stdin.flush()
        first = process.stdout.readline()
        assert "Activity #1: Cards" in first
        # stdin stays open: the console is blocked reading the next line.
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = process.wait(30)
        assert code == 0, process.stderr.read() if process.stderr else ""
        assert time.monotonic() - started < 15
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
