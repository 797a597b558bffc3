"""The Bolt app: slash commands, button clicks and modal submissions → the router.

Every listener acks at once and leaves the work to a task that this adapter keeps (so a
shutdown or a test can wait for it). Slack then has its 200 within milliseconds whatever the
command does. A durable command is first saved in the inbox (bot/inbox.py, one group
commit for a burst), so a crash after the ack cannot lose it: it runs after the restart.
The core's replies go out through the Slack outbox (adapters/slack/outbox.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import outbox as out
from adapters.slack import render
from adapters.slack.files import SlackFiles
from adapters.slack.namespace import Namespace
from adapters.slack.outbox import SlackOutbox
from adapters.slack.people import People, SlackRoster
from bot.app import App
from bot.delivery import Destination
from bot.errors import UsageError
from bot.identity import Actor, Role
from bot.inbox import Entry, Receipt, durable, inbox_of, request_hash
from bot.replies import Reply, in_messages
from bot.router import RATE_LIMITED, Invocation

PLATFORM = "slack"
EVENTS_PATH = "/slack/events"
_TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
# Slack's 3 s ack deadline is hard and the work's is not: during a burst of requests, work
# starts once no request has come for ACK_QUIET seconds, or after ACK_FIRST at most.
ACK_QUIET = 0.02
ACK_FIRST = 1.0

log = logging.getLogger(__name__)

Payload = dict[str, Any]


def web_client(
    token: str, base_url: str, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """The Web API client. slack_sdk retries only connection errors by default: a
    `ratelimited` answer (HTTP 429, which a class's burst of results meets on chat.update)
    is tried again after its Retry-After here, instead of dropping the reply."""
    retry = [*async_default_handlers(), AsyncRateLimitErrorRetryHandler(max_retry_count=2)]
    return AsyncWebClient(token=token, base_url=base_url, session=session, retry_handlers=retry)


@dataclass(frozen=True)
class _Who:
    """Who acted and where, as a Slack payload says it."""

    team: str
    channel: str
    user: str
    name: str


class SlackAdapter:
    """Builds the Bolt AsyncApp for a core App and registers the Slack outbox and roster."""

    def __init__(
        self,
        app: App,
        *,
        bot_token: str,
        signing_secret: str | None,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`signing_secret` checks HTTP requests; None is for Socket Mode only, where the
        socket itself is authenticated by the app-level token."""
        self.app = app
        self.clock = clock
        # One connection pool for the Web API and the response_urls.
        self.session = session or aiohttp.ClientSession()
        self._own_session = session is None
        self.client = web_client(bot_token, app.settings.slack_api_url, self.session)
        self.people = People(self.client, app.settings.instructors)
        self.namespace = Namespace.from_settings(app.settings, app.router.commands)
        self.outbox = SlackOutbox(
            self.client, session=self.session, clock=clock, typed=self.namespace.typed
        )
        app.services.outboxes[PLATFORM] = self.outbox
        app.services.rosters[PLATFORM] = SlackRoster(self.client, self.people)
        # file:<link> names a file uploaded in the channel (adapters/slack/files.py).
        app.services.attachments[PLATFORM] = SlackFiles(self.client, self.session)
        self.inbox = inbox_of(app.services.store, app.services.clock)
        self._tasks: set[asyncio.Task[None]] = set()
        self._acking = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._quiet_timer: asyncio.TimerHandle | None = None
        self._verifying = signing_secret is not None
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=signing_secret or "",
            request_verification_enabled=self._verifying,
            # The listeners below only ack and start a task, so Bolt may as well answer when
            # they return: no polling for the ack (Bolt's other mode checks every 10 ms).
            process_before_response=True,
            name="classbot",
        )
        # Every router command is a Slack command (or a word of the one command), so a new
        # command file needs no change here. One listener for all: Bolt tries listeners in
        # turn, each costing ~0.1 ms.
        names = "|".join(re.escape(name) for name in self.namespace.slack_commands())
        self.bolt.command(re.compile(f"^({names})$"))(self._on_command)
        self.bolt.action(re.compile("^" + re.escape(render.ACTION_PREFIX)))(self._on_action)
        self.bolt.view_submission(render.MODAL_CALLBACK)(self._on_view_submission)

    # -- listeners (save, ack, then work) -----------------------------------------------------

    async def _on_command(self, ack: AsyncAck, body: Payload) -> None:
        now = str(self.clock())
        who = _Who(
            team=str(body.get("team_id", "")),
            channel=str(body.get("channel_id", "")),
            user=str(body.get("user_id", "")),
            name=str(body.get("user_name") or body.get("user_id", "")),
        )
        handle = {
            out.RESPONSE_URL: str(body.get("response_url", "")),
            out.RESPONSE_URL_AT: now,
            out.RESPONSE_URL_KIND: "command",
            out.TRIGGER_ID: str(body.get("trigger_id", "")),
            out.TRIGGER_AT: now,
        }
        # Parsed by the router exactly like a typed console line.
        text = render.unescape(str(body.get("text") or ""))
        line = self.namespace.to_line(str(body.get("command", "")), text)
        fresh, receipt = await self._save_line(line, who, handle, _request_id(body))
        await ack()
        if fresh:
            self.spawn(self._run_line(line, who, handle, receipt))

    async def _on_action(self, ack: AsyncAck, body: Payload) -> None:
        now = str(self.clock())
        runs = []
        for index, action in enumerate(body.get("actions") or []):
            handle = {out.TRIGGER_ID: str(body.get("trigger_id", "")), out.TRIGGER_AT: now}
            if body.get("response_url"):
                handle |= {
                    out.RESPONSE_URL: str(body["response_url"]),
                    out.RESPONSE_URL_AT: now,
                    out.RESPONSE_URL_KIND: "action",
                }
            # A button's value is its command line, run as the person who clicked.
            line, who = str(action.get("value", "")), _who(body)
            request_id = f"{_request_id(body)}:{index}"
            fresh, receipt = await self._save_line(line, who, handle, request_id)
            if fresh:
                runs.append(self._run_line(line, who, handle, receipt))
        await ack()
        for run in runs:
            self.spawn(run)

    async def _on_view_submission(self, ack: AsyncAck, body: Payload) -> None:
        view = body.get("view") or {}
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
        except json.JSONDecodeError:
            meta = {}
        values = _input_values(view)
        # Slack takes spaces alone as a filled-in required input; the form stays open.
        blank = _blank_required(view, values)
        if blank:
            await ack(response_action="errors", errors=dict.fromkeys(blank, BLANK))
            return
        who = replace(_who(body), channel=str(meta.get("channel", "")))
        # Check the options before the modal closes, so a mistake keeps what was typed.
        try:
            invocation = self.app.router.parse(
                str(meta.get("action", "")), _actor(who, Role.STUDENT)
            )
            options = {**invocation.options, **{k: v for k, v in values.items() if v}}
            self.app.router.validate(invocation.path, options)
        except UsageError as error:
            errors = _field_errors(error, list(values))
            if errors:
                await ack(response_action="errors", errors=errors)
                return
            await ack()
            self.spawn(self._deliver_error(error, who))
            return
        wait = await self.app.router.rate_wait(invocation)
        if wait > 0 and values:
            # Refused after the form closed, what was typed would be lost.
            todo = f"Press Submit again in {math.ceil(wait)} s."
            await ack(
                response_action="errors", errors={next(iter(values)): f"{RATE_LIMITED} {todo}"}
            )
            return
        handle = {k: str(meta[k]) for k in (out.RESPONSE_URL, out.RESPONSE_URL_AT) if k in meta}
        if handle:
            handle[out.RESPONSE_URL_KIND] = str(meta.get(out.RESPONSE_URL_KIND, "action"))
        invocation = replace(invocation, options=options, handle=handle)
        fresh, receipt = await self._save(invocation, who, handle, _request_id(body))
        await ack()
        if fresh:
            self.spawn(self._run(invocation, who, receipt))

    # -- the inbox (saved before the ack, replayed after a restart) -----------------------------

    async def _save_line(
        self, line: str, who: _Who, handle: dict[str, str], request_id: str
    ) -> tuple[bool, Receipt | None]:
        try:
            invocation = self.app.router.parse(line, _actor(who, Role.STUDENT))
        except UsageError:
            return True, None  # a mistake: its answer is an error, nothing to keep
        return await self._save(replace(invocation, handle=handle), who, handle, request_id)

    async def _save(
        self, invocation: Invocation, who: _Who, handle: dict[str, str], request_id: str
    ) -> tuple[bool, Receipt | None]:
        """Save a durable command before its ack: (whether to run it now, its receipt).

        The role is settled when the command runs (a users.info call must not delay the
        ack), so the saved actor's role is provisional and looked up again on replay."""
        if not durable(self.app.router, invocation):
            return True, None
        destination = _destination(_actor(who, Role.STUDENT), handle)
        receipt = await self.inbox.accept(PLATFORM, request_id, invocation, destination)
        if receipt is None:
            log.info("Slack sent request %s again; it is already saved", request_id)
            return False, None
        return True, receipt

    async def replay_saved(self) -> int:
        """Run the commands saved before a restart that never finished."""
        return await self.inbox.replay(PLATFORM, self._replay)

    async def _replay(self, entry: Entry) -> None:
        actor = entry.invocation.actor
        who = _Who(
            team=actor.guild_id,
            channel=actor.channel_id,
            user=actor.user_id,
            name=actor.display_name,
        )
        invocation = replace(entry.invocation, handle=entry.destination.handle)
        await self._run(invocation, who, None)

    # -- the work ------------------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_idle(self) -> None:
        """Return once every command started so far has delivered its replies."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _after_acks(self) -> None:
        if not self._quiet.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), ACK_FIRST)

    async def _actor_for(self, who: _Who) -> Actor:
        await self._after_acks()
        instructor = await self.people.is_instructor(who.user)
        return _actor(who, Role.INSTRUCTOR if instructor else Role.STUDENT)

    async def _run_line(
        self, line: str, who: _Who, handle: dict[str, str], receipt: Receipt | None = None
    ) -> None:
        actor = await self._actor_for(who)
        destination = _destination(actor, handle)
        try:
            invocation = replace(self.app.router.parse(line, actor), handle=handle)
        except UsageError as error:
            replies = _once(error.error)
        else:
            replies = self.app.router.dispatch(invocation)
        await self._deliver(destination, replies)
        if receipt is not None:
            self.inbox.finish(receipt)

    async def _run(self, invocation: Invocation, who: _Who, receipt: Receipt | None = None) -> None:
        actor = await self._actor_for(who)
        destination = _destination(actor, dict(invocation.handle))
        invocation = replace(invocation, actor=actor, handle=destination.handle)
        await self._deliver(destination, self.app.router.dispatch(invocation))
        if receipt is not None:
            self.inbox.finish(receipt)

    async def _deliver_error(self, error: UsageError, who: _Who) -> None:
        await self._deliver(_destination(_actor(who, Role.STUDENT), {}), _once(error.error))

    async def _deliver(self, destination: Destination, replies: AsyncIterator[Reply]) -> None:
        # The core's grouping rule; a reply alone in its message needs no slot to edit.
        async for placed in in_messages(replies, prefix=f"req:{uuid.uuid4().hex[:12]}"):
            reply = placed.reply
            try:
                await self.outbox.send(destination, reply, key=None if placed.alone else placed.key)
            except Exception:
                # Not the destination itself: its response_url lets anyone post there.
                log.exception(
                    "could not deliver a %s to %s/%s",
                    type(reply).__name__,
                    destination.channel_id,
                    destination.user_id,
                )

    # -- serving -----------------------------------------------------------------------------

    async def handle_http(self, request: web.Request) -> web.Response:
        if self._verifying and not _is_timestamp(request.headers.get(_TIMESTAMP_HEADER)):
            # Bolt's verification would raise on int() (a 500 with a traceback); a request
            # that cannot be checked is refused like one whose signature is wrong.
            return web.json_response({"error": "invalid request"}, status=401)
        self._acking += 1
        self._quiet.clear()
        if self._quiet_timer is not None:
            self._quiet_timer.cancel()
        try:
            bolt_response = await self.bolt.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(bolt_response)
        finally:
            self._acking -= 1
            if not self._acking:
                loop = asyncio.get_running_loop()
                self._quiet_timer = loop.call_later(ACK_QUIET, self._quiet.set)

    def web_app(self) -> web.Application:
        """The HTTP endpoint Slack posts to (signatures checked by Bolt)."""
        application = web.Application()
        application.router.add_post(EVENTS_PATH, self.handle_http)
        return application

    async def close(self, grace: float = 10.0) -> None:
        """Let running commands finish (up to `grace` seconds), then close the connections."""
        try:
            await asyncio.wait_for(self.wait_idle(), grace)
        except TimeoutError:
            log.warning("%d Slack commands still running at shutdown", len(self._tasks))
        if self._own_session:
            await self.session.close()


def _request_id(body: Payload) -> str:
    """Slack's id of a request: its trigger_id (a retry sends the same body), else the
    body's hash."""
    trigger = body.get("trigger_id")
    if trigger:
        return f"trigger:{trigger}"
    return request_hash(json.dumps(body, sort_keys=True, default=str))


def _is_timestamp(value: str | None) -> bool:
    """False only for a value Bolt's check cannot read; a missing one Bolt refuses itself."""
    if value is None:
        return True
    try:
        int(value)  # exactly what the signature check does with it
    except ValueError:
        return False
    return True


def _who(body: Payload) -> _Who:
    user = body.get("user") or {}
    channel = body.get("channel") or {}
    container = body.get("container") or {}
    return _Who(
        team=str((body.get("team") or {}).get("id") or user.get("team_id") or ""),
        channel=str(channel.get("id") or container.get("channel_id") or ""),
        user=str(user.get("id", "")),
        name=str(user.get("username") or user.get("name") or user.get("id", "")),
    )


def _actor(who: _Who, role: Role) -> Actor:
    return Actor(
        platform=PLATFORM,
        user_id=who.user,
        display_name=who.name,
        role=role,
        guild_id=who.team,
        channel_id=who.channel,
    )


def _destination(actor: Actor, handle: dict[str, str]) -> Destination:
    return Destination(
        platform=PLATFORM,
        guild_id=actor.guild_id,
        channel_id=actor.channel_id,
        user_id=actor.user_id,
        handle=handle,
    )


def _input_values(view: Payload) -> dict[str, str]:
    """Modal inputs by block id (the ModalField name): {block: {action: {value}}}; a file
    input's value is its file's id, which the file: option takes (adapters/slack/files.py)."""
    values: dict[str, str] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        for action in (actions or {}).values():
            files = action.get("files") or [{}]
            value = (
                files[0].get("id") if action.get("type") == "file_input" else action.get("value")
            )
            values[str(block_id)] = "" if value is None else str(value)
    return values


BLANK = "This is empty: type something here."


def _blank_required(view: Payload, values: dict[str, str]) -> list[str]:
    """The required inputs whose value is only spaces (or nothing)."""
    return [
        str(block.get("block_id"))
        for block in view.get("blocks") or []
        if block.get("type") == "input"
        and not block.get("optional")
        and not values.get(str(block.get("block_id")), "").strip()
    ]


def _field_errors(error: UsageError, fields: list[str]) -> dict[str, str]:
    """Put the router's message under the input it is about (or the first one)."""
    what = error.error.what
    message = " ".join(part for part in (what, error.error.todo) if part)[:300]
    for name in fields:
        if what.startswith((f"{name}:", f"{name} ")):
            return {name: message}
    return {fields[0]: message} if fields else {}


async def _once(reply: Reply) -> AsyncIterator[Reply]:
    yield reply
