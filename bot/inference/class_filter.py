"""A class's prompt filter for image models: the default word list (bot/inference/safety.py)
plus the words a class added, minus the ones it allowed.

Plain values in, plain values out: the lists themselves are kept and changed by the command
that owns them (/imagine block and unblock, bot/commands/imagine/words.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.inference.safety import FilterVerdict, PromptFilter, normalize


@dataclass(frozen=True)
class WordLists:
    """A class's changes to the default list: words it added, and default words it allows."""

    blocked: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()


@lru_cache(maxsize=64)
def class_filter(lists: WordLists) -> PromptFilter:
    """The default word list, plus the added words, minus the allowed ones."""
    # Building one takes ~20 ms; a class's lists change rarely, so keep recent ones.
    return PromptFilter(extra_words=lists.blocked, allow_words=lists.allowed)


def check_texts(lists: WordLists, *texts: str) -> FilterVerdict:
    """The one check for every text that reaches an image model (prompt, negative prompt):
    refused when any of them has a blocked word; `matched` lists the words of all."""
    check = class_filter(lists).check
    refused = [v for v in (check(t) for t in texts if t) if not v.allowed]
    if not refused:
        return FilterVerdict(allowed=True, reason="", matched=())
    matched = tuple(dict.fromkeys(w for v in refused for w in v.matched))
    return FilterVerdict(allowed=False, reason=refused[0].reason, matched=matched)


def list_word(raw: str) -> str:
    """A word or phrase as a list keeps it: normalized, lower case, single spaces ("" when
    nothing is left)."""
    return " ".join(normalize(raw).lower().split())


def default_blocks(word: str, allowed: tuple[str, ...]) -> bool:
    """Whether the default list, less the allowed words, refuses this word."""
    return not class_filter(WordLists(allowed=allowed)).check(word).allowed
