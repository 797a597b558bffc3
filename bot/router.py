"""Commands are declared once; the router validates, checks permissions and calls them.

A command module declares `COMMAND = Command(...)`: name, typed options with limits and
choices, who may run it, and a handler whose docstring is the help text. Adapters build
their platform command trees from the same declarations, so a new command appears on
Discord, Slack and the console without adapter changes.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.commandline import CommandLineError, split_line
from bot.delivery import Destination
from bot.errors import UsageError
from bot.identity import Actor, Role
from bot.ratelimit import RateLimiter
from bot.replies import Error, Reply
from bot.store.people import ActorWriter, SeenCache
from bot.store.usage import record_usage_soon

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

OptionValue = str | int | float | bool
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


Completer = Callable[["Services", str], Awaitable[Sequence[str]]]


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
    # Suggests values as the user types (Discord autocomplete); at most 25 are shown.
    complete: Completer | None = None

    def usage(self) -> str:
        """How the option is written, e.g. `steps:1-50`, `[sort:likes|downloads]`, `[text]`."""
        if self.rest:
            return f"<{self.name}>" if self.required else f"[{self.name}]"
        if self.choices:
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


_TYPE_WORDS: dict[type, str] = {str: "text", int: "number", float: "number"}


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


Handler = Callable[..., Any]


@dataclass(frozen=True)
class Command:
    """One slash command (or one subcommand of a group such as `/activity post`)."""

    name: str
    handler: Handler | None = None
    options: tuple[Option, ...] = ()
    role: Role = Role.STUDENT
    examples: tuple[str, ...] = ()
    subcommands: tuple[Command, ...] = ()
    description: str = ""
    rate_limited: bool = True

    @property
    def help(self) -> str:
        """The full help text: the handler's docstring, or the description."""
        doc = inspect.getdoc(self.handler) if self.handler else None
        return (doc or self.description or self.name).strip()

    @property
    def summary(self) -> str:
        """One line (Discord descriptions hold 100 characters)."""
        line = (self.description or self.help).splitlines()[0]
        return line if len(line) <= 100 else line[:99] + "…"

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    def subcommand(self, name: str) -> Command | None:
        return next((c for c in self.subcommands if c.name == name), None)


@dataclass(frozen=True)
class Invocation:
    """A command to run: the path ("activity", "post"), raw option values, who and where.

    Option values are raw: strings from typed text, or already-typed values from Discord.
    The router coerces and validates both the same way.
    """

    path: tuple[str, ...]
    options: Mapping[str, object]
    actor: Actor
    words: tuple[str, ...] = ()
    # Platform handles for answering later (see bot.delivery.Destination.handle).
    handle: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Context:
    """What a handler gets besides its options."""

    actor: Actor
    services: Services
    router: Router
    invocation: Invocation
    # Database ids of the actor's guild and user (created on their first command).
    guild_pk: int
    user_pk: int
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    async def record_usage(
        self,
        *,
        model_id: str | None = None,
        model_params: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Note that this actor ran this command (on a model, of a size): the activity
        export lists what each student ran."""
        await record_usage_soon(
            self.services.store,
            guild_id=self.guild_pk,
            user_id=self.user_pk,
            command=self.invocation.path[0],
            now=self.services.clock(),
            model_id=model_id,
            model_params=model_params,
            detail=detail,
        )

    @property
    def destination(self) -> Destination:
        """Where later replies for this command go (job results, reminders)."""
        actor = self.actor
        return Destination(
            platform=actor.platform,
            guild_id=actor.guild_id,
            channel_id=actor.channel_id,
            user_id=actor.user_id,
            handle=dict(self.invocation.handle),
        )


class Router:
    def __init__(
        self,
        commands: Iterable[Command],
        services: Services,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self.commands: dict[str, Command] = {}
        for command in commands:
            if command.name in self.commands:
                raise ValueError(f"command /{command.name} declared twice")
            self.commands[command.name] = command
        self.services = services
        self.rate_limiter = rate_limiter or RateLimiter(
            per_minute=services.settings.rate_limit_per_minute,
            burst=services.settings.rate_limit_burst,
        )
        self.seen = SeenCache()
        self.actors = ActorWriter(services.store)

    # -- lookup ---------------------------------------------------------------------------

    def resolve(self, path: Sequence[str]) -> Command:
        """The command (or subcommand) a path names, or a UsageError that helps."""
        if not path or not path[0]:
            raise UsageError(Error(what="Type a command.", todo="Try /help."))
        name = path[0].lower()
        command = self.commands.get(name)
        if command is None:
            close = difflib.get_close_matches(name, list(self.commands), n=1, cutoff=0.5)
            hint = f"Did you mean /{close[0]}?" if close else ""
            raise UsageError(
                Error(what=f"There is no /{name} command.", todo=f"{hint} Type /help.".strip())
            )
        if not command.subcommands:
            return command
        names = ", ".join(c.name for c in command.subcommands)
        if len(path) < 2:
            raise UsageError(
                Error(
                    what=f"/{command.name} needs a subcommand: {names}.",
                    todo=f"Type /help {command.name}.",
                )
            )
        sub = command.subcommand(path[1].lower())
        if sub is None:
            close = difflib.get_close_matches(
                path[1].lower(), [c.name for c in command.subcommands]
            )
            hint = f" Did you mean /{command.name} {close[0]}?" if close else ""
            raise UsageError(
                Error(
                    what=f"/{command.name} has no '{path[1]}'.{hint}",
                    todo=f"Choose one of: {names}.",
                )
            )
        return sub

    def usage(self, path: Sequence[str]) -> str:
        command = self.resolve(path)
        prefix = "/" + " ".join(p.lower() for p in path[: 2 if command.name != path[0] else 1])
        return " ".join([prefix, *(o.usage() for o in command.options)])

    def walk(self) -> Iterable[tuple[tuple[str, ...], Command]]:
        """Every runnable (sub)command with its path, in declaration order."""
        for command in self.commands.values():
            if command.subcommands:
                for sub in command.subcommands:
                    yield (command.name, sub.name), sub
            else:
                yield (command.name,), command

    # -- parsing --------------------------------------------------------------------------

    def parse(self, line: str, actor: Actor) -> Invocation:
        """Turn a typed line into an Invocation (raises UsageError with help)."""
        try:
            split = split_line(line)
        except CommandLineError as error:
            raise UsageError(Error(what=f"I could not read that: {error}.")) from None
        words = split.words
        command = self.resolve(words)
        depth = 2 if self.commands[words[0].lower()].subcommands else 1
        path = tuple(w.lower() for w in words[:depth])
        rest = words[depth:]
        options: dict[str, object] = {}
        for name, value in split.pairs:
            if name in options:
                raise self._usage_error(path, f"{name}: is given twice.")
            options[name] = value
        rest_option = next((o for o in command.options if o.rest), None)
        if rest:
            if rest_option is None:
                raise self._usage_error(path, f"Unexpected text: {' '.join(rest)!r}.")
            if rest_option.name in options:
                raise self._usage_error(path, f"{rest_option.name} is given twice.")
            options[rest_option.name] = " ".join(rest)
        return Invocation(path=path, options=options, actor=actor, words=tuple(rest))

    def _usage_error(self, path: Sequence[str], what: str, todo: str = "") -> UsageError:
        return UsageError(Error(what=what, todo=todo, usage=self.usage(path)))

    def validate(self, path: Sequence[str], raw: Mapping[str, object]) -> dict[str, Any]:
        """Coerce and check every option; unknown, missing or bad values raise UsageError."""
        command = self.resolve(path)
        known = [o.name for o in command.options]
        for name in raw:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" Did you mean {close[0]}:?" if close else ""
                raise self._usage_error(path, f"Unknown option {name}:.{hint}")
        values: dict[str, Any] = {}
        for option in command.options:
            value = raw.get(option.name)
            if value is None or (isinstance(value, str) and not value.strip()):
                if option.required:
                    raise self._usage_error(path, f"{option.name} is required.")
                values[option.name] = option.default
                continue
            try:
                values[option.name] = coerce(option, value)
            except ValueError as error:
                raise self._usage_error(path, f"{option.name}: {error}") from None
        return values

    # -- running --------------------------------------------------------------------------

    async def run_line(self, line: str, actor: Actor) -> AsyncIterator[Reply]:
        """Parse and dispatch a typed line; yields every reply."""
        try:
            invocation = self.parse(line, actor)
        except UsageError as error:
            yield error.error
            return
        async for reply in self.dispatch(invocation):
            yield reply

    async def dispatch(self, invocation: Invocation) -> AsyncIterator[Reply]:
        """Check, validate and run one invocation; user mistakes come back as Error replies."""
        actor = invocation.actor
        try:
            command = self.resolve(invocation.path)
            if not actor.role.allows(command.role):
                raise UsageError(
                    Error(
                        what=f"/{' '.join(invocation.path)} is for instructors.",
                        todo="Ask your instructor, or type /help to see what you can use.",
                    )
                )
            values = self.validate(invocation.path, invocation.options)
            if command.rate_limited:
                wait = self.rate_limiter.check(f"{actor.platform}:{actor.user_id}")
                if wait > 0:
                    raise UsageError(
                        Error(
                            what="You are sending commands faster than the class limit.",
                            todo=f"Try again in {math.ceil(wait)} s.",
                        )
                    )
        except UsageError as error:
            yield error.error
            return
        assert command.handler is not None, f"/{command.name} has no handler"
        started = time.perf_counter()
        request_id = uuid.uuid4().hex[:8]
        try:
            now = self.services.clock()
            seen = self.seen.get(actor, now)
            if seen is None:
                seen = await self.actors.touch(actor, now)
                self.seen.put(actor, seen, now)
            ctx = Context(
                actor=actor,
                services=self.services,
                router=self,
                invocation=invocation,
                guild_pk=seen.guild_id,
                user_pk=seen.user_id,
                request_id=request_id,
            )
            async for reply in _as_replies(command.handler(ctx, **values)):
                yield reply
        except UsageError as error:
            yield error.error
        except Exception:
            log.exception(
                "request %s failed: /%s by %s:%s",
                request_id,
                " ".join(invocation.path),
                actor.platform,
                actor.user_id,
            )
            yield Error(
                what="Something went wrong on our side.",
                todo="Try again in a moment; if it keeps happening, tell your instructor.",
                ref=request_id,
            )
        finally:
            log.debug(
                "request %s /%s took %.1f ms",
                request_id,
                " ".join(invocation.path),
                (time.perf_counter() - started) * 1000,
            )

    async def complete(self, path: Sequence[str], option: str, prefix: str) -> list[str]:
        """Suggestions for an option as the user types it (at most 25)."""
        declared = self.resolve(path).option(option)
        if declared is None:
            return []
        if declared.choices:
            return [c for c in declared.choices if c.startswith(prefix.lower())][:25]
        if declared.complete is None:
            return []
        return list(await declared.complete(self.services, prefix))[:25]


def coerce(option: Option, value: object) -> OptionValue:
    """One raw value (text or already typed) as the option's type, within its limits."""
    result: OptionValue
    if option.type is bool:
        result = _as_bool(value)
    elif option.type is int:
        result = _as_int(value)
    elif option.type is float:
        result = _as_float(value)
    else:
        result = str(value).strip()
    if option.choices:
        lowered = str(result).lower()
        if lowered not in option.choices:
            close = difflib.get_close_matches(lowered, option.choices, n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise ValueError(f"choose one of {', '.join(option.choices)}.{hint}")
        return lowered
    if isinstance(result, (int, float)) and not isinstance(result, bool):
        low, high = option.min_value, option.max_value
        if (low is not None and result < low) or (high is not None and result > high):
            raise ValueError(f"must be between {_num(low or 0)} and {_num(high or 0)}.")
    if isinstance(result, str) and option.max_length and len(result) > option.max_length:
        raise ValueError(
            f"is {len(result):,} characters; the limit is {option.max_length:,}. Shorten it."
        )
    return result


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {value!r}.")


def _as_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip().replace("_", "").replace(",", "")
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, got {value!r}.") from None


def _as_float(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {value!r}.")
    return number


async def _as_replies(result: Any) -> AsyncIterator[Reply]:
    """Handlers return a Reply, a list of them, or yield them (progress, then the result)."""
    if inspect.isasyncgen(result):
        async for item in result:
            yield _checked(item)
        return
    if inspect.isawaitable(result):
        result = await result
    if isinstance(result, Sequence):
        for item in result:
            yield _checked(item)
    elif result is not None:
        yield _checked(result)


def _checked(item: object) -> Reply:
    if not isinstance(item, Reply):
        raise TypeError(f"a handler gave {type(item).__name__}, not a reply")
    return item
