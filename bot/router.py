"""Commands are declared once; the router validates, checks permissions and calls them.

A command module declares `COMMAND = Command(...)` (bot/declare.py): name, typed options with
limits and choices, who may run it, and a handler whose docstring is the help text. Adapters
build their platform command trees from the same declarations, so a new command appears on
Discord, Slack and the console without adapter changes. `Router(...)` checks every
declaration against its handler first and refuses to start on a mismatch.

Three ways to give a command parts:

- **Subcommands** (`/activity post`, `/activity list`): a group with no handler of its own;
  each platform shows them as its own kind of subcommand.
- **Verbs** (`/search guess`, `/search guess reveal`): a command that runs by itself may
  also declare `verbs=(Command(...), ...)`, each with its own handler, options and role
  (and verbs of its own). The router resolves a verb from the first word of the free text
  (the command's `rest=True` option): `/search guess answer:x` runs the `guess` verb with
  `answer`, `/search gpt neo` runs /search with `text="gpt neo"`. Whatever follows the verb
  goes to the verb's own free-text option. Role checks are the router's, for verbs as for
  subcommands: every level of the path must allow the actor.
- Discord cannot have a command that is both invocable and a group, so its tree stays flat
  for a command with verbs: the command offers the options of all its verbs, and the verb
  comes from the free-text option's first word; `dispatch` resolves it the same way
  (`Invocation(path=("search",), options={"text": "guess reveal"})` runs
  `/search guess reveal`). Slack and the console send typed text, which `parse` resolves.

To turn word-typed sub-actions of a command into verbs: give each its own handler and
options in a `Command(name=<word>, ...)`, list them in the command's `verbs`, and drop the
word checks from the command's handler; `/help <command>` then lists them with their usage.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import math
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bot.attachments import Attachment
from bot.commandline import SENTENCE_END, CommandLineError, next_word, sendable, split_options
from bot.declare import (
    Command,
    Completer,
    Handler,
    Option,
    OptionValue,
    check,
    clipped,
    coerce,
)
from bot.delivery import Destination
from bot.errors import UsageError
from bot.hub.links import LinkError, is_link
from bot.identity import Actor
from bot.ratelimit import Limiter, RateLimiter
from bot.replies import Error, Reply
from bot.share import QUIET_HANDLE, ShareCache, Visibility, hush
from bot.store.people import ActorWriter, Seen, SeenCache
from bot.store.usage import record_usage_soon

if TYPE_CHECKING:
    from bot.services import Services

__all__ = [
    "Command",
    "Completer",
    "Context",
    "Handler",
    "Invocation",
    "Option",
    "OptionValue",
    "Router",
    "coerce",
]

log = logging.getLogger(__name__)
# A word that starts like an option (`stepz:3`, `model:`): a name and a colon.
_OPTION_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*):")


# How close (difflib's ratio) a word's name must be to an option's to be read as a typo of
# it: label → labels, modle → model, temprature → temperature; not time → temperature.
_MISSPELLED = 0.8


def _option_like(text: str) -> str | None:
    """The name of the first word of `text` written like an option (`license:mit`), links
    left out."""
    for word in text.split():
        match = _OPTION_NAME.match(word)
        if match and match.end() < len(word) and not is_link(word):
            return match.group(1).lower()
    return None


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
    # The replies are for the actor alone (an exploration command in a quiet class).
    quiet: bool = False

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
            handle={**self.invocation.handle, **({QUIET_HANDLE: "1"} if self.quiet else {})},
        )


class Router:
    def __init__(
        self,
        commands: Iterable[Command],
        services: Services,
        rate_limiter: Limiter | None = None,
    ) -> None:
        """Raises `bot.declare.DeclarationError` (naming the command and the option) for a
        declaration that does not match its handler: the bot does not start."""
        self.commands: dict[str, Command] = {}
        for command in commands:
            if command.name in self.commands:
                raise ValueError(f"command /{command.name} declared twice")
            check(command)
            self.commands[command.name] = command
        self.services = services
        self.rate_limiter: Limiter = rate_limiter or RateLimiter(
            per_minute=services.settings.rate_limit_per_minute,
            burst=services.settings.rate_limit_burst,
        )
        self.seen = SeenCache()
        self.shared = ShareCache()
        self.visibility = Visibility(services.store)
        self.actors = ActorWriter(services.store)

    # -- lookup ---------------------------------------------------------------------------

    def resolve(self, path: Sequence[str]) -> Command:
        """The command, subcommand or verb a path names, or a UsageError that helps."""
        return self._chain(path)[-1]

    def _chain(self, path: Sequence[str]) -> list[Command]:
        """Every declaration along a path: the command, then its subcommand or verbs."""
        command = self._top(path[0] if path else "")
        chain = [command]
        rest = list(path[1:])
        if command.subcommands:
            chain.append(self._subcommand(command, rest[0] if rest else None))
            rest = rest[1:]
        for word in rest:
            verb = chain[-1].verb(word)
            if verb is None:
                where = " ".join(c.name for c in chain)
                raise UsageError(
                    Error(what=f"/{where} has no '{word}'.", todo=f"Type /help {where}.")
                )
            chain.append(verb)
        return chain

    def _top(self, name: str) -> Command:
        if not name:
            raise UsageError(Error(what="Type a command.", todo="Try /help."))
        command = self.commands.get(name.lower())
        if command is None:
            close = difflib.get_close_matches(name.lower(), list(self.commands), n=1, cutoff=0.5)
            hint = f"Did you mean /{close[0]}?" if close else ""
            raise UsageError(
                Error(
                    what=f"There is no /{clipped(name.lower())} command.",
                    todo=f"{hint} Type /help.".strip(),
                )
            )
        return command

    @staticmethod
    def _subcommand(command: Command, name: str | None) -> Command:
        names = ", ".join(c.name for c in command.subcommands)
        if name is None:
            raise UsageError(
                Error(
                    what=f"/{command.name} needs a subcommand: {names}.",
                    todo=f"Type /help {command.name}.",
                )
            )
        sub = command.subcommand(name.lower())
        if sub is None:
            close = difflib.get_close_matches(name.lower(), [c.name for c in command.subcommands])
            hint = f" Did you mean /{command.name} {close[0]}?" if close else ""
            raise UsageError(
                Error(
                    what=f"/{command.name} has no '{name}'.{hint}",
                    todo=f"Choose one of: {names}.",
                )
            )
        return sub

    def path_of(self, path: Sequence[str]) -> tuple[str, ...]:
        """The path as declared (lower case, no extra words): ("search", "guess")."""
        return tuple(c.name for c in self._chain(path))

    def usage(self, path: Sequence[str]) -> str:
        """`/search guess [answer] [round:<number>]`: the path as typed, then the options."""
        chain = self._chain(path)
        prefix = "/" + " ".join(c.name for c in chain)
        return " ".join([prefix, *(o.usage() for o in chain[-1].options)])

    def walk(self) -> Iterable[tuple[tuple[str, ...], Command]]:
        """Every runnable top-level command or subcommand with its path, in declaration
        order (verbs are listed by `/help <command>`)."""
        for command in self.commands.values():
            if command.subcommands:
                for sub in command.subcommands:
                    yield (command.name, sub.name), sub
            else:
                yield (command.name,), command

    def _with_verbs(self, path: tuple[str, ...], text: str) -> tuple[tuple[str, ...], str]:
        """Extend a path by the verbs that the first words of the free text name; the rest
        of the text as typed."""
        command = self.resolve(path)
        while command.verbs:
            word, rest = next_word(text)
            verb = command.verb(word) if word else None
            if verb is None:
                break
            path, command, text = (*path, verb.name), verb, rest
        return path, text

    # -- parsing --------------------------------------------------------------------------

    def parse(self, line: str, actor: Actor) -> Invocation:
        """Turn a typed line into an Invocation (raises UsageError with help).

        The command, subcommand and verbs are read first, so that only the options they
        declare are read as options; everything else is the free text, kept as typed.
        """
        # Everything typed may come back in a reply or reach the database.
        head, rest = next_word(sendable(line).strip())
        if head == "/" and rest:  # `/ run …`: a space after the slash
            head, rest = next_word(rest)
        # `/jobs.` or `/help!` at the end of a sentence: the punctuation is not the name.
        top = self._top(head.removeprefix("/").rstrip(SENTENCE_END))
        path: tuple[str, ...] = (top.name,)
        if top.subcommands:
            word, rest = next_word(rest)
            path = (top.name, self._subcommand(top, word or None).name)
        path, rest = self._with_verbs(path, rest)
        command = self.resolve(path)
        # A verb's options are read too, so that `answer:` on /search says where it goes.
        try:
            declared = command.all_options()
            split = split_options(
                rest,
                {o.name for o in declared},
                lists={o.name: o.separator for o in declared if o.separator},
                prose={o.name for o in declared if o.to_line_end},
                phrases={o.name: o.phrase for o in declared if o.phrase},
                around_text=command.rest_option is not None and command.rest_option.verbatim,
                label=command.rest_option.name if command.rest_option else "",
            )
        except CommandLineError as error:
            raise self._usage_error(path, f"I could not read that: {error}.") from None
        options: dict[str, object] = {}
        for name, value in split.pairs:
            if name in options:
                raise self._usage_error(path, f"{name}: is given twice.")
            options[name] = value
        rest_option = command.rest_option
        if split.text:
            if rest_option is None:
                raise self._no_text(path, command, split.text)
            if rest_option.name in options:
                raise self._usage_error(path, f"{rest_option.name} is given twice.")
            options[rest_option.name] = split.text
        return Invocation(path=path, options=options, actor=actor, words=tuple(split.text.split()))

    def _no_text(self, path: tuple[str, ...], command: Command, text: str) -> UsageError:
        """A command without free text got some: a mistyped option name is the likely cause."""
        typed = _option_like(text)
        if typed is not None:
            known = [o.name for o in command.options]
            return self._usage_error(path, *self._unknown(path, command, typed, known))
        return self._usage_error(path, f"Unexpected text: {clipped(text)!r}.")

    def _usage_error(self, path: Sequence[str], what: str, todo: str = "") -> UsageError:
        return UsageError(Error(what=what, todo=todo, usage=self.usage(path)))

    def with_verb(self, invocation: Invocation) -> Invocation:
        """An invocation whose free text starts with a verb, as that verb's invocation.

        Typed lines are resolved by `parse`; this serves platforms whose command trees are
        flat (Discord), where the verb arrives as the first word of the free-text option.
        """
        chain = self._chain(invocation.path)
        command, rest_option = chain[-1], chain[-1].rest_option
        # A path that names a verb already was resolved (a typed line): an option given by
        # name, such as `answer:reveal`, is a value, never a verb.
        named_verb = len(chain) > (2 if chain[0].subcommands else 1)
        if named_verb or not command.verbs or rest_option is None:
            return invocation
        text = invocation.options.get(rest_option.name)
        path, rest = self._with_verbs(invocation.path, text if isinstance(text, str) else "")
        if path == invocation.path:
            return invocation
        options = {k: v for k, v in invocation.options.items() if k != rest_option.name}
        rest = rest.strip()
        if rest:
            verb_rest = self.resolve(path).rest_option
            if verb_rest is None:
                raise self._usage_error(path, f"Unexpected text: {clipped(rest)!r}.")
            if options.get(verb_rest.name) is not None:
                raise self._usage_error(path, f"{verb_rest.name} is given twice.")
            options[verb_rest.name] = rest
        return replace(invocation, path=path, options=options, words=tuple(rest.split()))

    def validate(self, path: Sequence[str], raw: Mapping[str, object]) -> dict[str, Any]:
        """Coerce and check every option; unknown, missing or bad values raise UsageError."""
        command = self.resolve(path)
        known = [o.name for o in command.options]
        for name in raw:
            if name not in known:
                raise self._usage_error(path, *self._unknown(path, command, name, known))
        words = command.rest_option
        if words is not None and words.search_words:
            self._check_search_words(path, command, str(raw.get(words.name) or ""))
        elif words is not None:
            text = str(raw.get(words.name) or "")
            # Verbatim text (an answer, a prompt) is prose: only its edges, where options
            # are read, can hold a misspelt one (`chanel:#lab` after a prompt).
            edges = " ".join(_edge_words(text)) if words.verbatim else text
            self._check_misspelled_options(path, command, edges, verbatim=words.verbatim)
        values: dict[str, Any] = {}
        for option in command.options:
            value = raw.get(option.name)
            if value is None or (isinstance(value, str) and not value.strip()):
                if option.required:
                    raise self._missing(path, command, option, raw)
                values[option.name] = option.default
                continue
            try:
                values[option.name] = coerce(option, value)
            except LinkError as error:
                raise self._usage_error(path, f"{option.name}: {error.what}", error.todo) from None
            except ValueError as error:
                raise self._usage_error(path, f"{option.name}: {error}") from None
        return values

    def _missing(
        self, path: Sequence[str], command: Command, option: Option, raw: Mapping[str, object]
    ) -> UsageError:
        """A required option not given. One typed inside verbatim text was read as part of
        it (`title:Lab 1: Models minutes:5 …` has its text start at "1:"): say so."""
        words = command.rest_option
        text = str(raw.get(words.name) or "") if words is not None and words.verbatim else ""
        typed = next(
            (w for w in text.split() if w.lower().startswith(f"{option.name}:") and w[-1] != ":"),
            None,
        )
        if words is None or typed is None:
            return self._usage_error(path, f"{option.name} is required.")
        todo = f"Give the options before the {words.name}"
        worded = next((o for o in command.options if o.type is str and not o.rest), None)
        if worded is not None:
            todo += f', and a value of several words in quotes ({worded.name}:"like this")'
        return self._usage_error(
            path,
            f"{option.name} is required: the {typed} you typed is inside your {words.name}, "
            f"where it is read as part of the {words.name}.",
            todo + ".",
        )

    async def _attach(self, command: Command, values: dict[str, Any], actor: Actor) -> None:
        """Typed references to files (a Slack link, a console path) as attachments, found by
        the platform's source; a platform with no source takes files in its own way only."""
        for option in command.options:
            typed = values.get(option.name)
            if option.type is not Attachment or not isinstance(typed, str):
                continue
            source = self.services.attachments.get(actor.platform)
            if source is None:
                raise UsageError(
                    Error(
                        what=f"{option.name}: here takes an attached file, not text.",
                        todo=f"Attach the file in the command's {option.name} option.",
                    )
                )
            values[option.name] = await source(typed)

    def _check_search_words(self, path: Sequence[str], command: Command, text: str) -> None:
        """No name on the Hub holds a colon: a word with one was meant as an option
        (`license:mit`, or `model: gpt2` with a space after the colon)."""
        typed = text.split()
        known = [o.name for o in command.options]
        for at, word in enumerate(typed):
            match = _OPTION_NAME.match(word)
            if match is None or is_link(word):
                continue
            name = match.group(1).lower()
            if word.endswith(":") and name in known:
                value = typed[at + 1] if at + 1 < len(typed) else "<value>"
                raise self._usage_error(
                    path,
                    f"{name}: has no value.",
                    f"Write {name}:{value} with no space after the colon.",
                )
            raise self._usage_error(path, *self._unknown(path, command, name, known))

    def _check_misspelled_options(
        self, path: Sequence[str], command: Command, text: str, *, verbatim: bool = False
    ) -> None:
        """A word of the free text written like an option whose name is one letter or two
        from a declared one (`label:sport,politics`, `modle:gpt2`) was meant as that option:
        read as text, it would run the model on the wrong input without a word."""
        known = [o.name for o in command.options]
        for word in text.split():
            match = _OPTION_NAME.match(word)
            if match is None or match.end() == len(word) or is_link(word):
                continue
            name = match.group(1).lower()
            mistyped = any(name in o.mistyped_as for o in command.options)
            if mistyped or difflib.get_close_matches(name, known, n=1, cutoff=_MISSPELLED):
                what, todo = self._unknown(path, command, name, known)
                if verbatim and not todo:
                    todo = f"If {word} is part of your text, write it without the colon."
                raise self._usage_error(path, what, todo)

    @staticmethod
    def _unknown(
        path: Sequence[str], command: Command, name: str, known: list[str]
    ) -> tuple[str, str]:
        """What to say about an option this (sub)command or verb does not take."""
        for verb_path, verb in command.with_verbs(tuple(path)):
            if verb is not command and verb.option(name) is not None:
                where = "/" + " ".join(verb_path)
                return f"{name}: goes with {where}.", f"Type {where} {name}:…"
        meant = [o.name for o in command.options if name in o.mistyped_as]
        close = meant or difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]}:?" if close else ""
        return f"Unknown option {name}:.{hint}", ""

    # -- running --------------------------------------------------------------------------

    async def run_line(self, line: str, actor: Actor) -> AsyncIterator[Reply]:
        """Parse and dispatch a typed line; yields every reply."""
        try:
            invocation = self.parse(line, actor)
        except UsageError as error:
            await self._note_refused(actor)
            yield error.error
            return
        async for reply in self.dispatch(invocation):
            yield reply

    async def dispatch(self, invocation: Invocation) -> AsyncIterator[Reply]:
        """Check, validate and run one invocation; user mistakes come back as Error replies."""
        actor = invocation.actor
        try:
            invocation = self.with_verb(invocation)
            chain = self._chain(invocation.path)
            command = chain[-1]
            if not all(actor.role.allows(c.role) for c in chain):
                raise UsageError(
                    Error(
                        what=f"/{' '.join(invocation.path)} is for instructors.",
                        todo="Ask your instructor, or type /help to see what you can use.",
                    )
                )
            values = self.validate(invocation.path, invocation.options)
            if command.rate_limited:
                wait = await self.rate_limiter.check(_rate_key(actor))
                if wait > 0:
                    raise UsageError(
                        Error(what=RATE_LIMITED, todo=f"Try again in {math.ceil(wait)} s.")
                    )
        except UsageError as error:
            await self._note_refused(actor)
            yield error.error
            return
        assert command.handler is not None, f"/{command.name} has no handler"
        started = time.perf_counter()
        request_id = uuid.uuid4().hex[:8]
        try:
            await self._attach(command, values, actor)
            seen = await self._seen(actor)
            quiet = command.exploration and not await self.visibility.public(seen.guild_id)
            ctx = Context(
                actor=actor,
                services=self.services,
                router=self,
                invocation=invocation,
                guild_pk=seen.guild_id,
                user_pk=seen.user_id,
                request_id=request_id,
                quiet=quiet,
            )
            number = 0
            async for reply in _as_replies(command.handler(ctx, **values)):
                if quiet:
                    key = f"{request_id}-{number}"
                    shown, number = hush(reply, f"/share id:{key}"), number + 1
                    if shown.buttons != reply.buttons:
                        self.shared.put(key, reply, user_id=actor.user_id, guild_id=actor.guild_id)
                    reply = shown
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

    async def rate_wait(self, invocation: Invocation) -> float:
        """Seconds before `invocation` would pass the class rate limit (0: now), taking no
        token: a form can then stay open with what was typed instead of closing on a refusal."""
        command = self._chain(self.with_verb(invocation).path)[-1]
        if not command.rate_limited:
            return 0.0
        return await self.rate_limiter.peek(_rate_key(invocation.actor))

    async def _seen(self, actor: Actor) -> Seen:
        """The actor's rows (created on their first command), from the cache when known."""
        now = self.services.clock()
        seen = self.seen.get(actor, now)
        if seen is None:
            seen = await self.actors.touch(actor, now)
            self.seen.put(actor, seen, now)
        return seen

    async def _note_refused(self, actor: Actor) -> None:
        """A student whose commands were all refused still joined in: without a roster, the
        class is who used the bot, and they belong in an activity's "Not submitted"."""
        try:
            await self._seen(actor)
        except Exception:  # the refusal still goes out; the row is made at their next command
            log.exception("recording %s:%s failed", actor.platform, actor.user_id)

    async def complete(self, path: Sequence[str], option: str, prefix: str) -> list[str]:
        """Suggestions for an option as the user types it (at most 25)."""
        # On a flat tree (Discord) a command offers its verbs' options too.
        command = self.resolve(path)
        declared = next((o for o in command.all_options() if o.name == option), None)
        if declared is None:
            return []
        if declared.choices:
            return [c for c in declared.choices if c.startswith(prefix.lower())][:25]
        if declared.complete is None:
            return []
        return list(await declared.complete(self.services, prefix))[:25]


RATE_LIMITED = "You are sending commands faster than the class limit."


def _rate_key(actor: Actor) -> str:
    return f"{actor.platform}:{actor.user_id}"


def _edge_words(text: str) -> list[str]:
    """The words written like options (`name:value`) that begin or end `text`."""
    typed = text.split()

    def option_like(word: str) -> bool:
        match = _OPTION_NAME.match(word)
        return match is not None and match.end() < len(word)

    first = next((at for at, word in enumerate(typed) if not option_like(word)), len(typed))
    last = next((at for at in range(len(typed), 0, -1) if not option_like(typed[at - 1])), 0)
    return typed[:first] + typed[max(first, last) :]


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
