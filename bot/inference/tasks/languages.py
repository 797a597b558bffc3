"""The languages a translation model knows, and the codes students type for them (no torch).

Where a model says it:
- its language tokens (M2M100 `__fr__`, NLLB `fra_Latn`, mBART-50 `fr_XX`), listed in its
  tokenizer's special tokens: a many-to-many model, told the target by the token that starts
  its answer and the source by the token before the text;
- one pair in its name (Helsinki-NLP/opus-mt-en-de) or its tokenizer (Marian `source_lang`,
  `target_lang`): it translates that way only;
- the card's `language:` list (the Hub answers this without a file download): the codes it
  knows, directions unknown.

Codes are compared as languages (langcodes): fr, fra and fra_Latn are one language, so a
student may type any of them, or the language's name ("French", "Deutsch"), in any case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import langcodes

# __fr__ (M2M100, SMaLL-100); fra_Latn (NLLB); fr_XX, zh_CN (mBART-50).
_TOKEN = re.compile(r"^__([a-z]{2,3})__$|^([a-z]{2,3}_[A-Z][A-Za-z]{1,3})$")
_PAIR_NAME = re.compile(r"opus-mt-([a-z]{2,3})-([a-z]{2,3})$")
SHOWN = 12  # codes listed in a reply; the rest are counted


def language_of(code: str) -> str | None:
    """The language a code names ("fra_Latn" → "fr"), None when it names none."""
    code = code.strip().strip("_").replace("_", "-")
    if not code:
        return None
    try:
        found = langcodes.Language.get(code)
    except (ValueError, LookupError):
        return None
    if not langcodes.tag_is_valid(found.language or ""):
        return None
    return found.language


def typed_language(said: str) -> str | None:
    """The language a student names by a code or by its name ("French", "Deutsch"). Only
    for what students type: a model's own tokens are codes, and a name lookup would read
    Marian's group "ROMANCE" as Romany."""
    return language_of(said) or (_named(said.strip()) if said.strip() else None)


def _named(name: str) -> str | None:
    """The language a name names in English or in itself ("French", "Deutsch" → "fr", "de")."""
    try:
        return langcodes.find(name).language
    except LookupError:
        return None


def code_of(token: str) -> str:
    """What a student types for a language token, and what the tokenizer's `src_lang` takes:
    `__fr__` → `fr`; `fra_Latn` stays."""
    match = _TOKEN.match(token)
    return (match.group(1) or match.group(2)) if match else token


def language_tokens(tokens: Iterable[object]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t for t in tokens if isinstance(t, str) and _TOKEN.match(t)))


@dataclass(frozen=True)
class Languages:
    tokens: tuple[str, ...] = ()  # the model's language tokens: many-to-many
    pair: tuple[str, str] | None = None  # one direction only (source, target)
    codes: tuple[str, ...] = ()  # named by the card; directions unknown
    # T5's prompts (task_specific_params): the only (source, target) pairs it translates.
    directions: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.tokens or self.pair or self.codes or self.directions)

    def known(self) -> tuple[str, ...]:
        """The codes to show a student."""
        if self.tokens:
            return tuple(code_of(t) for t in self.tokens)
        if self.directions:
            return tuple(dict.fromkeys(code for pair in self.directions for code in pair))
        return self.pair or self.codes

    def find(self, code: str) -> str | None:
        """The model's own form of `code` (its token, or the code it knows), None when the
        model does not know that language. The exact token wins over one of its language."""
        own = self.tokens or self.known()
        wanted = code.strip().lower()
        for item in own:
            if wanted in (item.lower(), code_of(item).lower()):
                return item
        language = typed_language(code)
        if language is None:
            return None
        return next((item for item in own if language_of(code_of(item)) == language), None)

    def shown(self) -> str:
        codes = list(dict.fromkeys(self.known()))
        more = f" and {len(codes) - SHOWN} more" if len(codes) > SHOWN else ""
        return ", ".join(codes[:SHOWN]) + more

    def to_json(self) -> dict[str, Any]:
        return {
            "tokens": list(self.tokens),
            "pair": list(self.pair or ()),
            "codes": list(self.codes),
            "directions": [list(d) for d in self.directions],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Languages:
        data = data or {}
        pair = [str(x) for x in data.get("pair") or ()]
        return cls(
            tokens=tuple(str(t) for t in data.get("tokens") or ()),
            pair=(pair[0], pair[1]) if len(pair) == 2 else None,
            codes=tuple(str(c) for c in data.get("codes") or ()),
            directions=tuple(
                (str(d[0]), str(d[1])) for d in data.get("directions") or () if len(d) == 2
            ),
        )


def from_name(name: str) -> tuple[str, str] | None:
    """The pair an opus-mt name says (Helsinki-NLP/opus-mt-en-de → en, de)."""
    match = _PAIR_NAME.search(name.rstrip("/").lower())
    return (match.group(1), match.group(2)) if match else None


def from_card(value: object) -> tuple[str, ...]:
    """The card's `language:` entries that name a language ("multilingual" does not)."""
    items = value if isinstance(value, list) else [value]
    return tuple(
        dict.fromkeys(str(v) for v in items if isinstance(v, str) and language_of(v) is not None)
    )


def from_tokenizer_config(
    config: Mapping[str, Any],
) -> tuple[tuple[str, ...], tuple[str, str] | None]:
    """(language tokens, Marian's pair) from a tokenizer_config.json."""
    found: list[object] = []
    for key in ("additional_special_tokens", "extra_special_tokens"):
        value = config.get(key)
        found += list(value.values()) if isinstance(value, dict) else list(value or [])
    decoder = config.get("added_tokens_decoder")
    if isinstance(decoder, dict):
        found += [t.get("content") for t in decoder.values() if isinstance(t, dict)]
    found = [t.get("content") if isinstance(t, dict) else t for t in found]
    source, target = config.get("source_lang"), config.get("target_lang")
    pair = (source, target) if isinstance(source, str) and isinstance(target, str) else None
    if pair is not None and None in (language_of(pair[0]), language_of(pair[1])):
        pair = None  # e.g. opus-mt-en-ROMANCE: a group, chosen by >>fr<< tokens in the text
    return language_tokens(found), pair


def from_task_params(config: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The (source, target) pairs of a T5-style config's "translation_en_to_de" prompts."""
    params = config.get("task_specific_params")
    pairs: list[tuple[str, str]] = []
    for key in params if isinstance(params, dict) else ():
        source, to, target = str(key).removeprefix("translation_").partition("_to_")
        if str(key).startswith("translation_") and to and source and target:
            pairs.append((source, target))
    return tuple(sorted(dict.fromkeys(pairs)))


def check(languages: Languages, source: str, target: str) -> str | None:
    """Why `source`/`target` do not fit the model, None when they do (or nothing is known)."""
    if not languages:
        return None
    if languages.pair is not None:
        want_source, want_target = languages.pair
        for given, wanted in ((source, want_source), (target, want_target)):
            if given and typed_language(given) != language_of(wanted):
                return f"translates only from {want_source} to {want_target}"
        return None
    for given in (source, target):
        if given and languages.find(given) is None:
            return f"does not know {given}; it knows: {languages.shown()}"
    if languages.directions and direction(languages, source, target) is None:
        pairs = (f"source:{s} target:{t}" for s, t in languages.directions)
        return f"translates only: {', '.join(pairs)}"
    if languages.tokens and not source and languages.find("en") is None:
        return f"needs the language of your text: say it with source: ({languages.shown()})"
    if languages.tokens and not target:
        return f"translates into many languages: say which with target: ({languages.shown()})"
    return None


def direction(languages: Languages, source: str, target: str) -> tuple[str, str] | None:
    """Which of a T5-style model's `directions` (its own codes) translates what a student
    asked (any code or name of each language): from English unless told, into the target
    given or else the first one that source has. None when none does."""
    mine, wanted = languages.find(source or "en"), languages.find(target) if target else None
    return next(
        ((s, t) for s, t in languages.directions if s == mine and (not target or t == wanted)),
        None,
    )


def direction_shown(languages: Languages, source: str, target: str) -> str:
    """The way a model translates what a student asked, in its own codes ("en → de"), for
    the reply; "" where the bot does not choose it (a card's codes only, or a bad code)."""
    pair = languages.pair or direction(languages, source, target)
    if pair is None and languages.tokens:  # as the worker sets them: from English unless told
        mine, wanted = languages.find(source or "en"), languages.find(target)
        pair = (mine, wanted) if mine and wanted else None
    return " → ".join(map(code_of, pair)) if pair else ""


def in_models_words(languages: Languages, said: str) -> str:
    """What a student typed for a language, as the model writes it ("english" → its
    "eng_Latn" or "en"), else as a plain code ("en"), else as typed: a hosted provider
    passes it to the model as it is."""
    if not said:
        return said
    own = languages.find(said) if languages else None
    return own or typed_language(said) or said
