"""The app-command tree, generated from the router's declarations.

discord.py reads a command's options from its callback's signature. Each declared command
gets a generated callback whose `__signature__` lists one keyword parameter per option,
annotated with its type (and `app_commands.Range` for limits), plus the attributes the
`@describe`, `@rename`, `@choices` and `@autocomplete` decorators would set. discord.py then
builds, validates and syncs the options as for a hand-written command, and autocomplete
works. Parameters are named `o0, o1, …` and renamed to the option names, so any option name
Discord accepts works, even a Python keyword.

`app_commands.Range` is shown by Discord's client but not enforced by discord.py: the router
validates every value again.

A command with verbs (`/search guess`) stays one flat Discord command: Discord cannot make a
command both runnable and a group. It offers its verbs' options too (`offered`), and the router
resolves the verb from the free-text option's first word.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Optional, cast

import discord
from discord import app_commands

from adapters.discord.attachments import as_attachment
from bot.attachments import Attachment
from bot.router import Command, Option, Router

log = logging.getLogger(__name__)

MAX_DESCRIPTION = 100
MAX_CHOICES = 25
MAX_STRING_LENGTH = 6000  # Discord's largest max_length for a string option
AUTOCOMPLETE_SECONDS = 2.5  # autocomplete has the same 3 s deadline as commands

# Runs a command: (interaction, path, option values as declared names) → answered.
OnCommand = Callable[[discord.Interaction, tuple[str, ...], dict[str, object]], Awaitable[None]]

# Range[...] is a type-level construct for mypy; at runtime it builds a transformer.
_Range: Any = app_commands.Range


def describe(text: str, fallback: str) -> str:
    """A Discord description: one line, 1–100 characters."""
    line = (text.strip().splitlines() or [""])[0].strip() or fallback
    return line if len(line) <= MAX_DESCRIPTION else line[: MAX_DESCRIPTION - 1] + "…"


def build_commands(
    router: Router, on_command: OnCommand
) -> list[app_commands.Command[Any, ..., Any] | app_commands.Group]:
    """Every top-level command (groups for commands with subcommands), in router order."""
    built: list[app_commands.Command[Any, ..., Any] | app_commands.Group] = []
    for command in router.commands.values():
        if command.subcommands:
            group = app_commands.Group(
                name=command.name, description=describe(command.summary, command.name)
            )
            for sub in command.subcommands:
                group.add_command(_command(router, (command.name, sub.name), sub, on_command))
            built.append(group)
        else:
            built.append(_command(router, (command.name,), command, on_command))
    return built


def install(tree: app_commands.CommandTree[Any], router: Router, on_command: OnCommand) -> None:
    """Replace the tree's global commands with the router's."""
    tree.clear_commands(guild=None)
    for command in build_commands(router, on_command):
        tree.add_command(command)


def _command(
    router: Router, path: tuple[str, ...], command: Command, on_command: OnCommand
) -> app_commands.Command[Any, ..., Any]:
    options = offered(command)
    names = {f"o{i}": option.name for i, option in enumerate(options)}

    async def callback(interaction: discord.Interaction, **values: object) -> None:
        # Options left out arrive as None: the router then applies the declared defaults.
        options = {names[k]: as_attachment(v) for k, v in values.items() if v is not None}
        await on_command(interaction, path, options)

    parameters = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    choices: dict[str, list[app_commands.Choice[Any]]] = {}
    completers: dict[str, Callable[..., Any]] = {}
    for i, option in enumerate(options):
        name = f"o{i}"
        annotation = _annotation(option)
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=annotation if option.required else Optional[annotation],  # noqa: UP045
                default=inspect.Parameter.empty if option.required else None,
            )
        )
        if option.choices and len(option.choices) <= MAX_CHOICES and option.type is not bool:
            # Only text and number options declare choices.
            kind = cast(Callable[[str], str | int | float], option.type)
            choices[name] = [app_commands.Choice(name=c, value=kind(c)) for c in option.choices]
        elif option.choices or option.complete is not None:
            # More than 25 choices cannot be Discord choices: they are suggested as typed.
            completers[name] = _completer(router, path, option)
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    attributes: Mapping[str, object] = {
        "__discord_app_commands_param_description__": {
            f"o{i}": describe(o.description, o.name) for i, o in enumerate(options)
        },
        "__discord_app_commands_param_rename__": names,
        "__discord_app_commands_param_choices__": choices,
        "__discord_app_commands_param_autocomplete__": completers,
    }
    for attribute, value in attributes.items():
        setattr(callback, attribute, value)
    return app_commands.Command(
        name=path[-1],
        description=describe(command.summary, command.name),
        callback=callback,
        extras={"path": path},
    )


def offered(command: Command) -> tuple[Option, ...]:
    """The options Discord shows for a command: its own, and for a command with verbs those
    of every verb too (Discord cannot nest them under a command that runs by itself; the
    router resolves the verb from the free text's first word). A verb's options are never
    required on the command itself."""
    if not command.verbs:
        return command.options
    own = {o.name for o in command.options}
    return tuple(o if o.name in own else replace(o, required=False) for o in command.all_options())


def _annotation(option: Option) -> Any:
    kind = option.type
    if kind is bool:
        return bool
    if kind is Attachment:
        return discord.Attachment  # option type 11: the file is attached, not typed
    if kind is str:
        if option.max_length and option.max_length <= MAX_STRING_LENGTH:
            return _Range[str, None, option.max_length]
        return str
    low, high = option.min_value, option.max_value
    if low is None and high is None:
        return kind
    if kind is int:
        # Whole-number bounds inside the declared ones; the router checks exactly.
        return _Range[
            int,
            None if low is None else math.ceil(low),
            None if high is None else math.floor(high),
        ]
    # Range wants both bounds of one type (an int and a float would be refused).
    return _Range[float, None if low is None else float(low), None if high is None else float(high)]


def _completer(
    router: Router, path: tuple[str, ...], option: Option
) -> Callable[[discord.Interaction, str], Awaitable[list[app_commands.Choice[Any]]]]:
    async def complete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[Any]]:
        try:
            found: Sequence[str] = await asyncio.wait_for(
                router.complete(path, option.name, current), AUTOCOMPLETE_SECONDS
            )
        except Exception:
            # Suggestions are a convenience: a slow or failing source shows none.
            log.warning("autocomplete for /%s %s: failed", " ".join(path), option.name)
            return []
        result: list[app_commands.Choice[Any]] = []
        for text in found[:MAX_CHOICES]:
            try:
                value = option.type(text) if option.type in (int, float) else text[:100]
            except ValueError:
                continue
            result.append(app_commands.Choice(name=str(text)[:100], value=value))
        return result

    return complete
