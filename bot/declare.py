"""What a command declares: typed options with limits, subcommands, verbs, who may run it.

The declarations check themselves (`check`): the router refuses to start when a handler's
parameters and its declared options disagree, when a text option has no length limit, or
when a number option's bounds do not fit a 64-bit database integer. A mistake in a command
file then fails the first test that builds a router, not a student's command in class.
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.attachments import MAX_REFERENCE, Attachment
from bot.commandline import sendable
from bot.hub.links import RepoKind, repo_id
from bot.identity import Role

if TYPE_CHECKING:
    from bot.services import Services

# An Attachment option takes a platform's file (Discord), or a reference typed as text (a
# Slack link, a console path) that the router resolves through the platform's source.
OptionValue = str | int | float | bool | Attachment
Completer = Callable[["Services", str], Awaitable[Sequence[str]]]
Handler = Callable[..., Any]

# Every whole number a student types ends up in (or is compared with) a BIGINT column.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# A Hub repo id ("owner/name", at most 96 characters today) with room to spare; a longer one
# would reach the Hub or the disk as a path part over their limits.
MAX_REPO_ID = 200
# A task, library or other single name typed as an option.
MAX_NAME = 100
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}
_TYPE_WORDS: dict[type, str] = {
    str: "text",
    int: "number",
    float: "number",
    Attachment: "file",
}


class DeclarationError(ValueError):
    """A command's declaration contradicts its handler or the router's rules."""


# Usage lines name an option's choices up to this many, and the option otherwise.
MAX_CHOICES_IN_USAGE = 8


@dataclass(frozen=True)
class Option:
    name: str
    type: type[OptionValue]
    description: str
    required: bool = False
    default: OptionValue | None = None
    min_value: float | None = None
    max_value: float | None = None
    choices: tuple[str, ...] = ()
    max_length: int | None = None
    # Takes the free words of a typed line ("/search gpt neo" → text="gpt neo").
    rest: bool = False
    # Free words kept as typed, a `name:value` inside them too (an answer that says "the
    # model with id:3 was slowest"): the command's options go before or after them.
    verbatim: bool = False
    # Free words that search names on the Hub, where no name holds a colon: a typed
    # `license:mit` among them is a mistyped option, answered as one.
    search_words: bool = False
    # A list with this between its items (labels:a,b,c). Typed, the value goes on past a
    # separator and spaces: `labels:sport, politics` is two labels, not one and some text.
    separator: str = ""
    # Prose (a context, sentences): typed without quotes, the value runs to the end of its
    # line or the next option, not to the first space.
    to_line_end: bool = False
    # A name people type as words (task:Text Classification): typed without quotes, the
    # value takes the words after it on its line when together they make a name this
    # accepts.
    phrase: Callable[[str], bool] | None = None
    # "model" or "dataset": a pasted Hub page address (huggingface.co/<owner>/<name>/tree/
    # main) is read as the id of the repo it shows (bot/hub/links.py).
    repo: RepoKind = ""
    # Names people type for this option, having met them on another command (/dataset's
    # id:, on /search): an unknown option by one of them suggests this one.
    mistyped_as: tuple[str, ...] = ()
    # Suggests values as the user types (Discord autocomplete); at most 25 are shown.
    complete: Completer | None = None

    def usage(self) -> str:
        """How the option is written, e.g. `steps:1-50`, `[sort:likes|downloads]`, `[text]`."""
        if self.rest:
            return f"<{self.name}>" if self.required else f"[{self.name}]"
        if self.choices and len(self.choices) > MAX_CHOICES_IN_USAGE:
            # /run's sixteen tasks would make every usage line a paragraph; the option's
            # help (/help <command>) lists them.
            shape = f"<{self.name}>"
        elif self.choices:
            shape = "|".join(self.choices)
        elif self.type is bool:
            shape = "true|false"
        elif (
            self.type in (int, float) and self.min_value is not None and self.max_value is not None
        ):
            shape = f"{_num(self.min_value)}-{_num(self.max_value)}"
        else:
            shape = f"<{_TYPE_WORDS[self.type]}>"
        return f"{self.name}:{shape}" if self.required else f"[{self.name}:{shape}]"


@dataclass(frozen=True)
class Command:
    """One slash command, one subcommand of a group (`/activity post`), or one verb.

    A verb is a sub-action typed as the first word of the command's free text
    (`/search guess`, `/search guess reveal`): it has its own handler, options and role, and
    may have verbs of its own. See the router's docstring for how verbs are resolved.
    """

    name: str
    handler: Handler | None = None
    options: tuple[Option, ...] = ()
    role: Role = Role.STUDENT
    examples: tuple[str, ...] = ()
    subcommands: tuple[Command, ...] = ()
    description: str = ""
    rate_limited: bool = True
    verbs: tuple[Command, ...] = ()
    # Exploring the Hub or a model (/search, /generate, ...): the answer is for the student
    # alone, with a Share button, unless the class chose public replies (bot/share.py).
    exploration: bool = False
    # Its effect must survive a crash (an answer, a posted activity, a queued job): the
    # adapters save it in the inbox before acknowledging it and replay it after a restart
    # (bot/inbox.py). Reads are not durable: after a restart one simply asks again.
    durable: bool = False

    @property
    def help(self) -> str:
        """The full help text: the handler's docstring, or the description."""
        doc = inspect.getdoc(self.handler) if self.handler else None
        return (doc or self.description or self.name).strip()

    @property
    def summary(self) -> str:
        """The first sentence, on one line (Discord descriptions hold 100 characters): a
        docstring's first line may stop mid-sentence."""
        paragraph = " ".join((self.description or self.help).split("\n\n")[0].split())
        sentence = re.split(r"(?<=\.)\s", paragraph, maxsplit=1)[0]
        return sentence if len(sentence) <= 100 else sentence[:99].rstrip() + "…"

    @property
    def rest_option(self) -> Option | None:
        return next((o for o in self.options if o.rest), None)

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def subcommand(self, name: str) -> Command | None:
        return next((c for c in self.subcommands if c.name == name), None)

    def verb(self, name: str) -> Command | None:
        return next((c for c in self.verbs if c.name == name.lower()), None)

    def with_verbs(self, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Command]]:
        """This command and every verb below it, each with its path."""
        yield path, self
        for verb in self.verbs:
            yield from verb.with_verbs((*path, verb.name))

    def all_options(self) -> tuple[Option, ...]:
        """The options of this command and of its verbs, each name once (a platform that
        cannot nest verbs, such as Discord, offers them all on the command)."""
        found: dict[str, Option] = {}
        for _, declared in self.with_verbs(()):
            for option in declared.options:
                found.setdefault(option.name, option)
        return tuple(found.values())


# -- values ---------------------------------------------------------------------------------


def int_bounds(option: Option) -> tuple[float, float]:
    """The bounds a value must keep: the declared ones, and never beyond a 64-bit integer."""
    low = INT64_MIN if option.min_value is None else max(option.min_value, INT64_MIN)
    high = INT64_MAX if option.max_value is None else min(option.max_value, INT64_MAX)
    return low, high


def coerce(option: Option, value: object) -> OptionValue:
    """One raw value (text or already typed) as the option's type, within its limits."""
    result: OptionValue
    if option.type is Attachment:
        return _as_attachment(value)
    if option.type is bool:
        result = _as_bool(value)
    elif option.type is int:
        result = _as_int(value)
    elif option.type is float:
        result = _as_float(value)
    else:
        # Typed lines are made sendable by the router; values typed into a platform's own
        # form (Discord options) arrive here first.
        result = sendable(str(value)).strip()
    if option.choices:
        # Choices are written with hyphens; people type the words apart ("text
        # classification", "how_to_use").
        lowered = "-".join(str(result).lower().replace("_", " ").split())
        if lowered not in option.choices:
            close = difflib.get_close_matches(lowered, option.choices, n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise ValueError(f"choose one of {', '.join(option.choices)}.{hint}")
        return lowered
    if option.repo and isinstance(result, str):
        items = result.split(option.separator) if option.separator else [result]
        result = option.separator.join(repo_id(item.strip(), option.repo) for item in items)
    if isinstance(result, (int, float)) and not isinstance(result, bool):
        _check_range(option, result)
    if isinstance(result, str) and option.max_length and len(result) > option.max_length:
        raise ValueError(
            f"is {len(result):,} characters; the limit is {option.max_length:,}. Shorten it."
        )
    return result


def _check_range(option: Option, number: float) -> None:
    if option.type is int:
        low, high = int_bounds(option)
    else:
        low = -math.inf if option.min_value is None else option.min_value
        high = math.inf if option.max_value is None else option.max_value
    if low <= number <= high:
        return
    if option.min_value is not None and option.max_value is not None:
        raise ValueError(f"must be between {_num(low)} and {_num(high)}.")
    if number < low:
        raise ValueError(f"must be at least {_num(low)}.")
    raise ValueError(f"must be at most {_num(high)}.")


def _num(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return str(int(value)) if float(value).is_integer() else str(value)


def _as_attachment(value: object) -> OptionValue:
    """A platform's file as it came, or the reference typed for one (resolved later)."""
    if isinstance(value, Attachment):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a file.")
    text = sendable(value).strip()
    if len(text) > MAX_REFERENCE:
        raise ValueError(f"is {len(text):,} characters; a file's link or path is shorter.")
    return text


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {clipped(value)!r}.")


# How much of a bad value a reply quotes back: enough to recognise it, not a pasted page.
QUOTED = 40


def clipped(value: object) -> str:
    """What someone typed, as a reply quotes it back (cut past QUOTED characters)."""
    text = str(value)
    return text if len(text) <= QUOTED else text[: QUOTED - 1] + "…"


def _as_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip().replace("_", "").replace(",", "")
    # `id:#3` as lists show ids, `limit:5.` at the end of a sentence.
    text = text.removeprefix("#").removesuffix(".")
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, got {clipped(value)!r}.") from None


def _as_float(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # a whole number past any float (JSON from a platform)
            raise ValueError("expected a number, got one too large to compute with.") from None
    else:
        typed = str(value).strip()
        try:
            number = float(typed)
        except ValueError:
            # 1,5 as many countries write it: say how to write it here.
            if re.fullmatch(r"[+-]?\d*,\d+", typed):
                point = typed.replace(",", ".")
                raise ValueError(
                    f"expected a number, got {clipped(value)!r}. Write it with a point: {point}."
                ) from None
            raise ValueError(f"expected a number, got {clipped(value)!r}.") from None
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {clipped(value)!r}.")
    return number


# -- the self-check -------------------------------------------------------------------------


def check(command: Command) -> None:
    """Raise DeclarationError, naming the command and the option, for a declaration the
    router cannot serve as written (module docstring)."""
    if command.subcommands:
        if command.handler is not None or command.verbs:
            raise DeclarationError(f"/{command.name}: a group has no handler or verbs of its own")
        for sub in command.subcommands:
            for path, declared in sub.with_verbs((command.name, sub.name)):
                _check_one(path, declared)
        return
    for path, declared in command.with_verbs((command.name,)):
        _check_one(path, declared)
    _check_union(command)


def _check_one(path: tuple[str, ...], command: Command) -> None:
    where = "/" + " ".join(path)
    if command.handler is None:
        raise DeclarationError(f"{where} has no handler")
    names = [o.name for o in command.options]
    if len(set(names)) != len(names):
        raise DeclarationError(f"{where} declares an option twice: {names}")
    if sum(o.rest for o in command.options) > 1:
        raise DeclarationError(f"{where}: only one option can take the free text")
    if command.verbs and command.rest_option is None:
        raise DeclarationError(f"{where} has verbs but no free-text option to type them in")
    for option in command.options:
        _check_limits(where, option)
    _check_signature(where, command.handler, command.options)


def _check_limits(where: str, option: Option) -> None:
    name = f"{where} option {option.name}:"
    if option.type is str and not option.choices and not option.max_length:
        raise DeclarationError(f"{name} a text option needs max_length (or choices)")
    if option.type is int:
        for bound in (option.min_value, option.max_value):
            if bound is not None and not INT64_MIN <= bound <= INT64_MAX:
                raise DeclarationError(f"{name} bound {bound} does not fit a 64-bit integer")
    low, high = option.min_value, option.max_value
    if low is not None and high is not None and low > high:
        raise DeclarationError(f"{name} min_value {low} is above max_value {high}")
    if option.required and option.default is not None:
        raise DeclarationError(f"{name} a required option has no default")


def _check_signature(where: str, handler: Handler, options: tuple[Option, ...]) -> None:
    parameters = list(inspect.signature(handler).parameters.values())[1:]  # after ctx
    by_name = {p.name: p for p in parameters}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    qualname = getattr(handler, "__qualname__", repr(handler))
    for option in options:
        parameter = by_name.get(option.name)
        if parameter is None:
            if takes_any:
                continue
            raise DeclarationError(
                f"{where} option {option.name}: the handler {qualname} has no such parameter"
            )
        if option.default is None and not option.required and not _allows_none(parameter):
            raise DeclarationError(
                f"{where} option {option.name}: it is optional without a default, so the "
                f"handler {qualname} gets None, but its parameter does not accept None"
            )
        if parameter.default is not inspect.Parameter.empty and (
            option.required or parameter.default != option.default
        ):
            raise DeclarationError(
                f"{where} option {option.name}: the handler {qualname} defaults to "
                f"{parameter.default!r}, the declaration to "
                f"{'nothing (required)' if option.required else repr(option.default)}"
            )
    declared = {o.name for o in options}
    for parameter in parameters:
        if parameter.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        if parameter.name not in declared and parameter.default is inspect.Parameter.empty:
            raise DeclarationError(
                f"{where}: the handler {qualname} wants {parameter.name}, "
                "which is not a declared option"
            )


def _allows_none(parameter: inspect.Parameter) -> bool:
    annotation = parameter.annotation
    if annotation is inspect.Parameter.empty:
        return True
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return "None" in text or "Optional" in text or text in ("Any", "typing.Any", "object")


def _check_union(command: Command) -> None:
    """Options of the same name in a command and its verbs must be the same kind of value:
    a flat platform (Discord) offers them as one option."""
    seen: dict[str, tuple[str, Option]] = {}
    for path, declared in command.with_verbs((command.name,)):
        for option in declared.options:
            first = seen.setdefault(option.name, ("/" + " ".join(path), option))
            if first[1].type is not option.type or first[1].choices != option.choices:
                raise DeclarationError(
                    f"/{' '.join(path)} option {option.name}: {first[0]} declares it "
                    "with another type or choices"
                )
