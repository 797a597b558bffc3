"""Slack commands under one namespace, so they never clash with Slack's own (`/search`)
or another app's.

Three ways, chosen by settings:

- one command (the default, `CLASSBOT_SLACK_COMMAND=classbot`): `/classbot search gpt`;
  the first word is the classbot command, and `/classbot` alone shows the help;
- a prefix (`CLASSBOT_SLACK_PREFIX=hf-`): one Slack command per classbot command,
  `/hf-search gpt`;
- neither (`CLASSBOT_SLACK_COMMAND=` empty): the bare names, for a workspace of its own.

Incoming, `to_line` turns what Slack sends into the router's line (`/search gpt`); outgoing,
`typed` writes every command a student reads (help, usage, hints) the way they must type it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.config import Settings


@dataclass(frozen=True)
class Namespace:
    names: tuple[str, ...]
    command: str = ""
    prefix: str = ""

    @classmethod
    def from_settings(cls, settings: Settings, names: Iterable[str]) -> Namespace:
        prefix = settings.slack_prefix
        return cls(tuple(names), command="" if prefix else settings.slack_command, prefix=prefix)

    def slack_commands(self) -> list[str]:
        """The slash commands the Slack app declares (manifest) and listens to."""
        if self.command:
            return ["/" + self.command]
        return ["/" + self.prefix + name for name in self.names]

    def to_line(self, slack_command: str, text: str) -> str:
        """What Slack sent (`/classbot`, `search gpt`) as the router's line (`/search gpt`)."""
        name = slack_command.removeprefix("/")
        if self.command:
            return "/" + (text.lstrip() or "help")
        return f"/{name.removeprefix(self.prefix)} {text}"

    def typed(self, text: str) -> str:
        """Every `/name` of a classbot command in `text`, as a student types it in Slack."""
        if not self.command and not self.prefix:
            return text
        return self._pattern().sub(self._replacement, text)

    def _replacement(self, match: re.Match[str]) -> str:
        name = match.group(2)
        typed = f"/{self.command} {name}" if self.command else f"/{self.prefix}{name}"
        return match.group(1) + typed

    def _pattern(self) -> re.Pattern[str]:
        # A command starts a word (not a URL's path: "hf.co/search") and ends at a word end.
        names = "|".join(re.escape(n) for n in sorted(self.names, key=len, reverse=True))
        return _compiled(names)


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(names: str) -> re.Pattern[str]:
    pattern = _CACHE.get(names)
    if pattern is None:
        pattern = _CACHE[names] = re.compile(rf"(^|[\s(\[`'\"“‘:])/({names})(?![\w/-])")
    return pattern
