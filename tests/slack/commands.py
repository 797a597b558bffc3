"""Test-only commands for the Slack adapter, added to a test Router next to the real ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bot.replies import (
    Button,
    Card,
    Field,
    Image,
    Modal,
    ModalField,
    Progress,
    Reply,
    Table,
    Text,
)
from bot.router import Command, Context, Option

PNG = b"\x89PNG\r\n\x1a\n" + b"fake image bytes" * 10


async def start(ctx: Context) -> Reply:
    """Start a quiz round: a card with an Answer button."""
    return Card(
        title="Round 7",
        description="What does a tokenizer do?",
        buttons=(
            Button(label="Answer", action="/quiz form round:7", style="primary"),
            Button(label="Skip", action="/quiz skip"),
        ),
    )


async def form(ctx: Context, round: int) -> Reply:
    """The answer form of a round."""
    return Modal(
        title="Your answer to round 7 of the quiz",
        fields=(
            ModalField(name="answer", label="Your answer", multiline=True, max_length=50),
            ModalField(name="note", label="A note", required=False),
        ),
        submit_action=f"/quiz answer round:{round}",
        fallback=f"Answer with /quiz answer round:{round} answer:...",
    )


async def answer(ctx: Context, round: int, answer: str, note: str | None) -> Reply:
    """Record an answer."""
    who = f"{ctx.actor.display_name} ({ctx.actor.role.value}, {ctx.actor.user_id})"
    return Text(text=f"{who} answered round {round}: {answer}" + (f" [{note}]" if note else ""))


async def skip(ctx: Context) -> Reply:
    """Skip a round."""
    return Text(text=f"{ctx.actor.display_name} skipped.")


QUIZ = Command(
    name="quiz",
    description="A test quiz: button → modal → submit.",
    subcommands=(
        Command(name="start", handler=start),
        Command(name="form", handler=form, options=(Option("round", int, "Round", required=True),)),
        Command(
            name="answer",
            handler=answer,
            options=(
                Option("round", int, "Round", required=True),
                Option("answer", str, "Answer", required=True, max_length=50),
                Option("note", str, "Note", max_length=100),
            ),
        ),
        Command(name="skip", handler=skip),
    ),
    rate_limited=False,
)


async def echo(ctx: Context, text: str) -> Reply:
    """Say the text back, as a public message."""
    return Text(text=text)


ECHO = Command(
    name="echo",
    handler=echo,
    options=(Option("text", str, "What to say", required=True, rest=True, max_length=100),),
    rate_limited=False,
)


async def big(ctx: Context, fields: int, size: int) -> Reply:
    """A card far past Block Kit's limits."""
    return Card(
        title="A very long card " + "x" * 300,
        description="d" * (size * 3),
        fields=tuple(
            Field(name=f"field {i}", value=f"{i}:" + "v" * size, inline=i % 3 != 0)
            for i in range(fields)
        ),
        footer="the end",
        buttons=(Button(label="More", action="/help"),),
    )


BIG = Command(
    name="big",
    handler=big,
    options=(
        Option("fields", int, "Fields", default=120),
        Option("size", int, "Size", default=2500),
    ),
    rate_limited=False,
)


async def table(ctx: Context, rows: int) -> Reply:
    """A long table."""
    return Table(
        title="Scores",
        columns=("student", "answer"),
        rows=tuple((f"student {i}", "a <b> & c " * 5) for i in range(rows)),
        footer="sorted by name",
    )


TABLE = Command(
    name="table",
    handler=table,
    options=(Option("rows", int, "Rows", default=10),),
    rate_limited=False,
)


async def draw(ctx: Context, steps: int, pause: float) -> AsyncIterator[Reply]:
    """Progress, then an image with a button."""
    for step in range(1, steps + 1):
        yield Progress(step=step, total=steps, label="drawing")
        await asyncio.sleep(pause)
    yield Image(
        filename="fox.png",
        data=PNG,
        caption="a red fox <!here>",
        alt="a fox",
        buttons=(Button(label="Re-roll", action="/draw steps:1"),),
    )


DRAW = Command(
    name="draw",
    handler=draw,
    options=(
        Option("steps", int, "Steps", default=3),
        Option("pause", float, "Seconds between steps", default=0.0),
    ),
    rate_limited=False,
)


async def secret(ctx: Context) -> Reply:
    """A private file."""
    return Image(filename="mine.png", data=PNG, caption="only yours", private=True)


SECRET = Command(name="secret", handler=secret, rate_limited=False)

TEST_COMMANDS = (QUIZ, ECHO, BIG, TABLE, DRAW, SECRET)
