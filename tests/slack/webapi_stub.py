"""A local stand-in for Slack's Web API, response_urls, file uploads and Socket Mode.

It records every call (method, merged parameters) and answers `{"ok": true, ...}` the way
Slack does. AsyncWebClient sends some methods as JSON, others as query parameters or a form:
all three are read. Failures can be injected per method (`stub.fail["chat.postMessage"] =
"not_in_channel"`), and a response_url refuses a sixth use like Slack (404 used_url).

    stub = SlackStub(); await stub.start()  # stub.api_url → CLASSBOT_SLACK_API_URL
    url = stub.response_url()               # a fresh response_url for a payload
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str = ""


@dataclass
class Upload:
    file_id: str
    data: bytes


@dataclass
class Respond:
    url_id: str
    body: dict[str, Any]
    status: int


@dataclass
class SlackStub:
    team_id: str = "T0CLASS"
    bot_user_id: str = "UBOT"
    # users.info answers: user id → user object (unknown ids → user_not_found).
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    # conversations.members: channel → member ids (paged by `limit`).
    channels: dict[str, list[str]] = field(default_factory=dict)
    fail: dict[str, str] = field(default_factory=dict)
    # How many more calls of a method Slack answers 429 `ratelimited` (Retry-After: 0).
    rate_limited: dict[str, int] = field(default_factory=dict)
    # Seconds each Web API answer waits (to model a slow Slack).
    delay: float = 0.0
    calls: list[Call] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    responds: list[Respond] = field(default_factory=list)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    # Uploaded files: id → (name, mimetype, bytes); files.info describes them and their
    # url_private serves the bytes to a request bearing the bot token.
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)
    downloads: list[tuple[str, str]] = field(default_factory=list)  # (path, Authorization)
    file_token: str = "xoxb-test-token"  # the bot token url_private wants (harness.BOT_TOKEN)

    def __post_init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.base = ""
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._url_uses: dict[str, int] = {}
        self._socket: web.WebSocketResponse | None = None
        self._socket_ready = asyncio.Event()
        self._acked: dict[str, asyncio.Future[dict[str, Any]]] = {}

    # -- life ----------------------------------------------------------------------------------

    async def start(self) -> SlackStub:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/respond/{url_id}", self._respond)
        app.router.add_get("/files-pri/{team_file}/{name}", self._download)
        app.router.add_get("/socket", self._socket_handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self) -> str:
        return f"{self.base}/respond/{next(self._ids)}"

    # -- what happened --------------------------------------------------------------------------

    def methods(self) -> list[str]:
        return [call.method for call in self.calls]

    def of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def reset(self) -> None:
        self.calls.clear()
        self.uploads.clear()
        self.responds.clear()

    # -- handlers --------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(dict(await request.post()))
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.calls.append(Call(method, params, token))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.rate_limited.get(method):
            self.rate_limited[method] -= 1
            refused = {"ok": False, "error": "ratelimited"}
            return web.json_response(refused, status=429, headers={"Retry-After": "0"})
        if method in self.fail:
            return web.json_response({"ok": False, "error": self.fail[method]})
        answer = self._answer(method, params)
        return web.json_response({"ok": True, **answer} if "ok" not in answer else answer)

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        match method:
            case "auth.test":
                return {
                    "url": "https://class.slack.com/",
                    "team": "Class",
                    "user": "classbot",
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "bot_id": "BBOT",
                }
            case "chat.postMessage":
                ts = f"1700000000.{next(self._ts):06d}"
                return {"channel": channel, "ts": ts, "message": {"text": params.get("text")}}
            case "chat.update":
                return {"channel": channel, "ts": params.get("ts"), "text": params.get("text")}
            case "chat.postEphemeral":
                return {"message_ts": f"1700000000.{next(self._ts):06d}"}
            case "views.open":
                return {"view": {"id": f"V{next(self._ids)}", **json.loads(_text(params["view"]))}}
            case "files.getUploadURLExternal":
                file_id = f"F{next(self._ids)}"
                return {"upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}
            case "files.completeUploadExternal":
                files = json.loads(_text(params["files"]))
                return {"files": [{"id": f["id"], "title": f.get("title")} for f in files]}
            case "conversations.open":
                return {"channel": {"id": "D" + str(params.get("users", ""))}}
            case "conversations.members":
                return self._members(channel, params)
            case "users.info":
                user = self.users.get(str(params.get("user")))
                return {"user": user} if user else {"ok": False, "error": "user_not_found"}
            case "files.info":
                found = self.files.get(str(params.get("file")))
                if found is None:
                    return {"ok": False, "error": "file_not_found"}
                name, mimetype, data = found
                url = f"{self.base}/files-pri/{self.team_id}-{params['file']}/{name}"
                return {
                    "file": {
                        "id": params["file"],
                        "name": name,
                        "mimetype": mimetype,
                        "size": len(data),
                        "url_private": url,
                        "url_private_download": url,
                    }
                }
            case "apps.connections.open":
                return {"url": f"ws://{self.base.removeprefix('http://')}/socket"}
        return {}

    def _members(self, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        members = self.channels[channel]
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        page = members[start : start + limit]
        after = start + limit
        cursor = str(after) if after < len(members) else ""
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads.append(Upload(request.match_info["file_id"], await request.read()))
        return web.Response(text="OK - 1")

    async def _download(self, request: web.Request) -> web.Response:
        self.downloads.append((request.path, request.headers.get("Authorization", "")))
        file_id = request.match_info["team_file"].rsplit("-", 1)[-1]
        found = self.files.get(file_id)
        if found is None or request.headers.get("Authorization") != "Bearer " + self.file_token:
            return web.Response(status=404)
        return web.Response(body=found[2], content_type=found[1])

    async def _respond(self, request: web.Request) -> web.Response:
        url_id = request.match_info["url_id"]
        uses = self._url_uses[url_id] = self._url_uses.get(url_id, 0) + 1
        body = await request.json()
        status = 200 if uses <= 5 else 404
        self.responds.append(Respond(url_id, body, status))
        if status != 200:
            return web.Response(status=404, text="used_url")
        return web.Response(text="ok")

    # -- Socket Mode ----------------------------------------------------------------------------

    async def _socket_handler(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket = socket
        await socket.send_json({"type": "hello", "num_connections": 1})
        self._socket_ready.set()
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            self.socket_acks.append(data)
            waiter = self._acked.pop(str(data.get("envelope_id")), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(data)
        return socket

    async def push(
        self, kind: str, payload: dict[str, Any], timeout: float = 5.0
    ) -> dict[str, Any]:
        """Send a Socket Mode envelope and wait for the app's ack."""
        await asyncio.wait_for(self._socket_ready.wait(), timeout)
        assert self._socket is not None
        envelope_id = f"env-{next(self._ids)}"
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acked[envelope_id] = waiter
        await self._socket.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": True,
            }
        )
        return await asyncio.wait_for(waiter, timeout)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
