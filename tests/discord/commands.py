"""Small test-only commands that produce every kind of reply (the real /activity and
/imagine commands are tested by their own owners)."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator
from typing import Any

from bot.commands.help import COMMAND as HELP
from bot.delivery import Destination
from bot.identity import Role
from bot.replies import (
    Button,
    Card,
    Field,
    File,
    Image,
    Modal,
    ModalField,
    Progress,
    Reply,
    Table,
    Text,
)
from bot.router import Command, Context, Option

# Filled by /queue: where a job's result would go later.
DESTINATIONS: list[Destination] = []
# The test's monotonic clock (the progress throttle); /progress moves it.
TICKS: list[float] = [1000.0]


async def whoami(ctx: Context) -> Reply:
    """Who the bot thinks you are."""
    a = ctx.actor
    return Text(
        text=f"{a.platform} {a.user_id} {a.display_name} {a.role} {a.guild_id} {a.channel_id}"
    )


async def whisper(ctx: Context, text: str | None) -> Reply:
    """A private answer, at once."""
    return Text(text=f"psst {text or ''}".strip(), private=True)


async def slow_secret(ctx: Context) -> Reply:
    """A private answer that takes a while."""
    await asyncio.sleep(0.3)
    return Text(text="a slow secret", private=True)


async def shout(ctx: Context, text: str) -> list[Reply]:
    """Echo the words back, in every kind of reply."""
    return [
        Text(text=text),
        Card(title=text, description=text, fields=(Field(name=text, value=text),), footer=text),
        Text(text=text, private=True),
    ]


async def progress(ctx: Context, steps: int) -> AsyncIterator[Reply]:
    """Progress, half a second apart, then the result."""
    for step in range(1, steps + 1):
        yield Progress(step=step, total=steps, label="working")
        TICKS[0] += 0.5
    yield Text(text="done")


async def vote(ctx: Context) -> Reply:
    """A card with buttons."""
    return Card(
        title="Quiz",
        description="Which task is gpt2 for?",
        buttons=(
            Button(label="Answer", action="/form kind:quiz", style="primary"),
            Button(label="Who am I", action="/whoami"),
        ),
    )


async def form(ctx: Context, kind: str) -> Reply:
    """Open the answer form."""
    return Modal(
        title=f"Your answer ({kind})",
        fields=(
            ModalField(name="text", label="Answer", multiline=True, max_length=500),
            ModalField(name="note", label="Note", required=False),
        ),
        submit_action=f"/answer kind:{kind}",
        fallback=f"Type /answer kind:{kind} text:<your answer>",
    )


async def slow_form(ctx: Context) -> Reply:
    """A form that comes too late to open."""
    await asyncio.sleep(0.3)
    return await form(ctx, "late")


async def answer(ctx: Context, kind: str, text: str, note: str) -> Reply:
    """Record an answer (echoes it)."""
    return Text(text=f"{ctx.actor.display_name} answered {kind}: {text} ({note})")


async def long(ctx: Context) -> list[Reply]:
    """The longest replies."""
    fields = tuple(Field(name=f"field {i} " + "n" * 300, value="v" * 2000) for i in range(40))
    rows = tuple((f"model-{i}", "x" * 60, str(i)) for i in range(400))
    return [
        Card(title="T" * 400, description="d" * 4000, fields=fields, footer="f" * 3000),
        Card(title="many", fields=tuple(Field(name=f"f{i}", value="short") for i in range(60))),
        Table(title="models", columns=("id", "about", "n"), rows=rows, footer="all of them"),
        Text(text="word " * 2500),
        Text(text="🙂" * 1500),  # 3,000 UTF-16 units
    ]


async def image(ctx: Context, size: int) -> Reply:
    """An image of random noise (incompressible), size x size pixels."""
    from PIL import Image as PILImage

    noise = PILImage.frombytes("RGB", (size, size), os.urandom(size * size * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG")
    return Image(filename="noise.png", data=out.getvalue(), alt="random noise", caption="noise")


async def bigfile(ctx: Context) -> Reply:
    """A file over Discord's upload limit."""
    return File(filename="answers.csv", data=b"x" * (11 * 1024 * 1024), caption="all answers")


async def queue(ctx: Context) -> Reply:
    """Pretend to queue a job: remember where its result goes."""
    DESTINATIONS.append(ctx.destination)
    return Text(text="Queued job 1.")


async def admin(ctx: Context) -> Reply:
    """Instructors only."""
    return Text(text="ok")


def _cmd(name: str, handler: Any, *options: Option, **extra: Any) -> Command:
    settings = {"rate_limited": False, **extra}
    return Command(name=name, handler=handler, options=tuple(options), **settings)


COMMANDS = [
    HELP,
    _cmd("whoami", whoami),
    _cmd("whisper", whisper, Option("text", str, "Words", rest=True, max_length=100)),
    _cmd("slowsecret", slow_secret),
    _cmd("shout", shout, Option("text", str, "Words", required=True, rest=True, max_length=100)),
    _cmd("progress", progress, Option("steps", int, "How many", default=8, min_value=1)),
    _cmd("vote", vote),
    _cmd("form", form, Option("kind", str, "Which", required=True, max_length=100)),
    _cmd("slowform", slow_form),
    _cmd(
        "answer",
        answer,
        Option("kind", str, "Which", required=True, max_length=100),
        Option("text", str, "Answer", required=True, max_length=500),
        Option("note", str, "Note", default="no note", max_length=100),
        rate_limited=True,  # a write, as /activity submit
    ),
    _cmd("long", long),
    _cmd("image", image, Option("size", int, "Pixels", default=64)),
    _cmd("bigfile", bigfile),
    _cmd("queue", queue),
    _cmd("admin", admin, role=Role.INSTRUCTOR),
]
