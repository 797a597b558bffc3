"""CLASSBOT_INFERENCE_URL moves every Inference Providers call, the router's own chat route
included: huggingface_hub 2.5 sends a named provider's chat completion there (as
`model:provider`), 2.4 to the provider's route; both must reach the configured router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from huggingface_hub.inference._providers import CONVERSATIONAL_AUTO_ROUTER
from huggingface_hub.inference._providers._common import AutoRouterConversationalTask

from bot.inference.hosted.backend import HostedBackend
from bot.inference.hosted.providers import Route
from tests.hosted.conftest import TOKEN, hosted_settings
from tests.support.providers_stub import ProvidersStub

MODEL = "classbot-test/chat-tiny"
CHAT = [{"role": "user", "content": "Hi"}]
# How the stand-in saw a chat for MODEL on together: straight (2.4) or through the router's
# own route (2.5); either way the provider got its own id for the model.
WAYS = {("", ""), ("/v1/chat/completions", f"{MODEL}:together")}


@pytest.fixture
async def backend(tmp_path: Path, providers: ProvidersStub) -> AsyncIterator[HostedBackend]:
    hosted = HostedBackend("hf", hosted_settings(tmp_path, providers, hf_bill_to="my-school"))
    try:
        yield hosted
    finally:
        await hosted.aclose()


async def test_a_chat_completion_reaches_the_configured_router(
    backend: HostedBackend, providers: ProvidersStub
) -> None:
    async with backend.client(Route("together", "conversational")) as client:
        out = await client.chat_completion(CHAT, model=MODEL, max_tokens=4, temperature=0.0)
    assert out.choices[0].message.content == "the cat the cat"
    [seen] = providers.requests("/together/v1/chat/completions")
    assert seen.body["model"] == "tiny-chat"
    assert (seen.via, seen.via_model) in WAYS
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["x-hf-bill-to"] == "my-school"


async def test_a_streamed_chat_completion_reaches_the_configured_router(
    backend: HostedBackend, providers: ProvidersStub
) -> None:
    async with backend.client(Route("together", "conversational")) as client:
        stream = await client.chat_completion(CHAT, model=MODEL, max_tokens=3, stream=True)
        parts = [chunk.choices[0].delta.content async for chunk in stream]
    assert "".join(p or "" for p in parts) == "the cat the"
    [seen] = providers.requests("/together/v1/chat/completions")
    assert seen.body["stream"] is True and (seen.via, seen.via_model) in WAYS


async def test_the_auto_router_follows_the_inference_url(
    backend: HostedBackend, providers: ProvidersStub
) -> None:
    """The helper 2.5 makes per call, and the one both versions keep for provider "auto"."""
    for helper in (AutoRouterConversationalTask(), CONVERSATIONAL_AUTO_ROUTER):
        request = helper.prepare_request(
            inputs=CHAT, parameters={}, headers={}, model=f"{MODEL}:together", api_key=TOKEN
        )
        assert request.url == providers.url + "/v1/chat/completions"
        assert request.json is not None and request.json["model"] == f"{MODEL}:together"
        # Still huggingface_hub's rule: the router takes Hugging Face tokens only.
        with pytest.raises(ValueError, match="non-Hugging Face API key"):
            helper.prepare_request(
                inputs=CHAT, parameters={}, headers={}, model=MODEL, api_key="sk-provider"
            )


async def test_the_stand_ins_router_route(providers: ProvidersStub) -> None:
    """A model the provider does not serve for chat is refused; a bare name goes to the
    OpenAI-compatible server, which shares the path."""
    async with httpx2.AsyncClient(base_url=providers.url) as http:
        refused = await http.post(
            "/v1/chat/completions", json={"model": f"{MODEL}:groq", "messages": CHAT}
        )
        served = await http.post(
            "/v1/chat/completions", json={"model": "tiny-chat", "messages": CHAT, "max_tokens": 2}
        )
    assert refused.status_code == 400
    assert served.status_code == 200 and served.json()["model"] == "tiny-chat"
    assert [(s.path, s.via, s.via_model) for s in providers.requests()] == [
        ("/v1/chat/completions", "/v1/chat/completions", f"{MODEL}:groq"),
        ("/v1/chat/completions", "", ""),
    ]
