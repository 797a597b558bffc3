"""A local HTTP stand-in of the Hugging Face Hub API and the dataset viewer API.

It serves the recorded data in tests/data/hubdata (see hub_catalog.py) from a real HTTP
server on 127.0.0.1 (a free port) in a background thread, so the real `huggingface_hub`
client, httpx and aiohttp all run end to end against it, from sync and async tests.

    with HubStub() as hub:
        HfApi(endpoint=hub.url).model_info("gpt2")
        httpx.get(f"{hub.viewer_url}/first-rows", params={...})

Pointing huggingface_hub at it
------------------------------
huggingface_hub reads HF_ENDPOINT once, at import, into `constants.ENDPOINT` and
`constants.HUGGINGFACE_CO_URL_TEMPLATE`. `HfApi(endpoint=...)` takes an endpoint, but
`ModelCard.load` and `hf_hub_download(endpoint=None)` build their URL from
`constants.HUGGINGFACE_CO_URL_TEMPLATE`, so the environment alone is not enough once the
library is imported. Three ways, all used by tests/support/hub_fixtures.py:

1. `point_huggingface_hub_at(hub.url, cache_dir)` (what the `hub_stub` fixture does): sets
   HF_ENDPOINT, HF_HUB_DISABLE_TELEMETRY=1, HF_HUB_DISABLE_IMPLICIT_TOKEN=1, HF_HUB_CACHE
   and removes HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE (offline mode blocks 127.0.0.1 too),
   and, if huggingface_hub is already imported, patches the same values into
   `huggingface_hub.constants`. Import order then does not matter.
2. Explicit endpoints: `HfApi(endpoint=hub.url)`, `hf_hub_download(..., endpoint=hub.url)`.
3. Subprocesses (the job worker): they inherit the environment set by 1.

huggingface_hub 2.4 talks through `httpx2` (its own httpx fork): its errors derive from
`httpx2.HTTPError` (HfHubHTTPError included), not `httpx.HTTPError`.

The dataset viewer lives at `hub.viewer_url` (`{url}/datasets-server`). huggingface_hub
hard-codes `constants.DATASETS_SERVER_ENDPOINT`, so the bot takes that base from settings.

Test controls: `hub.count(prefix)`, `hub.requests`, `hub.inject(prefix, ...)` (delay,
status 500/503, 429 with Retry-After, 401 "Invalid credentials" (a revoked token), a garbage
body, or a `mode`: "hang", "html", "truncated", "redirect-loop"; for the next N matching
requests), `hub.reset()` (which also lets hanging and slow answers go: they end without
being counted). `closed_url()` is an address where nothing listens (an unreachable Hub).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.hub_api import HubRoutes, Response
from tests.support.hub_catalog import HUBDATA_DIR, HubData
from tests.support.hub_viewer import ViewerRoutes

__all__ = [
    "HUBDATA_DIR",
    "Fault",
    "HubStub",
    "SeenRequest",
    "closed_url",
    "hub_environment",
    "point_huggingface_hub_at",
    "restore_hf",
]

# Environment for a process that talks to the stand-in (set before importing huggingface_hub).
_UNSET = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def hub_environment(url: str, cache_dir: Path | str | None = None) -> dict[str, str]:
    env = {
        "HF_ENDPOINT": url,
        # Telemetry would add GET /api/agent-harnesses and /api/telemetry/* to the counts.
        "HF_HUB_DISABLE_TELEMETRY": "1",
        # A developer's saved token must not be sent, even to 127.0.0.1.
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    }
    if cache_dir is not None:
        env["HF_HUB_CACHE"] = str(cache_dir)
    return env


def point_huggingface_hub_at(url: str, cache_dir: Path | str | None = None) -> dict[str, Any]:
    """Point this process's huggingface_hub at `url`; return what to pass to restore_hf().

    Sets the environment (read at import) and, when huggingface_hub is already imported,
    its constants: ENDPOINT and HUGGINGFACE_CO_URL_TEMPLATE (ModelCard.load,
    hf_hub_download), HF_HUB_OFFLINE, HF_HUB_DISABLE_TELEMETRY,
    HF_HUB_DISABLE_IMPLICIT_TOKEN and HF_HUB_CACHE.
    """
    saved: dict[str, Any] = {"env": {}, "constants": {}}
    env = hub_environment(url, cache_dir)
    for key in (*env, *_UNSET):
        saved["env"][key] = os.environ.get(key)
    os.environ.update(env)
    for key in _UNSET:
        os.environ.pop(key, None)
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        values: dict[str, Any] = {
            "ENDPOINT": url,
            "HUGGINGFACE_CO_URL_TEMPLATE": url + "/{repo_id}/resolve/{revision}/{filename}",
            "HF_HUB_OFFLINE": False,
            "HF_HUB_DISABLE_TELEMETRY": True,
            "HF_HUB_DISABLE_IMPLICIT_TOKEN": True,
        }
        if cache_dir is not None:
            values["HF_HUB_CACHE"] = str(cache_dir)
        for key, value in values.items():
            saved["constants"][key] = getattr(constants, key)
            setattr(constants, key, value)
    return saved


def restore_hf(saved: dict[str, Any]) -> None:
    for key, value in saved["env"].items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        for key, value in saved["constants"].items():
            setattr(constants, key, value)


def closed_url() -> str:
    """http://127.0.0.1:PORT where nothing listens: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: str
    status: int


@dataclass
class Fault:
    prefix: str
    remaining: int
    status: int | None
    delay: float
    retry_after: int | None
    garbage: bool
    method: str | None
    mode: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.prefix) and (self.method is None or self.method == method)


_FAULT_BODIES = {
    429: {"error": "You have exceeded our hourly quotas for action: api. Retry later."},
    500: {"error": "Internal Error - We're working hard to fix this as soon as possible!"},
    503: {"error": "Service Unavailable"},
    401: {"error": "Invalid credentials in Authorization header"},
}
MODES = ("hang", "html", "truncated", "redirect-loop")
# How long a "hang" holds a request (reset() ends it sooner).
HANG_SECONDS = 3600.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, stub: HubStub, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.stub = stub

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout tests) closes the socket mid-answer: not a stub bug.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive, like the Hub: httpx pools connections across calls.
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet test output

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        parts = urlsplit(self.path)
        response = self.server.stub.handle(method, parts.path, parts.query)
        if response.status == 0:  # released from a hang by reset(): just hang up
            self.close_connection = True
            return
        self.send_response(response.status)
        # A truncated answer announces more bytes than it sends, then hangs up.
        length = len(response.body) * (2 if response.truncated else 1)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Request-Id": f"Root={uuid.uuid4()}",
            **response.headers,
            "Content-Length": str(length),
        }
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(response.body)
        if response.truncated:
            self.close_connection = True


class HubStub:
    """The Hub API at `url`, the dataset viewer at `viewer_url`; start() or `with`."""

    def __init__(
        self, hubdata_dir: Path | str | None = None, *, page_size: int = 100, port: int = 0
    ) -> None:
        self.data = HubData(Path(hubdata_dir) if hubdata_dir else HUBDATA_DIR)
        # The Hub pages by up to 1,000; 100 here so that tests see several pages.
        self.routes = HubRoutes(self.data, ViewerRoutes(self.data), page_size=page_size)
        self._lock = threading.Lock()
        self._seen: list[SeenRequest] = []
        self._faults: list[Fault] = []
        # Slow and hanging answers wait on this; reset() sets it and starts a new one.
        self._release = threading.Event()
        self._server = _Server(self, ("127.0.0.1", port))
        self._thread: threading.Thread | None = None
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.viewer_url = f"{self.url}/datasets-server"
        self.routes.base_url = self.url

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> HubStub:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},  # stop() waits up to one poll
                name=f"hub-stub:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> HubStub:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- test controls ---------------------------------------------------------------------
    @property
    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._seen)

    def count(self, prefix: str | None = None, method: str | None = None) -> int:
        """Requests seen whose path starts with `prefix` (all if None), faulted ones included."""
        with self._lock:
            return sum(
                1
                for r in self._seen
                if (prefix is None or r.path.startswith(prefix))
                and (method is None or r.method == method)
            )

    def inject(
        self,
        prefix: str,
        *,
        times: int = 1,
        status: int | None = None,
        delay: float = 0.0,
        retry_after: int | None = None,
        garbage: bool = False,
        method: str | None = None,
        mode: str | None = None,
    ) -> None:
        """Make the next `times` requests under `prefix` slow and/or fail.

        `retry_after` alone means a 429 with `Retry-After` (and the Hub's RateLimit header);
        `garbage` alone means a 200 whose body is not JSON; `delay` alone delays a normal answer.
        `mode`: "hang" (no answer until reset()), "html" (a 200 HTML page, as a captive
        portal or proxy sends), "truncated" (a 200 cut off mid-body), "redirect-loop" (a 302
        to itself, forever).
        """
        if mode is not None and mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}; one of {MODES}")
        if status is None and retry_after is not None:
            status = 429
        fault = Fault(prefix, times, status, delay, retry_after, garbage, method, mode)
        with self._lock:
            self._faults.append(fault)

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()
            self._faults.clear()
            self._release.set()
            self._release = threading.Event()

    # -- serving ---------------------------------------------------------------------------
    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(method, path):
                    fault.remaining -= 1
                    return fault
        return None

    def handle(self, method: str, path: str, query: str) -> Response:
        with self._lock:
            release = self._release
        fault = self._take_fault(method, path)
        wait = HANG_SECONDS if fault is not None and fault.mode == "hang" else 0.0
        wait = max(wait, fault.delay if fault is not None else 0.0)
        if wait and release.wait(wait):
            return Response(0)  # reset() while waiting: the test is over, count nothing
        if fault is not None and (fault.status is not None or fault.garbage or fault.mode):
            response = self._fault_response(fault, path, query)
        else:
            try:
                params = parse_qs(query, keep_blank_values=True)
                response = self.routes.dispatch(method, path, params)
            except Exception as exc:  # a stub bug must show up as a 500, not a hung client
                response = Response.json(500, {"error": f"hub stub: {type(exc).__name__}: {exc}"})
        with self._lock:
            self._seen.append(SeenRequest(method, path, query, response.status))
        return response

    @staticmethod
    def _fault_response(fault: Fault, path: str, query: str) -> Response:
        status = fault.status or 200
        if fault.mode == "html":
            page = b"<!DOCTYPE html><html><body><h1>Sign in to the network</h1></body></html>"
            return Response(status, page, {"Content-Type": "text/html; charset=utf-8"})
        if fault.mode == "truncated":
            return Response(status, b'{"id": "cut-off", "downloads": 12', {}, truncated=True)
        if fault.mode == "redirect-loop":
            here = path + (f"?{query}" if query else "")
            return Response(302, b"", {"Location": here})
        if fault.status == 401:
            body = _FAULT_BODIES[401]
            return Response.json(401, body, {"X-Error-Message": str(body["error"])})
        if fault.garbage:
            return Response(status, b"<html><body>upstream hiccup</body>{not json", {})
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
            headers["RateLimit"] = f'"api";r=0;t={fault.retry_after}'
            headers["RateLimit-Policy"] = '"fixed window";"api";q=500;w=300'
        body = _FAULT_BODIES.get(status, {"error": f"injected {status}"})
        return Response(status, json.dumps(body).encode(), headers)
