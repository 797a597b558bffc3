"""The lesson's "repetition meter": how much a generated text repeats itself, in plain words.

Pure functions over words (lower-cased, punctuation dropped), so the numbers do not depend on
the model's tokenizer and students can check them by hand:

- distinct-n: unique n-grams / all n-grams (1.0 = nothing repeats).
- repeated 3-gram share: 1 - distinct-3, the "rep-3" of the degeneration literature.
- longest repeated span: the longest run of words that occurs twice (occurrences may overlap,
  so "the cat the cat the cat" repeats "the cat the cat").
- score: the share of word pairs that are repeats, 0-100 (= 100 * (1 - distinct-2)), because
  "42% of word pairs are repeats" is a sentence a student can verify.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "RepetitionReport",
    "distinct_n",
    "longest_repeated_span",
    "meter",
    "repeated_ngrams",
    "repetition_report",
    "words_of",
]

_WORD = re.compile(r"\w+(?:['’]\w+)*")
METER_WIDTH = 10
# Longer texts are cut before the span search; generations are at most a few hundred words.
MAX_WORDS = 5000


@dataclass(frozen=True, slots=True)
class RepetitionReport:
    words: int
    distinct_1: float
    distinct_2: float
    repeated_trigram_share: float
    longest_repeat: str  # the words of the longest repeated span ("" when none)
    longest_repeat_words: int
    score: int  # 0-100: share of word pairs that repeat an earlier pair
    meter: str  # e.g. "▓▓▓▓░░░░░░ 40%"
    explanation: str  # one plain-language line for students


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())[:MAX_WORDS]


def distinct_n(words: Sequence[str], n: int) -> float:
    """Unique n-grams over all n-grams; 1.0 when the text has no n-gram at all."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 1.0


def repeated_ngrams(words: Sequence[str], n: int = 3) -> list[bool]:
    """For each n-gram along the text (by its first word), whether it occurred earlier: where
    the text starts to loop, as the chart of the meter draws it."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for i in range(len(words) - n + 1):
        gram = tuple(words[i : i + n])
        out.append(gram in seen)
        seen.add(gram)
    return out


def _has_repeat(words: Sequence[str], length: int) -> int | None:
    """Start of the first span of `length` words that occurred before, or None."""
    seen: set[tuple[str, ...]] = set()
    for i in range(len(words) - length + 1):
        gram = tuple(words[i : i + length])
        if gram in seen:
            return i
        seen.add(gram)
    return None


def longest_repeated_span(words: Sequence[str]) -> list[str]:
    """Longest word run occurring at least twice. Binary search works because any repeated
    span of length L contains a repeated span of length L - 1."""
    low, high, best = 1, len(words) - 1, -1
    best_len = 0
    while low <= high:
        mid = (low + high) // 2
        start = _has_repeat(words, mid)
        if start is None:
            high = mid - 1
        else:
            best, best_len, low = start, mid, mid + 1
    return list(words[best : best + best_len]) if best >= 0 else []


def meter(score: int, width: int = METER_WIDTH) -> str:
    """A bar a chat can show in any font: "▓▓▓▓░░░░░░ 40%"."""
    score = max(0, min(100, score))
    filled = int(score * width / 100 + 0.5)  # round half up, unlike round()
    return "▓" * filled + "░" * (width - filled) + f" {score}%"


def _explain(n_words: int, score: int, span_words: int) -> str:
    if n_words < 3:
        return f"Too short to measure repetition ({n_words} word{'s' if n_words != 1 else ''})."
    if score == 0:
        return "No word pair is repeated — the text keeps moving on."
    line = f"{score}% of word pairs are repeats"
    if score >= 30:
        line += " — the model keeps choosing the most likely words"
    elif score >= 10:
        line += " — some phrases come back"
    else:
        line += " — only a little repetition"
    if span_words >= 3:
        article = "an" if str(span_words).startswith("8") or span_words in (11, 18) else "a"
        line += f" ({article} {span_words}-word chunk appears twice)"
    return line + "."


def repetition_report(text: str) -> RepetitionReport:
    words = words_of(text)
    d2 = distinct_n(words, 2)
    span = longest_repeated_span(words)
    has_pairs = len(words) >= 2
    score = round(100 * (1.0 - d2)) if has_pairs else 0
    return RepetitionReport(
        words=len(words),
        distinct_1=distinct_n(words, 1),
        distinct_2=d2,
        repeated_trigram_share=1.0 - distinct_n(words, 3),
        longest_repeat=" ".join(span),
        longest_repeat_words=len(span),
        score=score,
        meter=meter(score),
        explanation=_explain(len(words), score, len(span)),
    )
