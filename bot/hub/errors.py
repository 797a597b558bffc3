"""Hub faults as typed errors in words a student can act on, and the "cached" note.

bot/hub/faults.py turns every library or HTTP failure into one of these, for the client
(bot/hub/client.py), the model guard and the worker's downloads; a command shows
`error.reply()`. Faults are kept apart from "not found": a missing repo is an
answer, an outage is not (only an outage is worth an older cached answer).
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from bot.hub.cache import Cached
from bot.replies import Error


class HubError(Exception):
    """What went wrong and what to do, ready for an Error reply."""

    def __init__(self, what: str, todo: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.todo = todo

    def reply(self) -> Error:
        return Error(what=self.what, todo=self.todo)


class HubUnavailable(HubError):
    """Timeouts, unreachable, 5xx: the Hub is not answering right now."""


class HubRateLimited(HubUnavailable):
    def __init__(self, retry_after: int | None) -> None:
        self.retry_after = retry_after
        when = f"Try again in {retry_after} s." if retry_after else "Try again in a minute."
        super().__init__(
            "The Hugging Face Hub is limiting how often this class can ask (too many requests).",
            when,
        )


class HubBadAnswer(HubUnavailable):
    """The Hub answered something that is not the JSON it documents."""

    def __init__(self) -> None:
        super().__init__(
            "The Hugging Face Hub sent an answer I could not read.",
            "Try again in a minute; it is not something you typed.",
        )


class HubCircuitOpen(HubUnavailable):
    """Recent calls failed in a row: the bot stops asking for a while instead of waiting."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        super().__init__(
            "The Hugging Face Hub is not answering right now, so I am not asking it for a "
            "little while.",
            f"Try again in {seconds} s; it is not something you typed.",
        )


class HubTokenRefused(HubError):
    """The Hub refused the bot's own token: a setup problem, not the student's."""

    def __init__(self) -> None:
        super().__init__(
            "The Hugging Face Hub refused this bot's access token (HF_TOKEN): it was revoked, "
            "has expired or was mistyped.",
            "Tell your instructor: make a new read token on "
            "https://huggingface.co/settings/tokens and set HF_TOKEN, or remove HF_TOKEN to "
            "use the Hub without one.",
        )


class RepoNotFound(HubError):
    """A missing, private or deleted repo (the Hub answers 401 to anonymous callers)."""

    def __init__(self, kind: str, repo_id: str, suggestions: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.repo_id = repo_id
        self.suggestions = suggestions
        command = "/search model:" if kind == "model" else "/dataset id:"
        if suggestions:
            todo = f"Did you mean {suggestions[0]}? Type {command}{suggestions[0]}"
            if len(suggestions) > 1:
                todo += " (or: " + ", ".join(suggestions[1:]) + ")"
        else:
            name = repo_id.rsplit("/", 1)[-1]
            todo = f"Check the spelling, or find it with {command.split()[0]} {name}"
        super().__init__(
            f"There is no public {kind} called {repo_id} on the Hub: it may be misspelled, "
            "private or deleted.",
            todo,
        )

    def with_suggestions(self, suggestions: tuple[str, ...]) -> RepoNotFound:
        return RepoNotFound(self.kind, self.repo_id, suggestions)


class RepoDisabled(HubError):
    def __init__(self, kind: str, repo_id: str) -> None:
        self.repo_id = repo_id
        super().__init__(
            f"{repo_id} has been disabled on the Hub: its {kind} can no longer be read.",
            "Pick another one; /search finds them." if kind == "model" else "Pick another one.",
        )


class BadRepoId(HubError):
    """Not something the Hub could ever have: refused before any request."""

    def __init__(self, kind: str, repo_id: str) -> None:
        example = "EleutherAI/gpt-neo-125M" if kind == "model" else "stanfordnlp/imdb"
        super().__init__(
            f"“{repo_id}” is not a {kind} id: ids are owner/name, with letters, digits, "
            "'-', '_' or '.'.",
            f"For example {example}. Copy it from the search results.",
        )


class RepoGated(HubError):
    def __init__(self, repo_id: str) -> None:
        super().__init__(
            f"{repo_id} is gated: its authors must approve each person before its files can "
            "be read.",
            f"Request access on https://huggingface.co/{repo_id}; /search model:{repo_id} still "
            "shows its details.",
        )


class NoPreview(HubError):
    """The dataset viewer has no rows to show (its own message is kept)."""

    def __init__(self, dataset: str, message: str, where: str = "") -> None:
        self.message = message
        super().__init__(
            f"No preview available for {dataset}{where}: {message}",
            f"Try another split with split: (see /dataset id:{dataset}), or read the card on "
            f"https://huggingface.co/datasets/{dataset}",
        )


def unavailable(status: int | None = None, *, timeout: bool = False) -> HubUnavailable:
    if timeout:
        what = "The Hugging Face Hub did not answer in time."
    elif status:
        what = f"The Hugging Face Hub had a problem (error {status})."
    else:
        what = "I could not reach the Hugging Face Hub."
    return HubUnavailable(what, "Try again in a minute; it is not something you typed.")


_RATELIMIT_RESET = re.compile(r"\bt=(\d+)")


def retry_after(headers: Mapping[str, str]) -> int | None:
    """Seconds to wait, from Retry-After (seconds or a date) or the Hub's RateLimit header."""
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            return max(1, int(value))
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(1, math.ceil(when.timestamp() - time.time()))
    found = _RATELIMIT_RESET.search(headers.get("ratelimit") or headers.get("RateLimit") or "")
    return max(1, int(found.group(1))) if found else None


def stale_note(*answers: Cached[Any]) -> str | None:
    """'(cached 12 min ago — the Hub is not answering)' when any answer is an old one."""
    stale = [a for a in answers if a.stale]
    if not stale:
        return None
    minutes = max(1, round(max(a.age for a in stale) / 60))
    return f"(cached {minutes} min ago — the Hub is not answering)"
