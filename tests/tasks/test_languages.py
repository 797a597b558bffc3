"""The languages of translation models, read from what real models ship (no torch)."""

from __future__ import annotations

from bot.inference.tasks.languages import (
    Languages,
    check,
    direction,
    direction_shown,
    from_card,
    from_name,
    from_task_params,
    from_tokenizer_config,
    language_of,
    typed_language,
)

# The shapes of real tokenizer_config.json files (trimmed lists).
M2M100 = {
    "tokenizer_class": "M2M100Tokenizer",
    "language_codes": "m2m100",
    "additional_special_tokens": ["__af__", "__de__", "__en__", "__fr__", "__zh__"],
}
NLLB_V4 = {
    "tokenizer_class": "NllbTokenizer",
    "additional_special_tokens": ["deu_Latn", "eng_Latn", "fra_Latn", "zho_Hans", "zho_Hant"],
    "added_tokens_decoder": {"0": {"content": "<s>", "special": True}},
}
MARIAN = {"tokenizer_class": "MarianTokenizer", "source_lang": "en", "target_lang": "de"}
MARIAN_GROUP = {"tokenizer_class": "MarianTokenizer", "source_lang": "en", "target_lang": "ROMANCE"}


def test_language_tokens_and_pairs_from_tokenizer_configs() -> None:
    m2m, none = from_tokenizer_config(M2M100)
    assert m2m == ("__af__", "__de__", "__en__", "__fr__", "__zh__") and none is None
    nllb, _ = from_tokenizer_config(NLLB_V4)
    assert nllb == ("deu_Latn", "eng_Latn", "fra_Latn", "zho_Hans", "zho_Hant")
    assert from_tokenizer_config(MARIAN) == ((), ("en", "de"))
    assert from_tokenizer_config(MARIAN_GROUP) == ((), None)  # a group is no language
    assert from_name("Helsinki-NLP/opus-mt-en-de") == ("en", "de")
    assert from_name("Helsinki-NLP/opus-mt-en-ROMANCE") is None
    assert from_card(["multilingual", "en", "fr", 3]) == ("en", "fr")


def test_any_code_of_a_language_finds_the_models_token() -> None:
    m2m = Languages(tokens=from_tokenizer_config(M2M100)[0])
    assert m2m.find("fr") == m2m.find("fra") == m2m.find("__fr__") == "__fr__"
    assert m2m.find("ro") is None and m2m.shown() == "af, de, en, fr, zh"
    nllb = Languages(tokens=from_tokenizer_config(NLLB_V4)[0])
    assert nllb.find("fr") == nllb.find("FRA_LATN") == "fra_Latn"
    # The exact token wins over another script of the same language.
    assert nllb.find("zho_Hant") == "zho_Hant" and nllb.find("zh") == "zho_Hans"


def test_what_each_kind_of_model_accepts() -> None:
    m2m = Languages(tokens=from_tokenizer_config(M2M100)[0])
    assert check(m2m, "en", "fr") is None and check(m2m, "", "fr") is None
    assert check(m2m, "en", "") == (
        "translates into many languages: say which with target: (af, de, en, fr, zh)"
    )
    assert check(m2m, "en", "ro") == "does not know ro; it knows: af, de, en, fr, zh"
    pair = Languages(pair=("en", "de"))
    assert check(pair, "", "") is None and check(pair, "eng", "deu") is None
    assert check(pair, "fr", "") == "translates only from en to de"
    card = Languages(codes=("en", "fr", "ro", "de"))
    assert check(card, "", "") is None  # directions unknown: the model's prompts decide
    assert check(card, "en", "ja") == "does not know ja; it knows: en, fr, ro, de"
    assert check(Languages(), "xx", "yy") is None  # nothing known: nothing to check
    # No English to assume as the source: the student must say it.
    no_english = Languages(tokens=("__de__", "__fr__", "__ja__"))
    assert check(no_english, "", "ja") == (
        "needs the language of your text: say it with source: (de, fr, ja)"
    )


def test_t5_translates_only_in_the_directions_of_its_prompts() -> None:
    # t5-small's config.json: one prompt per direction, all from English.
    config = {
        "task_specific_params": {
            "summarization": {"prefix": "summarize: "},
            "translation_en_to_de": {"prefix": "translate English to German: "},
            "translation_en_to_fr": {"prefix": "translate English to French: "},
            "translation_en_to_ro": {"prefix": "translate English to Romanian: "},
        }
    }
    directions = from_task_params(config)
    assert directions == (("en", "de"), ("en", "fr"), ("en", "ro"))
    t5 = Languages(codes=("en", "de", "fr", "ro"), directions=directions)
    assert Languages.from_json(t5.to_json()) == t5
    for fits in (("", ""), ("en", "fr"), ("", "ro"), ("en", "")):
        assert check(t5, *fits) is None, fits
    only = "translates only: source:en target:de, source:en target:fr, source:en target:ro"
    for wrong in (("fr", "en"), ("de", "fr"), ("fr", "")):
        assert check(t5, *wrong) == only, wrong
    assert check(t5, "en", "es") == "does not know es; it knows: en, de, fr, ro"


# tiny-t5's prompts (tests/support/tiny_task_models.py), as the vetting reads them.
TINY_T5 = Languages(codes=("en",), directions=(("en", "de"), ("en", "fr")))


def test_a_language_is_found_by_its_english_name_in_any_case() -> None:
    for said, language in {
        "english": "en",
        "French": "fr",
        "GERMAN": "de",
        "Spanish": "es",
        "swahili": "sw",  # "Swahili (macrolanguage)"
        "greek": "el",  # "Modern Greek (1453-)"
        "chinese": "zh",
        "EN": "en",
        "Fra": "fr",
    }.items():
        assert typed_language(said) == language, said
    assert typed_language("Deutsch") == "de"  # a language's own name too
    for nothing in ("", "hello", "xx"):
        assert typed_language(nothing) is None, nothing
    for group in ("multilingual", "ROMANCE"):  # in a model's config: no language
        assert language_of(group) is None, group


def test_t5_directions_accept_any_code_or_name_of_their_languages() -> None:
    for source, target in (
        ("eng", "fra"),
        ("english", "french"),
        ("EN", "FR"),
        ("en", "fra_Latn"),
        ("English", "French"),
    ):
        assert check(TINY_T5, source, target) is None, (source, target)
        # The model's own codes, for its prompt.
        assert direction(TINY_T5, source, target) == ("en", "fr"), (source, target)
    assert direction(TINY_T5, "english", "") == direction(TINY_T5, "", "") == ("en", "de")
    assert direction(TINY_T5, "fra", "") is None
    assert direction(TINY_T5, "en", "xx") is None
    only = "translates only: source:en target:de, source:en target:fr"
    assert check(TINY_T5, "french", "english") == only
    # Replies list what the model knows in its own codes, whatever the student typed.
    assert check(TINY_T5, "english", "romanian") == "does not know romanian; it knows: en, de, fr"


def test_names_fit_a_one_pair_model_and_a_many_to_many_one() -> None:
    pair = Languages(pair=("en", "de"))
    assert check(pair, "English", "german") is None
    assert check(pair, "french", "") == "translates only from en to de"
    nllb = Languages(tokens=from_tokenizer_config(NLLB_V4)[0])
    assert nllb.find("French") == "fra_Latn" and check(nllb, "german", "FRENCH") is None


def test_the_reply_names_the_direction_the_model_was_given() -> None:
    assert direction_shown(TINY_T5, "", "") == "en → de"  # nothing said: the first prompt
    assert direction_shown(TINY_T5, "eng", "french") == "en → fr"
    assert direction_shown(TINY_T5, "fr", "") == ""  # refused before it runs
    assert direction_shown(Languages(pair=("en", "de")), "", "") == "en → de"
    nllb = Languages(tokens=from_tokenizer_config(NLLB_V4)[0])
    assert direction_shown(nllb, "", "french") == "eng_Latn → fra_Latn"
    m2m = Languages(tokens=from_tokenizer_config(M2M100)[0])
    assert direction_shown(m2m, "de", "fr") == "de → fr" and direction_shown(m2m, "", "") == ""
    # A card's codes only: the model (or the provider) chooses, so the reply says nothing.
    assert direction_shown(Languages(codes=("en", "fr")), "", "fr") == ""
