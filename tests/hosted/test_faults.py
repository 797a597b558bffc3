"""Provider faults become plain replies, and the token never shows (replies or logs)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx2
import pytest

from bot.inference.hosted.faults import retry_after_of
from bot.replies import Card, Error, Progress, as_plain_text
from tests.hosted.conftest import TOKEN, hosted_job_bot
from tests.jobs.support import JobBot
from tests.support.hub_stub import HubStub
from tests.support.providers_stub import ProvidersStub

CHAT = "/together/v1/chat/completions"


async def _final_text(bot: JobBot, line: str) -> str:
    job = await bot.generate(line)
    await bot.idle(15)
    return as_plain_text(bot.outbox.final(job))


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (401, {}, json.dumps({"error": f"Invalid token {TOKEN}"}), "refused the bot's token (401)"),
        (402, {}, "{}", "credits for hosted models are used up (402)"),
        (404, {}, "{}", "does not serve classbot-test/chat-tiny (404)"),
        (429, {"Retry-After": "60"}, "{}", "rate limiting this class (429).\nTry again in 60 s"),
        (503, {}, json.dumps({"estimated_time": 42.0}), "is loading on Inference Providers"),
    ],
)
async def test_each_fault_gets_its_reply_and_no_token(
    hosted_bot: JobBot,
    providers: ProvidersStub,
    caplog: pytest.LogCaptureFixture,
    status: int,
    headers: dict[str, str],
    body: str,
    expected: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    providers.fail(CHAT, status, headers=headers, body=body.encode())
    text = await _final_text(hosted_bot, '/generate prompt:"Hi" max_new_tokens:3')
    assert expected in text
    if status == 503:
        assert "about 42 s" in text
    assert "Something went wrong" not in text
    assert TOKEN not in text
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
    assert all(TOKEN not in t for t in hosted_bot.outbox.texts())


@pytest.mark.parametrize(
    ("status", "body", "what", "todo"),
    [
        (
            402,
            "{}",
            "Inference Providers (together): this class's credits for hosted models are used"
            " up (402).",
            "Ask your instructor: they can add credits or bill another organisation.",
        ),
        (
            403,
            json.dumps({"error": "Access to model classbot-test/chat-tiny is restricted."}),
            "classbot-test/chat-tiny is gated: its authors must grant the bot's account access"
            " (403).",
            "Ask your instructor to accept its terms on the model's Hub page with the bot's"
            " account, or pick another model.",
        ),
        (
            # A text-generation server's own error (error_type): an answer, not "unreachable".
            422,
            json.dumps({"error": "Input validation error: inputs too long", "error_type": "x"}),
            "Inference Providers (together) refused the request for classbot-test/chat-tiny"
            " (422): “Input validation error: inputs too long”.",
            "Change what you sent (shorter input, or the default settings), or pick another model.",
        ),
    ],
)
async def test_a_fault_says_what_to_do_about_it_and_only_that(
    hosted_bot: JobBot, providers: ProvidersStub, status: int, body: str, what: str, todo: str
) -> None:
    providers.fail(CHAT, status, body=body.encode())
    job = await hosted_bot.generate('/generate prompt:"Hi" max_new_tokens:3')
    await hosted_bot.idle(15)
    reply = hosted_bot.outbox.final(job)
    assert isinstance(reply, Error), as_plain_text(reply)
    assert (reply.what, reply.todo) == (what, todo)  # not "Try again; if it keeps failing…"


async def test_a_short_retry_after_is_waited_out_in_view(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    providers.fail(CHAT, 429, headers={"Retry-After": "1"})
    job = await hosted_bot.generate('/generate prompt:"Hi" max_new_tokens:3')
    await hosted_bot.idle(15)
    assert isinstance(hosted_bot.outbox.final(job), Card)
    waits = [
        r.label
        for r in hosted_bot.outbox.for_job(job)
        if isinstance(r, Progress) and "wait 1 s" in r.label
    ]
    assert waits, hosted_bot.outbox.texts()
    assert len(providers.requests(CHAT)) == 2


async def test_a_timeout_is_a_plain_reply(tmp_path: Path, providers: ProvidersStub) -> None:
    providers.fail(CHAT, 200, delay=3.0)
    async with hosted_job_bot(tmp_path, providers, hosted_timeout_seconds=0.5) as bot:
        text = await _final_text(bot, '/generate prompt:"Hi" max_new_tokens:3')
    assert "did not answer within 0.5 s" in text


async def test_garbage_is_a_plain_reply(hosted_bot: JobBot, providers: ProvidersStub) -> None:
    providers.fail("/hf-inference/models/classbot-test/draw-tiny", 200, body=b"not an image")
    text = await _final_text(hosted_bot, '/imagine prompt:"a fox" seed:1')
    assert "sent back an answer I could not read" in text


async def test_a_hub_fault_while_finding_the_provider_is_a_plain_reply(
    hosted_bot: JobBot, providers: ProvidersStub, fresh_hub_stub: HubStub
) -> None:
    model = "classbot-test/chat-flaky"
    await hosted_bot.driver.app.services.guard.check(model)  # the guard's answer is cached
    fresh_hub_stub.inject(f"/api/models/{model}", status=500, times=10)
    text = await _final_text(hosted_bot, f'/generate prompt:"Hi" model:{model}')
    assert "answered with an error (500)" in text
    assert "Something went wrong" not in text
    assert providers.requests() == []


def test_retry_after_as_seconds_or_as_an_http_date() -> None:
    soon = datetime.now(UTC) + timedelta(seconds=90)
    assert retry_after_of(httpx2.Headers({"Retry-After": "30"})) == 30.0
    dated = retry_after_of(httpx2.Headers({"Retry-After": format_datetime(soon, usegmt=True)}))
    assert dated is not None and 80 <= dated <= 90
    assert retry_after_of(httpx2.Headers({"Retry-After": "soon"})) is None
