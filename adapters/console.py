"""The terminal adapter: type slash commands, read the replies as text.

Lines come from an interactive prompt on a terminal, or one per line from a pipe (it exits
at the end of input). Images and files are saved under --out and their paths printed.
"""

from __future__ import annotations

import asyncio
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.app import App
from bot.delivery import Destination
from bot.identity import Actor, Role
from bot.replies import File, Progress, Reply, as_plain_text
from bot.share import delivered

PLATFORM = "console"
PROMPT = "classbot> "


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

    def actor(self, user: str | None = None, role: Role | None = None) -> Actor:
        name = user or self.user
        return Actor(
            platform=PLATFORM,
            user_id=name,
            display_name=name,
            role=role or self.role,
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
        if interactive:
            print("classbot console: type /help, or exit to leave.", file=self.stream)
        while True:
            # Read in a thread so that background work (the job queue) keeps running.
            if interactive:
                try:
                    line = await asyncio.to_thread(input, PROMPT)
                except (EOFError, KeyboardInterrupt):
                    print(file=self.stream)
                    break
                if line.strip() in {"exit", "quit"}:
                    break
            else:
                line = await asyncio.to_thread(source.readline)
                if not line:
                    break
            line = line.strip()
            if line and not line.startswith("#"):
                await self.handle(line)
        # Queued work (e.g. a /generate job) is printed before the console exits.
        await self.app.wait_idle()
