"""A local stand-in for Discord's REST API: records every request, answers like Discord.

Runs an aiohttp server on 127.0.0.1 in the test's event loop. discord.py reaches it through
`discord.http.Route.BASE` (see adapters.discord.use_api_url); no gateway is needed: tests
log in over REST (`client.login`) and feed raw INTERACTION_CREATE payloads to
`client._connection.parse_interaction_create(payload)`.

Answers carry `Content-Type: application/json` exactly: discord.py only decodes JSON when
the header is exactly that (no charset).

    stub.requests            every request: method, path (after /api/v10), query, json, files
    stub.find("POST", r"/webhooks/.*")
    stub.expire(token)       webhook and callback calls with that token now answer 401

It is also a gateway for `client.start` (point `DiscordWebSocket.DEFAULT_GATEWAY` at
`stub.gateway_url`): HELLO, heartbeat ACKs, READY after IDENTIFY (`stub.identified`), and
`await stub.dispatch("INTERACTION_CREATE", payload)` sends an event to every connected
client, as Discord's gateway does.

A message create with `nonce` and `enforce_nonce: true` is deduplicated as Discord does: the
same author (the bot) sending the same nonce again within `nonce_window` seconds gets the
message made the first time back, and no second message is created.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

APP_ID = 1100000000000000001
BOT_ID = APP_ID
GUILD_ID = 1200000000000000001
CHANNEL_ID = 1300000000000000001

BOT_USER = {
    "id": str(BOT_ID),
    "username": "classbot",
    "discriminator": "0",
    "global_name": "classbot",
    "avatar": None,
    "bot": True,
    "flags": 0,
}


@dataclass
class Upload:
    filename: str
    data: bytes
    content_type: str


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[Upload] = field(default_factory=list)
    authorization: str | None = None
    at: float = 0.0  # time.monotonic() when it arrived


class DiscordRestStub:
    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._ids = itertools.count(1500000000000000001)
        self._expired: set[str] = set()
        self.reject_token = False  # answer login with 401, as for a reset token
        # Guilds the bot is not in: registering commands there answers 403 Missing Access.
        self.foreign_guilds: set[str] = set()
        # Message bodies by id, so PATCH answers show the whole message as Discord would.
        self.messages: dict[str, dict[str, Any]] = {}
        self.original: dict[str, str] = {}  # interaction token → id of its original message
        # Enforced nonces: nonce → (id of the message it made, time.monotonic() then).
        self.nonces: dict[str, tuple[str, float]] = {}
        # Discord keeps enforced nonces "for a few minutes".
        self.nonce_window = 300.0
        self.gateway_url = ""
        self.identified: list[dict[str, Any]] = []  # IDENTIFY payloads (token, intents)
        self._sockets: list[web.WebSocketResponse] = []
        self._sequence = itertools.count(1)
        # Attachments the stand-in serves, by path under the API root ("/files/clip.wav").
        self.files: dict[str, bytes] = {}

    async def start(self) -> DiscordRestStub:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle)
        app.router.add_get("/gateway", self._gateway)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/api/v10"
        self.gateway_url = f"ws://127.0.0.1:{port}/gateway"
        return self

    async def stop(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- the gateway -------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        try:
            await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None})
            async for frame in socket:
                if frame.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(frame.data)
                if payload["op"] == 1:  # heartbeat
                    await socket.send_json({"op": 11, "d": None})
                elif payload["op"] == 2:  # identify
                    self.identified.append(payload["d"])
                    await self._send(socket, "READY", self._ready())
        finally:
            self._sockets.remove(socket)
        return socket

    def _ready(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": BOT_USER,
            "guilds": [],
            "session_id": "session-1",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APP_ID), "flags": 0},
        }

    async def _send(self, socket: web.WebSocketResponse, event: str, data: Any) -> None:
        await socket.send_json({"op": 0, "t": event, "s": next(self._sequence), "d": data})

    async def dispatch(self, event: str, data: Any) -> None:
        """Send a gateway event (e.g. INTERACTION_CREATE) to every connected client."""
        for socket in list(self._sockets):
            await self._send(socket, event, data)

    @property
    def connected(self) -> bool:
        return bool(self._sockets) and bool(self.identified)

    # -- test controls ---------------------------------------------------------------------

    def expire(self, token: str) -> None:
        self._expired.add(token)

    def find(self, method: str, pattern: str) -> list[Seen]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def bodies(self) -> list[dict[str, Any]]:
        """Every JSON body that can carry text (message creates and edits)."""
        return [
            r.json
            for r in self.requests
            if isinstance(r.json, dict) and r.method in ("POST", "PATCH") and _carries_text(r)
        ]

    def clear(self) -> None:
        self.requests.clear()

    # -- the API ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body, files = await _read_body(request)
        seen = Seen(
            request.method,
            path,
            dict(request.query),
            body,
            files,
            request.headers.get("Authorization"),
            time.monotonic(),
        )
        self.requests.append(seen)
        return self._answer(seen)

    def _answer(self, seen: Seen) -> web.Response:
        method, path = seen.method, seen.path
        token = _token_of(path)
        if token is not None and token in self._expired:
            return _json({"message": "Invalid Webhook Token", "code": 50027}, status=401)
        if method == "GET" and path in self.files:
            return web.Response(body=self.files[path], content_type="application/octet-stream")
        if method == "GET" and path == "/users/@me":
            if self.reject_token:
                return _json({"message": "401: Unauthorized", "code": 0}, status=401)
            return _json(BOT_USER)
        if method == "GET" and path == "/oauth2/applications/@me":
            return _json(_application())
        if method == "PUT" and (
            commands := re.fullmatch(r"/applications/\d+(?:/guilds/(\d+))?/commands", path)
        ):
            if commands.group(1) in self.foreign_guilds:
                return _json({"message": "Missing Access", "code": 50001}, status=403)
            return _json(
                [
                    {**c, "id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1"}
                    for c in seen.json
                ]
            )
        if match := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path):
            return self._callback(match.group(1), match.group(2), seen.json)
        if method == "POST" and re.fullmatch(r"/webhooks/\d+/[^/]+", path):
            return _json(self._store(None, CHANNEL_ID, seen))
        if match := re.fullmatch(r"/webhooks/\d+/([^/]+)/messages/([^/]+)", path):
            message_id = match.group(2)
            if message_id == "@original":
                message_id = self.original.get(match.group(1), "")
            if message_id not in self.messages:
                return _json({"message": "Unknown Message", "code": 10008}, status=404)
            if method == "PATCH":
                return _json(self._store(message_id, CHANNEL_ID, seen))
            if method == "DELETE":
                del self.messages[message_id]
                return web.Response(status=204)
        if method == "POST" and (match := re.fullmatch(r"/channels/(\d+)/messages", path)):
            return self._create(int(match.group(1)), seen)
        if match := re.fullmatch(r"/channels/(\d+)/messages/(\d+)", path):
            message_id = match.group(2)
            if method == "PATCH":
                return _json(self._store(message_id, int(match.group(1)), seen))
            if method == "DELETE":
                self.messages.pop(message_id, None)
                return web.Response(status=204)
        if method == "POST" and path == "/users/@me/channels":
            recipient = str(seen.json["recipient_id"])
            user = {
                "id": recipient,
                "username": f"user{recipient[-4:]}",
                "discriminator": "0",
                "avatar": None,
            }
            return _json(
                {
                    "id": str(next(self._ids)),
                    "type": 1,
                    "recipients": [user],
                    "last_message_id": None,
                }
            )
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    def _callback(self, interaction_id: str, token: str, body: dict[str, Any]) -> web.Response:
        kind = body["type"]
        data = body.get("data") or {}
        result: dict[str, Any] = {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(data.get("flags", 0) & 64),
            },
            "resource": {"type": kind},
        }
        if kind in (4, 5):
            # The deferred "thinking…" placeholder is the original message.
            message_id = str(next(self._ids))
            self.original[token] = message_id
            self.messages[message_id] = _message(message_id, CHANNEL_ID, data)
            result["interaction"]["response_message_id"] = message_id
        return _json(result)

    def _create(self, channel_id: int, seen: Seen) -> web.Response:
        """POST /channels/{id}/messages, honouring an enforced nonce."""
        body = seen.json if isinstance(seen.json, dict) else {}
        nonce = body.get("nonce")
        if nonce is None or not body.get("enforce_nonce"):
            return _json(self._store(None, channel_id, seen))
        nonce = str(nonce)
        made = self.nonces.get(nonce)
        if made is not None and seen.at - made[1] < self.nonce_window:
            if made[0] not in self.messages:
                # What Discord answers for a nonce whose message was deleted meanwhile.
                return _json({"message": "Unknown Message", "code": 10008}, status=404)
            return _json(self.messages[made[0]])
        message = self._store(None, channel_id, seen)
        message["nonce"] = nonce
        self.nonces[nonce] = (message["id"], seen.at)
        return _json(message)

    def _store(self, message_id: str | None, channel_id: int, seen: Seen) -> dict[str, Any]:
        message_id = message_id or str(next(self._ids))
        body = dict(self.messages.get(message_id, {}))
        for key, value in (seen.json or {}).items():
            body[key] = value
        body["attachments"] = [
            {
                "id": str(next(self._ids)),
                "filename": upload.filename,
                "size": len(upload.data),
                "url": f"https://cdn.example/{upload.filename}",
                "proxy_url": f"https://cdn.example/{upload.filename}",
                "content_type": upload.content_type,
            }
            for upload in seen.files
        ]
        message = _message(message_id, channel_id, body)
        self.messages[message_id] = message
        return message


def _message(message_id: str, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": message_id,
        "channel_id": str(channel_id),
        "type": 0,
        "content": body.get("content") or "",
        "author": BOT_USER,
        "embeds": body.get("embeds") or [],
        "attachments": body.get("attachments") or [],
        "components": body.get("components") or [],
        "timestamp": datetime.now(UTC).isoformat(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "pinned": False,
        "flags": body.get("flags") or 0,
        "webhook_id": str(APP_ID),
    }


def _application() -> dict[str, Any]:
    return {
        "id": str(APP_ID),
        "name": "classbot",
        "icon": None,
        "description": "",
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": {**BOT_USER, "bot": False, "id": "1000000000000000001", "username": "owner"},
        "verify_key": "0" * 64,
        "flags": 0,
    }


def _token_of(path: str) -> str | None:
    match = re.fullmatch(r"/(?:webhooks/\d+|interactions/\d+)/([^/]+)(?:/.*)?", path)
    return match.group(1) if match else None


def _carries_text(seen: Seen) -> bool:
    return bool(
        re.fullmatch(r"/webhooks/\d+/[^/]+(/messages/[^/]+)?", seen.path)
        or re.fullmatch(r"/channels/\d+/messages(/\d+)?", seen.path)
    )


async def _read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    if request.content_type.startswith("multipart/"):
        body: Any = None
        files: list[Upload] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            assert isinstance(part, BodyPartReader)
            if part.name == "payload_json":
                body = json.loads(await part.text())
            else:
                data = bytes(await part.read())
                files.append(
                    Upload(part.filename or "", data, part.headers.get("Content-Type", ""))
                )
        return body, files
    raw = await request.read()
    return (json.loads(raw) if raw else None), []


def _json(data: Any, status: int = 200) -> web.Response:
    # Exactly "application/json": discord.py does not decode "application/json; charset=…".
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )
