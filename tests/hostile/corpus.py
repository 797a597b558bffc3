"""The hostile-input corpus (data/corpus.txt): reading it, and which command each line names.

`⟪U+0000⟫` in a line is that code point and `⟪text*N⟫` is text repeated N times, so the file
stays readable while it holds NUL bytes, lone surrogates and 10,000-character words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.commandline import next_word
from bot.declare import Command
from bot.router import Router

PATH = Path(__file__).parent / "data" / "corpus.txt"
_CODE_POINT = re.compile(r"⟪U\+([0-9A-Fa-f]{4,6})⟫")
_REPEAT = re.compile(r"⟪(.+?)\*(\d+)⟫")
# NUL and surrogates: what PostgreSQL and UTF-8 refuse.
_STORE_HOSTILE = re.compile(r"⟪U\+(0000|D[89A-F][0-9A-F]{2})⟫", re.IGNORECASE)


@dataclass(frozen=True)
class Line:
    number: int  # in the file, for messages
    written: str  # as the file writes it
    typed: str  # what the student types

    def __str__(self) -> str:
        shown = self.written if len(self.written) <= 120 else self.written[:117] + "..."
        return f"corpus.txt:{self.number}: {shown}"


def expand(written: str) -> str:
    """A corpus line as typed: markups replaced by what they stand for."""
    text = _REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), written)
    return _CODE_POINT.sub(lambda m: chr(int(m.group(1), 16)), text)


def read(path: Path = PATH) -> list[Line]:
    lines = []
    for number, written in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if written.strip() and not written.startswith("#"):
            lines.append(Line(number, written, expand(written)))
    return lines


def postgres_sample(lines: list[Line], size: int = 50) -> list[Line]:
    """About `size` lines, in order, for PostgreSQL, which differs from SQLite on stored text:
    every line holding a NUL or a surrogate, the first activity (later lines answer it), and
    an even spread of the rest."""
    first_post = next(line for line in lines if line.written.startswith("/activity post"))
    special = [line for line in lines if _STORE_HOSTILE.search(line.written)]
    chosen = {first_post.number, *(line.number for line in special)}
    rest = [line for line in lines if line.number not in chosen]
    step = max(1, len(rest) // max(1, size - len(chosen)))
    chosen.update(line.number for line in rest[::step])
    return [line for line in lines if line.number in chosen]


def declared_path(router: Router, written: str) -> tuple[str, ...] | None:
    """The command, subcommand and verbs a line names (as declared), or None for a line
    that names no command."""
    head, rest = next_word(written)
    command = router.commands.get(head.removeprefix("/").lower())
    if command is None:
        return None
    path: tuple[str, ...] = (command.name,)
    if command.subcommands:
        word, rest = next_word(rest)
        sub = command.subcommand(word.lower())
        if sub is None:
            return path
        path, command = (*path, sub.name), sub
    while command.verbs:
        word, rest = next_word(rest)
        verb = command.verb(word) if word else None
        if verb is None:
            break
        path, command = (*path, verb.name), verb
    return path


def runnable(router: Router) -> Iterator[tuple[tuple[str, ...], Command]]:
    """Every command, subcommand and verb that /help lists, with its path."""
    for path, command in router.walk():
        yield from command.with_verbs(path)
