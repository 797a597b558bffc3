"""Which backend runs the jobs, and the client a hosted backend calls.

`auto` is decided once, at start: local workers when a GPU is present, else Inference
Providers when HF_TOKEN is set, else the OpenAI-compatible server when its URL is set, else
local workers on the CPU (with one warning). Clients are made per call: a streamed answer
stays attached to its client until the client closes, so a long-lived client would keep
every stream it ever read. They share one connection pool (`http`): a pool per call would
pay for a new TLS context and connection on every job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

import httpx2
from huggingface_hub import AsyncInferenceClient, constants
from huggingface_hub.inference._providers import PROVIDERS
from huggingface_hub.inference._providers._common import AutoRouterConversationalTask
from huggingface_hub.utils._http import get_async_session

from bot.config import Settings
from bot.inference.devices import accelerator
from bot.inference.hosted.providers import Route

log = logging.getLogger(__name__)

BackendName = Literal["local", "hf", "openai"]
HostedName = Literal["hf", "openai"]
DEFAULT_ROUTER = "https://router.huggingface.co"
# The OpenAI-compatible route asks no provider mapping: the server serves what it lists.
OPENAI_ROUTE = Route("openai", "conversational")
# Without a key the client would fall back to the machine's HF token, and send it to a server
# that is not Hugging Face's; vLLM and friends take any key when they ask for none.
_NO_KEY = "EMPTY"
# A response closed before its body's end first reads the rest, at most this far and this
# long, so that its connection goes back to the pool (see _ReturnsConnections). A stream's
# last bytes follow its "[DONE]" at once. A cancelled job's read ends with the cancel, which
# ends the stream beneath too: nothing is read then, and the request is dropped at once.
_DRAIN_BYTES = 64 * 1024
_DRAIN_SECONDS = 0.1


def choose_backend(settings: Settings) -> BackendName:
    """The backend the settings ask for, with `auto` decided (warns once when it falls back
    to the CPU)."""
    if settings.backend != "auto":
        return settings.backend
    if accelerator(settings.device) != "cpu":
        return "local"
    if settings.hf_token is not None:
        return "hf"
    if settings.openai_base_url:
        return "openai"
    log.warning(
        "No GPU here, and neither HF_TOKEN nor CLASSBOT_OPENAI_BASE_URL is set: models run on "
        "this machine's CPU (small models only, one batch at a time). Set HF_TOKEN to run "
        "them on Hugging Face Inference Providers instead."
    )
    return "local"


def point_router(base: str) -> None:
    """Send Inference Providers calls to `base` (the official router, or a stand-in).

    huggingface_hub reads `INFERENCE_PROXY_TEMPLATE` at each call, except in hf-inference's
    helpers, which keep the URL they were built with, and in its auto-router (a chat
    completion for `model:provider` at the router's own `/v1/chat/completions`), whose URL is
    fixed in its class. 2.4 takes the auto-router for provider "auto" only, which the bot
    never asks; 2.5 takes it for every named provider's chat completion (hf-inference's
    aside) with an hf_ token: most of /generate."""
    # No setting or constant moves the auto-router (2.5), so its URL method is replaced.
    AutoRouterConversationalTask._prepare_base_url = _auto_router_base  # type: ignore[method-assign]
    template = base.rstrip("/") + "/{provider}"
    if template == constants.INFERENCE_PROXY_TEMPLATE:
        return
    constants.INFERENCE_PROXY_TEMPLATE = template
    for helper in PROVIDERS["hf-inference"].values():
        helper.base_url = template.format(provider="hf-inference")


# huggingface_hub's own, which refuses a key that is not a Hugging Face token.
_FIXED_AUTO_ROUTER_BASE = AutoRouterConversationalTask._prepare_base_url


def _auto_router_base(self: AutoRouterConversationalTask, api_key: str) -> str:
    """The auto-router's URL: the root of `INFERENCE_PROXY_TEMPLATE`, read at each call as
    for the per-provider routes (the official router's root unless point_router moved it)."""
    _FIXED_AUTO_ROUTER_BASE(self, api_key)
    return constants.INFERENCE_PROXY_TEMPLATE.format(provider="").rstrip("/")


@dataclass
class HostedBackend:
    """A hosted backend's settings, its secrets and its bound on calls in flight."""

    name: HostedName
    settings: Settings
    _slots: asyncio.Semaphore | None = field(default=None, init=False)
    _http: httpx2.AsyncClient | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.name == "hf":
            point_router(self.settings.inference_url)

    @property
    def slots(self) -> asyncio.Semaphore:
        # Made on first use, inside the running loop.
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.settings.hosted_concurrency)
        return self._slots

    @property
    def http(self) -> httpx2.AsyncClient:
        """The connection pool every call of this backend shares."""
        if self._http is None:
            self._http = _returning_connections(get_async_session())
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def secrets(self) -> list[str]:
        s = self.settings
        return [t.get_secret_value() for t in (s.hf_token, s.openai_api_key) if t is not None]

    def where(self, route: Route | None = None) -> str:
        """How replies name the place a model runs."""
        if self.name == "openai":
            return "the model server"
        if route is None or self.settings.hf_provider != "auto":
            provider = self.settings.hf_provider
        else:
            provider = route.provider
        return f"Inference Providers ({provider})"

    def client(self, route: Route) -> AsyncInferenceClient:
        client = self._client(route)
        # Closing the call's client then closes its streams, not the shared pool (the client
        # only closes a pool it made itself).
        client._async_client = self.http
        return client

    def _client(self, route: Route) -> AsyncInferenceClient:
        s = self.settings
        timeout = s.hosted_timeout_seconds
        if self.name == "openai":
            key = s.openai_api_key.get_secret_value() if s.openai_api_key else _NO_KEY
            return AsyncInferenceClient(
                base_url=s.openai_base_url.rstrip("/"), api_key=key, timeout=timeout
            )
        token = s.hf_token.get_secret_value() if s.hf_token else None
        return AsyncInferenceClient(
            provider=route.provider,  # type: ignore[arg-type]  # a name from the Hub's mapping
            api_key=token,
            bill_to=s.hf_bill_to or None,
            timeout=timeout,
        )


def _returning_connections(client: httpx2.AsyncClient) -> httpx2.AsyncClient:
    """huggingface_hub's client (its hooks and settings), its transports wrapped so that a
    response closed early still gives its connection back."""
    # httpx takes transports only when a client is made; huggingface_hub makes this one.
    client._transport = _ReturnsConnections(client._transport)
    client._mounts = {
        pattern: _ReturnsConnections(transport) if transport is not None else None
        for pattern, transport in client._mounts.items()
    }
    return client


class _ReturnsConnections(httpx2.AsyncBaseTransport):
    """A transport whose responses read what is left of their body before they close.

    huggingface_hub stops reading a stream at "data: [DONE]", before the body's last bytes,
    and the generators it abandons there close the response whenever they are collected.
    A response closed unread loses its connection: every streamed job would open a new one
    (a TLS handshake with the providers' router)."""

    def __init__(self, transport: httpx2.AsyncBaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._transport.handle_async_request(request)
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        response.stream = _DrainedOnClose(response.stream)
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()


class _DrainedOnClose(httpx2.AsyncByteStream):
    def __init__(self, stream: httpx2.AsyncByteStream) -> None:
        self._stream = stream
        self._parts: AsyncIterator[bytes] | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._parts is None:
            self._parts = aiter(self._stream)
        # Not `async for`: a reader that stops early closes this generator, and that must
        # not close the one beneath, which aclose() reads to its end.
        while True:
            try:
                part = await anext(self._parts)
            except StopAsyncIteration:
                return
            yield part

    async def aclose(self) -> None:
        parts = self._parts if self._parts is not None else aiter(self._stream)
        left = _DRAIN_BYTES
        try:
            # Any trouble (a timeout, a dropped connection, the end): the connection is
            # returned when the body ended, and closed otherwise.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_DRAIN_SECONDS):
                    while left > 0:
                        left -= len(await anext(parts))
        finally:
            await self._stream.aclose()
