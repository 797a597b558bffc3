"""Nothing acknowledged is lost: the real `classbot slack --http` is killed (SIGKILL) or
stopped (SIGTERM) 0.5 s after a burst of 40 acknowledged /activity submit commands; after
a restart every answer is saved, each once, and every student was told so."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.crash.bot_process import TEACHER, SlackBot
from tests.slack.webapi_stub import SlackStub

STUDENTS = [f"U0S{n:03d}" for n in range(40)]
# Slack's Web API answers slowly (users.info under its rate limit): the work after each ack
# outlasts the 0.5 s before the stop, as it did on a busy machine, on any machine.
SLOW_SLACK_S = 1.0


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[SlackBot]:
    users = {u: {"id": u, "name": u.lower()} for u in [*STUDENTS, TEACHER]}
    stub = await SlackStub(users=users, delay=SLOW_SLACK_S).start()
    bot = SlackBot(tmp_path, stub)
    try:
        yield bot
    finally:
        if bot.process is not None and bot.process.poll() is None:
            bot.process.kill()
            bot.process.wait(10)
        await stub.close()


def answer_of(student: str) -> str:
    return f"answer from {student}: the card names the license"


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
async def test_a_burst_of_40_acknowledged_answers_survives_a_stop_half_a_second_later(
    bot: SlackBot, signum: signal.Signals
) -> None:
    await bot.start()
    async with aiohttp.ClientSession() as http:
        posted = bot.body(TEACHER, "activity post title:Cards minutes:30 What does a card say?")
        assert await bot.send(http, posted) == 200
        assert await bot.until("SELECT count(*) FROM activities", 1) == 1
        bodies = [bot.body(s, f"activity submit id:1 {answer_of(s)}") for s in STUDENTS]
        statuses = await asyncio.gather(*(bot.send(http, body) for body in bodies))
    assert statuses == [200] * len(STUDENTS)  # each one acknowledged

    await asyncio.sleep(0.5)
    bot.signal(signum)
    code = await bot.wait()
    unfinished = bot.query("SELECT count(*) FROM inbox WHERE done_at IS NULL")[0][0]
    if signum == signal.SIGTERM:
        assert code == 0, bot.log()  # a graceful stop, not a death by signal
        assert unfinished == 0  # the commands in flight finished before it exited
    else:
        assert unfinished == len(STUDENTS)  # killed before any ran: the restart runs them

    await bot.start()
    saved = await bot.until("SELECT count(*) FROM submissions", len(STUDENTS))
    assert saved == len(STUDENTS), bot.log()
    assert await bot.until("SELECT count(*) FROM inbox WHERE done_at IS NULL", 0) == 0
    bot.signal(signal.SIGTERM)
    assert await bot.wait() == 0, bot.log()

    # Each answer once: one submission per student, each in its first and only version.
    rows = bot.query(
        "SELECT u.external_id, s.answer, s.version FROM submissions s "
        "JOIN users u ON u.id = s.user_id WHERE s.activity_id = 1"
    )
    assert sorted(rows) == sorted((s, answer_of(s), 1) for s in STUDENTS)
    assert bot.query("SELECT count(*) FROM submission_versions")[0][0] == len(STUDENTS)
    assert bot.query("SELECT count(*) FROM inbox WHERE command = 'activity submit'") == [
        (len(STUDENTS),)
    ]

    # Every student was told their answer is saved; "Saved" (the first version) at most once.
    told: Counter[str] = Counter()
    saved_told: Counter[str] = Counter()
    for respond in bot.stub.responds:
        student = bot.response_urls.get(respond.url_id)
        text = str(respond.body)
        if student in STUDENTS and "answer to #1" in text:
            told[student] += 1
            saved_told[student] += "Saved your answer" in text
    posted_to_chat = " ".join(str(c.params) for c in bot.stub.of("chat.postEphemeral"))
    for student in STUDENTS:
        assert told[student] >= 1 or student in posted_to_chat, student
        assert saved_told[student] <= 1, student
