"""A command whose reply is a form asking for one file, submitted to `/peek` (each platform's
tests declare their own /peek, which reads the file and says what it got)."""

from __future__ import annotations

from bot.replies import Modal, ModalField, Reply
from bot.router import Command, Context


async def ask_file(ctx: Context) -> Reply:
    """A form asking for a file."""
    field = ModalField(name="file", label="Your clip", upload=True)
    return Modal(title="Peek", fields=(field,), submit_action="/peek", fallback="Type /peek")


ASK = Command(name="ask", handler=ask_file)
