"""/help and the model pages say where models run on a hosted backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.replies import Card, as_plain_text
from tests.hosted.conftest import hosted_settings
from tests.jobs.support import JobBot
from tests.support.botdriver import FakeClock, running_bot, settings_for_tests
from tests.support.hub_stub import HubStub
from tests.support.providers_stub import ProvidersStub


async def test_help_says_models_run_on_inference_providers(hosted_bot: JobBot) -> None:
    reply = await hosted_bot.run("/help")
    assert isinstance(reply, Card)
    assert "Models for /run, /generate and /imagine run on Hugging Face Inference Providers" in (
        reply.description or ""
    )


async def test_the_model_page_names_the_provider(hosted_bot: JobBot) -> None:
    reply = await hosted_bot.run("/search model:classbot-test/chat-tiny")
    assert isinstance(reply, Card), as_plain_text(reply)
    assert reply.footer == (
        "Try it: /generate model:classbot-test/chat-tiny "
        "(it runs on Hugging Face Inference Providers (together))"
    )
    unserved = await hosted_bot.run("/search model:classbot-test/unserved")
    assert isinstance(unserved, Card)
    assert "not served by any Inference Provider" in (unserved.footer or "")


# A model too big for this machine that an Inference Provider serves.
BIG = "classbot-test/sentiment-big"
BIG_RECORD = {
    "_id": "hostedbig000000000000000",
    "id": BIG,
    "modelId": BIG,
    "sha": "2" * 40,
    "pipeline_tag": "text-classification",
    "library_name": "transformers",
    "tags": ["transformers", "safetensors", "text-classification"],
    "siblings": [{"rfilename": "model.safetensors"}],
    "safetensors": {"parameters": {"BF16": 7_000_000_000}, "total": 7_000_000_000},
    "private": False,
    "disabled": False,
    "gated": False,
    "downloads": 0,
    "likes": 0,
    "inferenceProviderMapping": {
        "hf-inference": {"status": "live", "providerId": BIG, "task": "text-classification"}
    },
}


@pytest.fixture
def big_model(hub_stub: HubStub, providers: ProvidersStub) -> Iterator[str]:
    records = hub_stub.data.models.records
    records[BIG] = BIG_RECORD
    try:
        yield BIG
    finally:
        records.pop(BIG, None)


async def test_a_local_bot_with_a_token_names_the_provider_of_a_model_it_refuses(
    tmp_path: Path, clock: FakeClock, providers: ProvidersStub, big_model: str
) -> None:
    settings = hosted_settings(tmp_path, providers, backend="local", max_model_params=10**9)
    async with running_bot(settings, clock) as bot:
        page = await bot.run(f"/search model:{big_model}")
        assert isinstance(page, Card) and page.footer is not None
        refused, served, link = page.footer.splitlines()
        assert refused.startswith(f"/run can't run it here: {big_model} has 7B parameters")
        assert served == "It runs on hosted inference (Inference Provider: hf-inference)."
        assert link == f"Try it on https://huggingface.co/{big_model}"
        # No provider serves it: nothing said about hosted inference.
        unserved = await bot.run("/search model:classbot-test/unserved")
        assert isinstance(unserved, Card) and "hosted" not in (unserved.footer or "")
    # Without a token the page asks no provider and says nothing of them.
    plain = settings_for_tests(tmp_path / "plain", backend="local", max_model_params=10**9)
    (tmp_path / "plain").mkdir()
    async with running_bot(plain, clock) as bot:
        page = await bot.run(f"/search model:{big_model}")
        assert isinstance(page, Card) and page.footer is not None
        assert "hosted" not in page.footer and "limit here is 1B" in page.footer
