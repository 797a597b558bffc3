"""Every Hub fault × every command that touches the Hub: each a plain reply that says what
happened, never "Something went wrong". The real bot (router, commands, HubClient, model
guard, huggingface_hub and httpx) against the Hub stand-in serving the fault over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.hub.client import HubClient
from bot.inference.guard import ModelGuard
from bot.replies import Error, as_plain_text
from tests.support.botdriver import BotDriver, FakeClock, running_bot, settings_for_tests
from tests.support.hub_stub import HubStub, closed_url, point_huggingface_hub_at, restore_hf

COMMANDS = {
    "search list": "/search gpt neo",
    "search model": "/search model:gpt2",
    "search guess": "/search guess",
    "dataset list": "/dataset imdb",
    "dataset id": "/dataset id:imdb",
    "dataset preview": "/dataset id:imdb preview:true",
    "generate vetting": "/generate prompt:Hello",  # the class's default model, on the Hub
    "imagine vetting": '/imagine prompt:"a red fox"',
}


@dataclass(frozen=True)
class Fault:
    inject: dict[str, Any]  # HubStub.inject arguments; {} with unreachable
    words: str  # what every reply must say
    unreachable: bool = False
    token: str | None = None


FAULTS = {
    "unreachable": Fault({}, "I could not reach the Hugging Face Hub", unreachable=True),
    "30 s slow": Fault({"delay": 30.0}, "did not answer in time"),
    "hang": Fault({"mode": "hang"}, "did not answer in time"),
    "500": Fault({"status": 500}, "had a problem (error 500)"),
    "503": Fault({"status": 503}, "had a problem (error 503)"),
    "429 Retry-After": Fault({"retry_after": 45}, "Try again in 45 s"),
    "401 revoked token": Fault(
        {"status": 401}, "refused this bot's access token (HF_TOKEN)", token="hf_revoked"
    ),
    "garbage": Fault({"garbage": True}, "sent an answer I could not read"),
    "html": Fault({"mode": "html"}, "sent an answer I could not read"),
    "truncated": Fault({"mode": "truncated"}, "sent an answer I could not read"),
    "redirect loop": Fault({"mode": "redirect-loop"}, "sent an answer I could not read"),
}


@pytest.fixture(params=list(FAULTS), ids=list(FAULTS))
def fault(request: pytest.FixtureRequest) -> Fault:
    return FAULTS[str(request.param)]


@pytest.fixture
async def sick_bot(
    tmp_path: Path, clock: FakeClock, fresh_hub_stub: HubStub, fault: Fault
) -> AsyncIterator[tuple[BotDriver, str]]:
    """The bot, and the Hub URL it reaches (a closed port when unreachable)."""
    url = closed_url() if fault.unreachable else fresh_hub_stub.url
    viewer = f"{url}/datasets-server"
    saved = point_huggingface_hub_at(url)
    values: dict[str, Any] = {"HF_TOKEN": fault.token} if fault.token else {}
    settings = settings_for_tests(
        tmp_path,
        datasets_server_url=viewer,
        hub_timeout_seconds=1,  # the slow and hanging cases wait this long
        rate_limit_per_minute=10_000,
        rate_limit_burst=10_000,
        **values,
    )
    try:
        async with running_bot(settings, clock) as driver:
            yield driver, url
    finally:
        fresh_hub_stub.reset()  # lets hanging answers go
        restore_hf(saved)


async def test_every_command_answers_every_hub_fault_plainly(
    sick_bot: tuple[BotDriver, str], fresh_hub_stub: HubStub, fault: Fault
) -> None:
    bot, url = sick_bot
    services = bot.app.services
    if fault.inject:
        fresh_hub_stub.inject("/", times=100_000, **fault.inject)
    for name, line in COMMANDS.items():
        # Each command meets the fault with a fresh client (no answer cached, breaker
        # closed) shared by the guard, as create_app wires them.
        old = services.hub
        hub = HubClient(services.settings, clock=services.clock, endpoint=url)
        services.hub, services.guard = hub, ModelGuard(services.settings, hub)
        if old is not None:
            await old.aclose()
        reply = await bot.run(line)
        text = as_plain_text(reply)
        assert isinstance(reply, Error), f"{name}: {text}"
        assert "Something went wrong" not in text, f"{name}: {text}"
        assert fault.words in text, f"{name}: {text}"
        assert reply.todo, f"{name}: says what to do"
