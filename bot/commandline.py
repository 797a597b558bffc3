"""Read a typed command line: the command's words, its `name:value` options, its free text.

Only the names a command declares are options: `/activity submit Note: the 8B model was
refused` is all answer text, because /activity submit has no `note` option. So a line is
read in two steps: `next_word` takes the command (and subcommand, verb) words off the front,
then `split_options` reads the rest knowing the declared names.

Free text is kept exactly as typed: spaces, newlines, quotes (a lone `"` too) and
apostrophes. Only what no reply or database can carry (NUL, lone surrogates) becomes U+FFFD
(`sendable`, which the router applies to every typed line and text option).

A declared option's value may be quoted to hold spaces (`prompt:"a red fox"`); only those
surrounding quotes are removed (`\\"` inside them is a quote).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

# Chat clients (Slack on macOS, phones) turn straight quotes into curly ones.
_OPENING = '"“„«'
_CLOSING = '"”“»'
_ESCAPED = _OPENING + _CLOSING + "\\"
_PAIR = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):")
_SPACE = re.compile(r"\s+")
_GAP = re.compile(r"[ \t]+")  # spaces within a line
# Code points that no reply or database can carry: UTF-16 surrogates (a chat platform's JSON
# can hold a lone one, UTF-8 cannot) and NUL (PostgreSQL text refuses it).
_UNSENDABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"
# What ends a typed sentence and belongs to no name: `/jobs.`, `/help search.`
SENTENCE_END = ".,!?;"


class CommandLineError(ValueError):
    """An option's quoted value is not closed."""


@dataclass
class SplitLine:
    """The options given by name, in order, and the free text as typed (stripped)."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""


def sendable(text: str) -> str:
    """`text` with every code point that UTF-8 or PostgreSQL cannot hold shown as U+FFFD."""
    return _UNSENDABLE.sub(REPLACEMENT, text)


def next_word(text: str) -> tuple[str, str]:
    """The first word of a line and the rest exactly as typed (leading spaces dropped)."""
    text = text.lstrip()
    match = _SPACE.search(text)
    if match is None:
        return text, ""
    return text[: match.start()], text[match.end() :]


def split_options(
    text: str,
    names: Collection[str],
    *,
    lists: Mapping[str, str] | None = None,
    prose: Collection[str] = (),
    phrases: Mapping[str, Callable[[str], bool]] | None = None,
    around_text: bool = False,
    label: str = "",
) -> SplitLine:
    """Take every `name:value` whose name is in `names` out of `text`; the rest is free text.

    An option starts a word, its name is declared and a value follows the colon at once:
    a URL (`http://x`), `key=value&a:b` and `Answer: Paris` stay text. An unquoted value
    ends at the first space, except that of a list option (`lists`: name → separator),
    which goes on over the spaces around a separator as people type lists (`labels:sport,
    politics ,cooking`), and that of a `prose` option, which runs to the end of its line or
    the next option (`context:Ada lives in Paris.`), and that of a `phrases` option (name →
    what it accepts), which takes the following words of its line too when they make
    a name it accepts (`task:Text Classification`). With `around_text`, options are read
    before and after the free text only: one inside it is part of it (an answer that
    says "the model with id:3 was slowest"). `label` is the free text's own option name:
    written as an option before the text begins (`prompt:Once upon a time`), it names the
    text and is not part of it, and alone (`prompt:`) it names no text; followed by a space
    it is prose like any name (`answer: the third one` is an answer as typed), and a quoted
    value (`prompt:"a fox"`) is read as an option's.
    Raises CommandLineError when a quoted option value is not closed.
    """
    reader = _OptionReader(names, lists or {}, prose, phrases or {})
    result = SplitLine()
    kept: list[str] = []
    text_started = False
    at = 0
    while at < len(text):
        if not text_started and _labels_text(text, at, label):
            at += len(label) + 1
            text_started = True
            continue
        found = reader.read(text, at)
        inside_text = around_text and text_started
        if found is None or (inside_text and not reader.only_options(text, at)):
            text_started = text_started or not text[at].isspace()
            kept.append(text[at])
            at += 1
            continue
        name, value, at = found
        result.pairs.append((name, value))
        # The option leaves one gap in the text, not two.
        while kept and kept[-1] in " \t":
            kept.pop()
        while at < len(text) and text[at] in " \t":
            at += 1
        line_start = not kept or kept[-1] == "\n"
        if line_start and text.startswith("\n", at):
            at += 1  # an option on a line of its own leaves no empty line
        elif not line_start and at < len(text) and text[at] != "\n":
            kept.append(" ")
    result.text = "".join(kept).strip()
    return result


@dataclass(frozen=True)
class _OptionReader:
    """How each declared option's value is read (see split_options)."""

    names: Collection[str]
    lists: Mapping[str, str]
    prose: Collection[str]
    phrases: Mapping[str, Callable[[str], bool]]

    def read(self, text: str, at: int) -> tuple[str, str, int] | None:
        """The option that starts at `at` (its name, value and end), if one does."""
        match = _PAIR.match(text, at) if _starts_word(text, at) else None
        name = match.group(1).lower() if match else ""
        if match is None or name not in self.names:
            return None
        if match.end() == len(text) or text[match.end()].isspace():
            return None  # `Answer: Paris` is prose, even where `answer` is an option.
        quoted = text.startswith(tuple(_OPENING), match.end())
        if name in self.prose and not quoted:
            value, end = _prose(text, match.end(), self.names)
        elif name in self.phrases and not quoted:
            value, end = _phrase(text, match.end(), self.phrases[name])
        else:
            value, end = _value(text, match.end(), self.lists.get(name, ""))
        return name, value, end

    def only_options(self, text: str, at: int) -> bool:
        """Whether the text from `at` on is options and spaces alone."""
        while at < len(text):
            if text[at].isspace():
                at += 1
                continue
            found = self.read(text, at)
            if found is None:
                return False
            at = found[2]
        return True


def _labels_text(text: str, at: int, label: str) -> bool:
    """Whether `label:` starts a word at `at`, followed by the text itself (not a space or
    a quote) or by nothing."""
    if not label or not text.startswith(label + ":", at) or not _starts_word(text, at):
        return False
    after = at + len(label) + 1
    return after == len(text) or not (text[after].isspace() or text[after] in _OPENING)


def _starts_word(text: str, at: int) -> bool:
    return at == 0 or text[at - 1].isspace()


def _value(text: str, start: int, separator: str = "") -> tuple[str, int]:
    """An option's value starting at `start`, and where it ends."""
    if start < len(text) and text[start] in _OPENING:
        value, end = _quoted(text, start + 1)
        if end < 0:
            raise CommandLineError('a double quote (") is not closed')
        return value, end
    end = _word_end(text, start)
    while separator:
        gap = _GAP.match(text, end)
        if gap is None or gap.end() == len(text):
            break
        if not (text[start:end].endswith(separator) or text.startswith(separator, gap.end())):
            break
        end = _word_end(text, gap.end())
    return text[start:end], end


def _prose(text: str, start: int, names: Collection[str]) -> tuple[str, int]:
    """An unquoted prose value: up to the end of the line or the next declared option."""
    line_end = text.find("\n", start)
    end = len(text) if line_end < 0 else line_end
    for gap in _GAP.finditer(text, start, end):
        match = _PAIR.match(text, gap.end())
        if (
            match is not None
            and match.group(1).lower() in names
            and match.end() < len(text)
            and not text[match.end()].isspace()
        ):
            end = gap.start()
            break
    return text[start:end].rstrip(), end


# The most words a phrase option's value takes ("automatic speech recognition" has three).
MAX_PHRASE_WORDS = 4


def _phrase(text: str, start: int, accepts: Callable[[str], bool]) -> tuple[str, int]:
    """An unquoted value of several words if the words that follow on its line make a
    name `accepts` (the longest such), else its first word; and where it ends."""
    ends = [_word_end(text, start)]
    while len(ends) < MAX_PHRASE_WORDS:
        gap = _GAP.match(text, ends[-1])
        if gap is None or gap.end() == len(text) or text[gap.end()] == "\n":
            break
        ends.append(_word_end(text, gap.end()))
    end = next((e for e in reversed(ends[1:]) if accepts(text[start:e])), ends[0])
    return text[start:end], end


def _word_end(text: str, start: int) -> int:
    match = _SPACE.search(text, start)
    return len(text) if match is None else match.start()


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The text up to the closing quote (backslash escapes a quote or a backslash) and the
    index after it, or -1 when no closing quote ends a word."""
    out: list[str] = []
    at = start
    while at < len(text):
        char = text[at]
        if char == "\\" and at + 1 < len(text) and text[at + 1] in _ESCAPED:
            out.append(text[at + 1])
            at += 2
            continue
        if char in _CLOSING and (at + 1 == len(text) or text[at + 1].isspace()):
            return "".join(out), at + 1
        out.append(char)
        at += 1
    return "", -1


def unquote(text: str) -> str:
    """Free text typed wholly in double quotes, read as a quoted option value is (the quotes
    around it removed, `\\"` inside is a quote); any other text as it is."""
    if len(text) >= 2 and text[0] in _OPENING:
        value, end = _quoted(text, 1)
        if end == len(text):
            return value
    return text


def typed_text(text: str) -> str:
    """Free text meant as one value (an input, a prompt): wholly in double quotes it reads
    like a quoted option value (\\" inside is a quote); wholly in single quotes, without
    them."""
    text = unquote(text.strip())
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]
    return text.strip()


def quote(value: str) -> str:
    """Write an option value so that `split_options` gives it back unchanged."""
    if value and not re.search(r'[\s"“”„«»\\]', value):
        return value
    escaped = re.sub(r'(["“”„«»\\])', r"\\\1", value)
    return f'"{escaped}"'
