"""The classroom prompt filter (better_profanity's word list + instructor words)."""

from __future__ import annotations

import pytest
from better_profanity import Profanity

from bot.inference.class_filter import WordLists, check_texts, default_blocks, list_word
from bot.inference.safety import BLOCKED_REASON, FilterVerdict, PromptFilter, normalize


@pytest.fixture(scope="module")
def default_filter() -> PromptFilter:
    return PromptFilter()


@pytest.mark.parametrize(
    "prompt",
    [
        "a cute cat reading a book in space",
        "Scunthorpe at sunset",  # the classic substring false positive
        "a classic car",
        "an assessment sheet on a desk",
        "a cocktail glass",
        "grass and a passion fruit in Sussex",
        "Penistone train station",
        "a red fox, watercolor",
        "",
        "!!!",
    ],
)
def test_clean_prompts_pass(default_filter: PromptFilter, prompt: str) -> None:
    assert default_filter.check(prompt) == FilterVerdict(allowed=True, reason="", matched=())


@pytest.mark.parametrize(
    ("prompt", "entry"),
    [
        ("a shit sandwich", "shit"),
        ("SHIT", "shit"),  # case-insensitive
        ("Shit!", "shit"),
        ("a sh1t sandwich", "sh1t"),  # leet speak
        ("$hit", "shit"),
        ("@ss", "ass"),
        ("what the f*ck", None),  # '*' stands for a vowel; several entries match it
        ('"shit"', "shit"),  # quotes count as letters for the library
        ("a blow job", "blow job"),  # phrases
        ("a blow-job", "blowjob"),
        ("Ｓｈｉｔ", "shit"),  # full-width letters fold to plain ones
        ("sh\u200bit", "shit"),  # zero-width space inside the word
        ("KİLL them all", "kill"),  # Turkish dotted capital I lowercases to i + a mark
        ("kıll", "kill"),  # dotless i
        ("shìt", "shit"),  # accents are folded away
        ("s\u0336hit", "shit"),  # a combining strike-through inside the word
    ],
)
def test_blocked_prompts(default_filter: PromptFilter, prompt: str, entry: str | None) -> None:
    verdict = default_filter.check(prompt)
    assert not verdict.allowed
    assert verdict.reason == BLOCKED_REASON
    assert verdict.matched
    if entry is not None:
        assert entry in verdict.matched


def test_the_reason_is_kind_and_never_repeats_the_word(default_filter: PromptFilter) -> None:
    verdict = default_filter.check("a bitch and a bastard")
    assert not verdict.allowed
    assert set(verdict.matched) == {"bitch", "bastard"}
    for word in verdict.matched:
        assert word not in verdict.reason.lower()
    assert "Try describing the scene differently." in verdict.reason


def test_instructor_words_are_blocked_with_variants() -> None:
    prompt_filter = PromptFilter(extra_words=["Homework", "pop quiz", "  "])
    assert prompt_filter.check("my homework").matched == ("homework",)
    assert not prompt_filter.check("H0MEW0RK please").allowed
    assert not prompt_filter.check("a surprise pop quiz").allowed
    assert not prompt_filter.check("a surprise pop-quiz").allowed
    assert prompt_filter.check("a homeworker").allowed  # whole words only
    assert not prompt_filter.check("shit").allowed  # the default list still applies


def test_allow_words_unblock_list_entries() -> None:
    # The library's list includes words a class may need ("ugly duckling", "killer whale").
    assert not PromptFilter().check("the ugly duckling").allowed
    prompt_filter = PromptFilter(allow_words=["UGLY"], extra_words=["ugly", "homework"])
    assert prompt_filter.check("the ugly duckling").allowed  # allow wins over extra
    assert not prompt_filter.check("homework").allowed
    assert not prompt_filter.check("shit").allowed


def test_same_answers_as_the_library(default_filter: PromptFilter) -> None:
    # The scan is ours (faster, names the entries); the decision must match the library's.
    library = Profanity()
    prompts = [
        "a cute cat",
        "Scunthorpe",
        "a sh1t day",
        "a blow job",
        "blow-job",
        "hello f*ck world",
        "@ss hat",
        "2 girls 1 cup",
        "a bitch.",
        "class assessment",
        "damn it",
        "beautiful sunset over the ocean, trending on artstation",
        "fuuuck",
        "b00bs",
        "Dick Whittington and his cat",
    ]
    for prompt in prompts:
        expected = library.contains_profanity(normalize(prompt))
        assert (not default_filter.check(prompt).allowed) == expected, prompt


def test_a_long_prompt_is_checked(default_filter: PromptFilter) -> None:
    prompt = ("a detailed watercolor painting of a fox under an old oak tree " * 16)[:990]
    assert default_filter.check(prompt).allowed
    assert not default_filter.check(prompt + " shit").allowed


def test_a_class_filter_is_built_from_plain_word_lists() -> None:
    lists = WordLists(blocked=("dragon",), allowed=("ugly",))
    assert check_texts(lists, "an ugly duckling", "").allowed
    assert not check_texts(WordLists(), "an ugly duckling").allowed
    verdict = check_texts(lists, "a green dragon", "sh1t, and a dragon")
    assert not verdict.allowed and verdict.reason == BLOCKED_REASON
    assert verdict.matched == ("dragon", "sh1t")  # every text's words, each once
    assert default_blocks("ugly", ()) and not default_blocks("ugly", ("ugly",))
    assert not default_blocks("dragon", ())  # only the class added it
    assert list_word("  Green \t DRAGON ") == "green dragon"
