"""A sick Hub fails fast for everybody: a whole class against a hanging Hub, the circuit
breaker, and cached answers served at once. The real bot against the Hub stand-in."""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from bot.hub import faults
from bot.hub.errors import HubUnavailable
from bot.inference.guard import ModelGuard
from bot.logs import Occasional
from bot.replies import Error, as_plain_text
from tests.support.botdriver import BotDriver, FakeClock, running_bot, settings_for_tests
from tests.support.hub_stub import HubStub, point_huggingface_hub_at, restore_hf

STUDENTS = 60


async def timed(bot: BotDriver, line: str, user: str = "student") -> tuple[float, str, object]:
    started = time.perf_counter()
    reply = await bot.run(line, user=user)
    return time.perf_counter() - started, as_plain_text(reply), reply


def tiny_local_model(folder: Path) -> Path:
    """A causal LM folder the guard accepts (config + a safetensors header), no torch."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"]}))
    header = json.dumps({"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}})
    (folder / "model.safetensors").write_bytes(
        struct.pack("<Q", len(header)) + header.encode() + bytes(64)
    )
    return folder


@pytest.fixture
async def class_bot(
    tmp_path: Path, clock: FakeClock, fresh_hub_stub: HubStub, request: pytest.FixtureRequest
) -> AsyncIterator[BotDriver]:
    saved = point_huggingface_hub_at(fresh_hub_stub.url)
    settings = settings_for_tests(
        tmp_path,
        datasets_server_url=fresh_hub_stub.viewer_url,
        hub_timeout_seconds=getattr(request, "param", 10.0),
        rate_limit_per_minute=10_000,
        rate_limit_burst=10_000,
    )
    try:
        async with running_bot(settings, clock) as driver:
            yield driver
    finally:
        fresh_hub_stub.reset()  # lets the hanging answers go
        restore_hf(saved)


def lines(count: int) -> list[str]:
    """Different questions (nothing to coalesce), across the commands that read the Hub."""
    kinds = [
        "/search word{i}",
        "/search model:class/model-{i}",
        "/dataset id:class/data-{i}",
        "/dataset topic{i}",
        "/generate prompt:Hello model:class/model-{i}",
    ]
    return [kinds[i % len(kinds)].format(i=i) for i in range(count)]


async def test_sixty_students_against_a_hanging_hub_are_all_answered_within_12_s(
    class_bot: BotDriver, fresh_hub_stub: HubStub, tmp_path: Path
) -> None:
    fresh_hub_stub.inject("/", mode="hang", times=100_000)
    students = [
        asyncio.ensure_future(timed(class_bot, line, user=f"student{i}"))
        for i, line in enumerate(lines(STUDENTS))
    ]
    await asyncio.sleep(0.5)  # all of them are waiting on the Hub now
    # Vetting the class's local default model does not queue behind them.
    local = tiny_local_model(tmp_path / "local-model")
    settings = class_bot.app.services.settings.model_copy(update={"text_model": str(local)})
    guard = ModelGuard(settings, class_bot.app.services.hub)
    started = time.perf_counter()
    assert (await guard.check(str(local))).source == "local"
    assert time.perf_counter() - started < 1.0

    results = await asyncio.gather(*students)
    slowest = max(seconds for seconds, _, _ in results)
    assert slowest < 12, f"the slowest student waited {slowest:.1f} s"
    for _, text, reply in results:
        assert isinstance(reply, Error) and "Something went wrong" not in text, text
        assert "did not answer in time" in text or "not asking it" in text, text
    # Only the first ones waited on the Hub; the breaker is open now: the next ones fail fast.
    seconds, text, _ = await timed(class_bot, "/search something else")
    assert seconds < 0.5 and "not asking it" in text, text


@pytest.mark.parametrize("class_bot", [1.0], indirect=True)
async def test_cached_answers_are_served_at_once_when_the_hub_is_sick(
    class_bot: BotDriver, fresh_hub_stub: HubStub, clock: FakeClock
) -> None:
    fresh = await class_bot.run("/search model:gpt2")
    assert not isinstance(fresh, Error)
    await class_bot.run("/dataset imdb")
    clock.advance(minutes=20)  # both answers expired (hub_cache_seconds is 300)
    fresh_hub_stub.inject("/", mode="hang", times=100_000)

    # The breaker is still closed: an expired answer is served after a short wait (1 s for
    # each of the two calls behind /search model:), not after the whole timeout.
    seconds, text, reply = await timed(class_bot, "/search model:gpt2")
    assert "(cached 20 min ago — the Hub is not answering)" in text
    assert seconds < 2.8 and not isinstance(reply, Error)

    # Five different questions time out together: the breaker opens.
    await asyncio.gather(*(class_bot.run(f"/search topic{i}") for i in range(5)))
    for line in ("/search model:gpt2", "/dataset imdb"):
        seconds, text, reply = await timed(class_bot, line)
        assert seconds < 0.5 and not isinstance(reply, Error), text
        assert "(cached 20 min ago — the Hub is not answering)" in text
    seconds, text, reply = await timed(class_bot, "/dataset id:never/asked")
    assert seconds < 0.5 and isinstance(reply, Error)
    assert "not asking it" in text and "Try again in" in reply.todo


def test_an_unreachable_hub_is_explained_once_in_the_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(faults, "_UNREACHABLE", Occasional(faults.log))
    with caplog.at_level(logging.WARNING, logger="bot.hub.faults"):
        for _ in range(3):  # three students, one after another
            fault = faults.hub_fault(httpx2.ConnectError("[Errno -3] name resolution failed"))
            assert isinstance(fault, HubUnavailable)
    (said,) = [r.getMessage() for r in caplog.records]
    assert "does not answer (ConnectError: [Errno -3] name resolution failed)" in said
    assert "proxy (HTTPS_PROXY)" in said and "HF_ENDPOINT" in said
