"""The terminal adapter: type slash commands, read the replies as text.

Lines come from an interactive prompt on a terminal, or one per line from a pipe (it exits
at the end of input). Images and files are saved under --out and their paths printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO, TypeVar, cast

from bot.app import App
from bot.attachments import local_file
from bot.delivery import Destination
from bot.errors import UsageError
from bot.identity import Actor, Role
from bot.inbox import Entry, durable, inbox_of
from bot.replies import File, Progress, Reply, as_plain_text
from bot.share import delivered

PLATFORM = "console"
PROMPT = "classbot> "

T = TypeVar("T")


class ConsoleAdapter:
    def __init__(
        self,
        app: App,
        user: str = "student",
        role: Role = Role.STUDENT,
        out_dir: Path | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.app = app
        self.user = user
        self.role = role
        self.out_dir = out_dir or app.settings.out_dir
        self.stream = stream or sys.stdout
        app.services.outboxes[PLATFORM] = self
        # file:<path> reads the file from this machine's disk.
        app.services.attachments[PLATFORM] = local_file
        self.inbox = inbox_of(app.services.store, app.services.clock)
        # Request ids of this run's lines ("line:<run>:<number>"): a line read is acknowledged.
        self.run_id = uuid.uuid4().hex[:12]

    def actor(self, user: str | None = None, role: Role | None = None) -> Actor:
        name = user or self.user
        # CLASSBOT_INSTRUCTORS names console users too, as it names Slack and Discord ids.
        listed = name in self.app.settings.instructors
        return Actor(
            platform=PLATFORM,
            user_id=name,
            display_name=name,
            role=Role.INSTRUCTOR if listed else role or self.role,
            guild_id=PLATFORM,
            channel_id=PLATFORM,
        )

    async def handle(
        self, line: str, user: str | None = None, role: Role | None = None
    ) -> list[Reply]:
        """Run one typed line, print every reply, and return them."""
        replies: list[Reply] = []
        async for reply in self.app.router.run_line(line, self.actor(user, role)):
            replies.append(reply)
            self.show(reply)
        return replies

    async def handle_saved(self, line: str, number: int) -> list[Reply]:
        """`handle` a line read from the input, saved in the inbox first when it is durable:
        a line that was read is as good as acknowledged, so a crash must not lose it."""
        actor = self.actor()
        try:
            invocation = self.app.router.parse(line, actor)
        except UsageError:
            return await self.handle(line)
        if not durable(self.app.router, invocation):
            return await self.handle(line)
        destination = Destination(
            PLATFORM, actor.guild_id, actor.channel_id, actor.user_id, handle={}
        )
        request_id = f"line:{self.run_id}:{number}"
        receipt = await self.inbox.accept(PLATFORM, request_id, invocation, destination)
        replies = await self.handle(line)
        if receipt is not None:
            self.inbox.finish(receipt)
        return replies

    async def replay_saved(self) -> int:
        """Run this user's lines saved by an earlier run that never finished (a crash).

        Only this user's: several consoles (one per person) may share one database, and
        another person's line may be running in their console right now."""
        user = self.actor().user_id
        return await self.inbox.replay(
            PLATFORM, self._replay, only=lambda entry: entry.invocation.actor.user_id == user
        )

    async def _replay(self, entry: Entry) -> None:
        async for reply in self.app.router.dispatch(entry.invocation):
            self.show(reply)

    async def send(self, destination: Destination, reply: Reply, *, key: str | None = None) -> None:
        """Outbox: replies delivered later (job results, reminders) print like any other."""
        self.show(delivered(destination, reply, key))

    def show(self, reply: Reply) -> None:
        text = as_plain_text(reply)
        if isinstance(reply, File):
            text += f"\nsaved: {self.save(reply)}"
        end = "\n"
        if isinstance(reply, Progress) and self.stream.isatty():
            # On a terminal, redraw one progress line instead of scrolling.
            text, end = "\r" + text.replace("\n", " "), ""
        print(text, end=end, file=self.stream, flush=True)

    def save(self, reply: File) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", reply.filename) or "file"
        path = self.out_dir / f"{stamp}-{safe}"
        counter = 1
        while path.exists():
            path = self.out_dir / f"{stamp}-{counter}-{safe}"
            counter += 1
        path.write_bytes(reply.data)
        return path.resolve()

    async def run(self, source: TextIO | None = None) -> None:
        """Read commands until the end of input (or `exit` at a terminal prompt)."""
        source = source or sys.stdin
        interactive = source.isatty()
        await self.app.start()
        await self.replay_saved()
        if interactive:
            print("classbot console: type /help, or exit to leave.", file=self.stream)
        number = 0
        while True:
            # Read in a thread so that background work (the job queue) keeps running.
            if interactive:
                try:
                    line = await _in_daemon_thread(lambda: input(PROMPT))
                except (EOFError, KeyboardInterrupt):
                    print(file=self.stream)
                    break
                if line.strip() in {"exit", "quit"}:
                    break
            else:
                line = await _in_daemon_thread(source.readline)
                if not line:
                    break
            number += 1
            line = line.strip()
            if line and not line.startswith("#"):
                await self.handle_saved(line, number)
        # Queued work (e.g. a /generate job) is printed before the console exits.
        await self.app.wait_idle()


def _in_daemon_thread(read: Callable[[], T]) -> asyncio.Future[T]:
    """`read()` in a daemon thread: a stop signal must not wait for a blocked `input()` or
    `readline()` (the event loop's executor threads are joined when it closes)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def work() -> None:
        try:
            value, error = read(), None
        except BaseException as raised:  # EOFError, KeyboardInterrupt: the caller's to judge
            value, error = None, raised
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(_settle, future, value, error)

    threading.Thread(target=work, name="console-input", daemon=True).start()
    return future


def _settle(future: asyncio.Future[T], value: T | None, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(cast(T, value))
