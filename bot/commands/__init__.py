"""One module per slash command; each declares `COMMAND = Command(...)`.

Commands are found by listing this package, so adding a command is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil

from bot.router import Command


def all_commands() -> list[Command]:
    commands: list[Command] = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        declared = getattr(loaded, "COMMAND", None)
        if isinstance(declared, Command):
            commands.append(declared)
    return commands
