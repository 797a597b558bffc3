"""Split a typed command line into words and `name:value` pairs.

`/search gpt neo task:text-generation sort:likes` → words ["search", "gpt", "neo"],
pairs {"task": ..., "sort": ...}. Double quotes group spaces: `prompt:"a red fox"`.
Single quotes are apostrophes ("don't"), not quotes: students type them in prose.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

# Chat clients (Slack on macOS, phones) turn straight quotes into curly ones.
_CURLY = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'"})
_PAIR = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*):(.*)$", re.DOTALL)


class CommandLineError(ValueError):
    """The line cannot be split (e.g. a quote is not closed)."""


@dataclass
class SplitLine:
    words: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)


def tokenize(line: str) -> list[str]:
    lexer = shlex.shlex(line.translate(_CURLY), posix=True)
    lexer.whitespace_split = True
    lexer.quotes = '"'
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError as error:
        raise CommandLineError('a double quote (") is not closed') from error


def split_line(line: str) -> SplitLine:
    """Split a line; a token is a `name:value` pair when it starts with an identifier
    and a colon (a URL such as "http://x" stays a word). Callers report unknown names."""
    result = SplitLine()
    for token in tokenize(line.strip()):
        match = _PAIR.match(token)
        if match and not match.group(2).startswith("//"):
            result.pairs.append((match.group(1).lower(), match.group(2)))
        else:
            result.words.append(token)
    if result.words and result.words[0].startswith("/"):
        result.words[0] = result.words[0][1:]
    return result


def quote(value: str) -> str:
    """Write a value so that `tokenize` gives it back as one token."""
    if value and not re.search(r'[\s"\\]', value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
