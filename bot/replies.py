"""Replies are values: what a command says, with no platform formatting.

Adapters map each type to their platform (embeds, Block Kit, terminal text). Handlers build
these and never format for a platform. Text inside replies is plain user-visible text:
adapters escape mentions and markup, so a handler may safely echo what a student typed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Literal

ButtonStyle = Literal["primary", "secondary", "danger"]


@dataclass(frozen=True, kw_only=True)
class Button:
    """A button whose click runs `action` (a command line) as the user who clicked.

    Actions are ordinary command lines, e.g. "/imagine reroll job:12", so every button is
    validated, permission-checked and rate-limited like a typed command. Keep them short:
    Discord custom ids hold 100 characters.
    """

    label: str
    action: str
    style: ButtonStyle = "secondary"


@dataclass(frozen=True, kw_only=True)
class Reply:
    buttons: tuple[Button, ...] = ()
    # Only the person who ran the command sees a private reply (Discord ephemeral,
    # Slack ephemeral, console: printed as usual).
    private: bool = False
    # False for a reply with nothing in it to share (a job's cancellation): a quiet
    # channel gives it no Share button (bot/share.py).
    shareable: bool = True


@dataclass(frozen=True, kw_only=True)
class Text(Reply):
    text: str


@dataclass(frozen=True, kw_only=True)
class Field:
    name: str
    value: str
    inline: bool = True


@dataclass(frozen=True, kw_only=True)
class Card(Reply):
    title: str
    description: str = ""
    fields: tuple[Field, ...] = ()
    url: str | None = None
    footer: str | None = None
    thumbnail_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class Table(Reply):
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    footer: str | None = None


@dataclass(frozen=True, kw_only=True)
class File(Reply):
    """An attachment: a CSV export, a generated image, ..."""

    filename: str
    data: bytes
    mime: str = "application/octet-stream"
    caption: str = ""


@dataclass(frozen=True, kw_only=True)
class Image(File):
    alt: str = ""
    mime: str = "image/png"


@dataclass(frozen=True, kw_only=True)
class Progress(Reply):
    """Work in progress; adapters edit one message in place rather than posting many."""

    step: int
    total: int
    label: str = ""

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, max(0.0, self.step / self.total))

    @property
    def line(self) -> str:
        """The progress as one line of text: a bar and step/total, or, while the total is
        unknown (a model loading, a download of unknown size), the label alone rather than
        an empty bar reading "0/0"."""
        if self.total <= 0:
            return f"⏳ {self.label}".rstrip()
        return f"{meter(self.fraction)} {self.step}/{self.total} {self.label}".rstrip()


@dataclass(frozen=True, kw_only=True)
class Error(Reply):
    """Something the user can fix: what went wrong and what to type instead."""

    what: str
    todo: str = ""
    usage: str | None = None
    # An internal failure carries a reference the user can quote to an instructor.
    ref: str | None = None
    private: bool = True


@dataclass(frozen=True, kw_only=True)
class ModalField:
    name: str
    label: str
    multiline: bool = False
    max_length: int = 4000
    placeholder: str = ""
    required: bool = True
    default: str = ""
    # A file to attach instead of text, where the platform's forms take files (Discord's
    # file upload, Slack's file input); its value is the attached file, as a command's
    # file option gets it.
    upload: bool = False


@dataclass(frozen=True, kw_only=True)
class Modal(Reply):
    """A form. On submit the adapter runs `submit_action` with the fields as options."""

    title: str
    fields: tuple[ModalField, ...]
    submit_action: str
    # Shown where forms do not exist (the console): how to do the same inline.
    fallback: str = ""


@dataclass(frozen=True)
class Placed:
    """One reply of a command and the chat message it belongs in (see `in_messages`)."""

    reply: Reply
    # Replies with the same key are one message: each replaces the one before it.
    key: str
    # No other reply shares this message: post it, nothing will edit it.
    alone: bool


async def in_messages(
    replies: AsyncIterable[Reply], prefix: str = "reply"
) -> AsyncIterator[Placed]:
    """How one command's replies group into chat messages, the rule every adapter follows.

    A Progress opens a message that the next replies edit in place: later progress, then
    the first reply that is not progress (the result), which closes it. Every other reply
    is a message of its own. So `/imagine` shows one message going from "step 1/4" to the
    picture, and a handler that returns [card, file] posts two messages. Keys are
    `<prefix>:<n>`: give a prefix unique to the command where keys outlive it (Slack keeps
    message slots per channel).
    """
    number, opened = 0, False
    async for reply in replies:
        progress = isinstance(reply, Progress)
        yield Placed(reply=reply, key=f"{prefix}:{number}", alone=not (progress or opened))
        opened = progress
        if not progress:
            number += 1


def meter(fraction: float, width: int = 10) -> str:
    """A text bar such as ▓▓▓▓░░░░░░ for progress and meters."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "▓" * filled + "░" * (width - filled)


def as_plain_text(reply: Reply) -> str:
    """A readable plain-text form of any reply (console, logs, notification fallbacks)."""
    lines: list[str] = []
    match reply:
        case Error():
            lines.append(f"Error: {reply.what}")
            if reply.todo:
                lines.append(reply.todo)
            if reply.usage:
                lines.append(f"Usage: {reply.usage}")
            if reply.ref:
                lines.append(f"(reference: {reply.ref})")
        case Text():
            lines.append(reply.text)
        case Card():
            lines.append(f"== {reply.title} ==")
            if reply.url:
                lines.append(reply.url)
            if reply.description:
                lines.append(reply.description)
            lines.extend(_plain_field(field) for field in reply.fields)
            if reply.footer:
                lines.append(reply.footer)
        case Table():
            lines.append(f"== {reply.title} ==")
            lines.append(format_table(reply.columns, reply.rows))
            if reply.footer:
                lines.append(reply.footer)
        case File():
            lines.append(f"[{reply.filename}] {reply.caption}".rstrip())
        case Progress():
            lines.append(reply.line)
        case Modal():
            lines.append(reply.fallback or f"{reply.title}: use {reply.submit_action}")
        case _:
            lines.append(repr(reply))
    if reply.buttons:
        lines.append("  ".join(f"[{b.label}: {b.action}]" for b in reply.buttons))
    return "\n".join(lines)


def _plain_field(field: Field) -> str:
    if "\n" not in field.value:
        return f"{field.name}: {field.value}"
    return f"{field.name}:\n" + "\n".join(f"  {line}" for line in field.value.splitlines())


def format_table(columns: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> str:
    """Fixed-width columns, for monospace output (console, code blocks)."""
    widths = [len(c) for c in columns]
    for row in rows:
        for i, cell in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], len(cell))
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*columns), "  ".join("-" * w for w in widths)]
    out.extend(fmt.format(*(list(row) + [""] * (len(columns) - len(row)))) for row in rows)
    return "\n".join(line.rstrip() for line in out)


def rewrite_text(reply: Reply, change: Callable[[str], str]) -> Reply:
    """The reply with `change` applied to every text a person reads (not to button actions,
    which the router runs, nor to file data). Adapters use it to write commands as their
    platform wants them typed (Slack: `/classbot search`)."""
    buttons = tuple(replace(b, label=change(b.label)) for b in reply.buttons)
    match reply:
        case Error():
            return replace(
                reply,
                buttons=buttons,
                what=change(reply.what),
                todo=change(reply.todo),
                usage=change(reply.usage) if reply.usage else reply.usage,
            )
        case Text():
            return replace(reply, buttons=buttons, text=change(reply.text))
        case Card():
            fields = tuple(
                replace(f, name=change(f.name), value=change(f.value)) for f in reply.fields
            )
            return replace(
                reply,
                buttons=buttons,
                title=change(reply.title),
                description=change(reply.description),
                fields=fields,
                footer=change(reply.footer) if reply.footer else reply.footer,
            )
        case Table():
            footer = change(reply.footer) if reply.footer else reply.footer
            return replace(reply, buttons=buttons, title=change(reply.title), footer=footer)
        case File():
            return replace(reply, buttons=buttons, caption=change(reply.caption))
        case Progress():
            return replace(reply, buttons=buttons, label=change(reply.label))
        case Modal():
            return replace(reply, buttons=buttons, fallback=change(reply.fallback))
    return replace(reply, buttons=buttons)


# -- text for chat -----------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: str) -> str:
    """Text as chat text: no control characters, no runs of blank lines."""
    text = _CONTROL.sub("", text.replace("\t", " "))
    return re.sub(r"\n{3,}", "\n\n", text)


def clip(text: str, limit: int) -> str:
    """Cut at a word boundary when one is near, and say that it was cut."""
    text = clean(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"
