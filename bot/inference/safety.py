"""Classroom prompt filter for `/imagine`, run before a prompt reaches the image model.

Built on `better_profanity`'s maintained word list, which matches whole words (so
"Scunthorpe", "classic" and "assessment" pass) and common character swaps ("sh1t",
"@ss", "f*ck"). Instructors can add words for their class and allow words the list
over-blocks (it contains e.g. "ugly", "kill" and "gay", which some classes need).

The filter only looks at the prompt, never the negative prompt: the negative prompt lists
what the student wants kept *out* of the image ("no blood, nothing ugly"), so blocking it
would punish exactly the careful behaviour we want; the model's own safety checker still
guards the output.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from better_profanity import Profanity
from better_profanity.constants import ALLOWED_CHARACTERS
from better_profanity.varying_string import VaryingString

BLOCKED_REASON = (
    "That prompt has words this class keeps out of image prompts. "
    "Try describing the scene differently."
)
# Invisible characters a student can put inside a word to split it for the word matcher,
# and the dotless i, which no decomposition turns into a plain i.
_FOLD = {**dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff")), ord("ı"): "i"}


@dataclass(frozen=True)
class FilterVerdict:
    allowed: bool
    reason: str  # empty when allowed; safe to show the student (never repeats the word)
    matched: tuple[str, ...]  # word-list entries that fired, for the instructor's log only


def _clean_words(words: Iterable[str]) -> list[str]:
    return sorted({w.strip().lower() for w in words if w.strip()})


def normalize(text: str) -> str:
    """Fold full-width/stylised letters to plain ones (NFKC), drop accents and other
    combining marks, and drop invisible characters.

    Marks matter because lowercasing can add one: "İ" (Turkish dotted capital I) lowercases
    to "i" plus a combining dot, which is not a letter for the word matcher and split
    "KİLL" into "ki" and "ll". The text is only matched, never shown, so "é" as "e" is fine.
    """
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", plain).translate(_FOLD)


def _tokenize(text: str) -> tuple[list[str], list[str]]:
    """Split like the library: a word is a run of its allowed characters (letters, digits,
    @ $ * and quotes); `separators[i]` is the text between word i and word i + 1."""
    tokens: list[str] = []
    separators: list[str] = []
    current = ""
    gap = ""
    for char in text:
        if char in ALLOWED_CHARACTERS:
            if not current and tokens:
                separators.append(gap)
            current += char
            gap = ""
        else:
            if current:
                tokens.append(current.lower())
                current = ""
            gap += char.lower()
    if current:
        tokens.append(current.lower())
    return tokens, separators


class PromptFilter:
    """Decides whether a prompt may go to the image model. Build once per class config.

    The words and their leet-speak variants are the library's (`Profanity.CENSOR_WORDSET`,
    `VaryingString` equality); the scan is our own. The library's `contains_profanity`
    compares every word against the whole ~900-entry list several times (about 0.5 s for
    a 1,000-character prompt on one CPU core, and it would run on the chat event loop);
    this scan gives the same answers but only compares candidates against entries of the
    same length, and it can name the entries that fired.
    """

    def __init__(self, extra_words: Iterable[str] = (), allow_words: Iterable[str] = ()):
        allow = _clean_words(allow_words)
        extra = [w for w in _clean_words(extra_words) if w not in allow]
        profanity = Profanity()  # own instance: the library's module-level one is global
        default_words = [str(w) for w in profanity.CENSOR_WORDSET]
        profanity.load_censor_words(custom_words=default_words + extra, whitelist_words=list(allow))
        self._profanity = profanity
        # Every substitution in the library's map is one character, so a variant has the
        # length of its entry and entries can be bucketed by length. Should a future map
        # hold longer substitutions, fall back to one bucket (slower, still correct).
        one_char = all(len(c) == 1 for alts in profanity.CHARS_MAPPING.values() for c in alts)
        self._one_char = one_char
        # (matcher, entry) pairs: the matcher is a library VaryingString, the entry is
        # what `matched` reports.
        self._by_length: dict[int, list[tuple[Any, str]]] = {}
        self._exact: dict[str, str] = {}
        self._max_span = 1
        phrases: list[tuple[str, str]] = []
        for word in profanity.CENSOR_WORDSET:
            entry = str(word)
            self._add(entry, word, entry)
            tokens = _tokenize(entry)[0]
            self._max_span = max(self._max_span, len(tokens))
            if len(tokens) > 1:
                phrases.append(("".join(tokens), entry))
        # A phrase also matches with its words run together or joined by any other
        # separator ("pop quiz" -> "pop-quiz", "popquiz"); the library only does this when
        # the list spells both forms out. Added after all entries so that a literal entry
        # ("shit") names the hit rather than a phrase that joins to it ("s-h-i-t").
        for joined, entry in phrases:
            self._add(joined, VaryingString(joined, char_map=profanity.CHARS_MAPPING), entry)

    def _add(self, text: str, matcher: Any, entry: str) -> None:
        self._exact.setdefault(text, entry)
        bucket = len(text) if self._one_char else 0
        self._by_length.setdefault(bucket, []).append((matcher, entry))

    def check(self, prompt: str) -> FilterVerdict:
        matched = self._matches(normalize(prompt))
        if matched:
            return FilterVerdict(allowed=False, reason=BLOCKED_REASON, matched=matched)
        return FilterVerdict(allowed=True, reason="", matched=())

    def _matches(self, text: str) -> tuple[str, ...]:
        # Like the library, spans of several words are tried with and without the text
        # between them; see __init__ for how phrase entries match the latter.
        tokens, separators = _tokenize(text)
        found: list[str] = []
        for start in range(len(tokens)):
            joined = plain = tokens[start]
            for end in range(start, min(len(tokens), start + self._max_span)):
                if end > start:
                    joined += separators[end - 1] + tokens[end]
                    plain += tokens[end]
                # Quotes count as letters for the library, so '"shit"' would slip past
                # it; try the span with edge quotes stripped as well.
                variants = (joined, plain, joined.strip("'\""), plain.strip("'\""))
                for candidate in dict.fromkeys(variants):
                    entry = self._entry(candidate)
                    if entry is not None and entry not in found:
                        found.append(entry)
        return tuple(found)

    def _entry(self, candidate: str) -> str | None:
        exact = self._exact.get(candidate)  # also makes "f*ck"-style hits prefer a literal
        if exact is not None:
            return exact
        for matcher, entry in self._by_length.get(len(candidate) if self._one_char else 0, ()):
            if matcher == candidate:  # VaryingString equality applies the leet variants
                return entry
        return None
