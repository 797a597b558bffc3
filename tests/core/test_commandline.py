"""The line reader: declared names are options, the rest is free text as typed."""

from __future__ import annotations

import pytest

from bot.commandline import CommandLineError, next_word, quote, split_options, unquote

NAMES = {"prompt", "seed", "model"}


@pytest.mark.parametrize(
    "value",
    ['say "hi" now', "a red fox", "back\\slash\\", "“curly” quotes", "tab\there", "x", "«a»"],
)
def test_a_quoted_value_reads_back_unchanged(value: str) -> None:
    split = split_options(f"prompt:{quote(value)} seed:1 rest", NAMES)
    assert split.pairs == [("prompt", value), ("seed", "1")]
    assert split.text == "rest"


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ('"She said \\"hi\\" to me"', 'She said "hi" to me'),  # escaped as in an option value
        ("“curly quotes from a phone”", "curly quotes from a phone"),
        ('"Hello" and "bye"', '"Hello" and "bye"'),  # two quoted parts: not one quoted text
        ('"not closed', '"not closed'),
        ("plain text", "plain text"),
        ('"', '"'),
    ],
)
def test_free_text_wholly_in_quotes_reads_like_a_quoted_value(typed: str, read: str) -> None:
    assert unquote(typed) == read


def test_only_declared_names_and_values_right_after_the_colon_are_options() -> None:
    split = split_options("Note: x note:y MODEL:gpt2 seed: 3 https://a.b/?seed=1", NAMES)
    assert split.pairs == [("model", "gpt2")]
    assert split.text == "Note: x note:y seed: 3 https://a.b/?seed=1"


def test_an_unclosed_quoted_value_is_an_error_but_a_lone_quote_in_text_is_not() -> None:
    with pytest.raises(CommandLineError):
        split_options('prompt:"a red fox', NAMES)
    assert split_options('he said " then left', NAMES).text == 'he said " then left'


def test_next_word_keeps_the_rest_as_typed() -> None:
    assert next_word("  /search  gpt\n neo ") == ("/search", "gpt\n neo ")
    assert next_word("help") == ("help", "")


@pytest.mark.parametrize(
    ("typed", "labels", "text"),
    [
        ("labels:sport, politics, cooking I love it", "sport, politics, cooking", "I love it"),
        ("I love it labels:sport ,politics , cooking", "sport ,politics , cooking", "I love it"),
        ("labels:sport,politics I love it", "sport,politics", "I love it"),
        ("labels:sport, I love it", "sport, I", "love it"),  # a list's words run on
        ("labels:sport,\npolitics", "sport,", "politics"),  # never past the line
        ('labels:"a, b" c', "a, b", "c"),
    ],
)
def test_a_list_value_goes_on_over_spaces_around_its_separators(
    typed: str, labels: str, text: str
) -> None:
    split = split_options(typed, {"labels", "model"}, lists={"labels": ","})
    assert split.pairs == [("labels", labels)]
    assert split.text == text


def test_other_values_stop_at_the_first_space() -> None:
    split = split_options("model:a, b c", {"labels", "model"}, lists={"labels": ","})
    assert split.pairs == [("model", "a,")]
    assert split.text == "b c"


@pytest.mark.parametrize(
    ("typed", "pairs", "text"),
    [
        (
            "Where does Ada live? context:Ada lives in Paris.",
            [("context", "Ada lives in Paris.")],
            "Where does Ada live?",
        ),
        (
            "Where? context:Ada lives in Paris. model:x",
            [("context", "Ada lives in Paris."), ("model", "x")],
            "Where?",
        ),
        (
            "Where? context:Ada lives in Paris.\nmore text",
            [("context", "Ada lives in Paris.")],
            "Where?\nmore text",
        ),
        ('Where? context:"Ada lives" in Paris', [("context", "Ada lives")], "Where? in Paris"),
        ("Where? context:Ada says model: yes", [("context", "Ada says model: yes")], "Where?"),
    ],
)
def test_a_prose_value_runs_to_the_line_end_or_the_next_option(
    typed: str, pairs: list[tuple[str, str]], text: str
) -> None:
    split = split_options(typed, {"context", "model"}, prose={"context"})
    assert split.pairs == pairs
    assert split.text == text


@pytest.mark.parametrize(
    ("typed", "task", "text"),
    [
        ("task:Text Classification bert", "Text Classification", "bert"),
        ("task:automatic speech recognition", "automatic speech recognition", ""),
        ("task:text-classification bert", "text-classification", "bert"),
        ("task:text bert", "text", "bert"),  # no name: the first word alone
        ("task:text\nclassification", "text", "classification"),  # never past the line
        ('task:"text" classification', "text", "classification"),  # quoted: as typed
    ],
)
def test_a_phrase_value_takes_the_words_that_make_a_name(typed: str, task: str, text: str) -> None:
    names = {"text-classification", "automatic-speech-recognition"}
    split = split_options(
        typed, {"task"}, phrases={"task": lambda v: "-".join(v.lower().split()) in names}
    )
    assert split.pairs == [("task", task)]
    assert split.text == text


@pytest.mark.parametrize(
    ("typed", "pairs", "text"),
    [
        ("id:3 The model with id:4 was slowest", [("id", "3")], "The model with id:4 was slowest"),
        ("I used model id:4 and it was fine", [], "I used model id:4 and it was fine"),
        ("The answer:42 is right id:2", [("id", "2")], "The answer:42 is right"),
        ("Paris id:2 answer:x", [("id", "2"), ("answer", "x")], "Paris"),
        ("Paris\nid:2", [("id", "2")], "Paris"),
    ],
)
def test_options_around_text_leave_those_inside_it_alone(
    typed: str, pairs: list[tuple[str, str]], text: str
) -> None:
    split = split_options(typed, {"id", "answer"}, around_text=True)
    assert split.pairs == pairs
    assert split.text == text


@pytest.mark.parametrize(
    ("typed", "pairs", "text"),
    [
        ("prompt:Once upon a time", [], "Once upon a time"),
        ("seed:3 prompt:Once upon", [("seed", "3")], "Once upon"),
        ("prompt:", [], ""),
        ('prompt:"a red fox" seed:3', [("prompt", "a red fox"), ("seed", "3")], ""),
        # Followed by a space (as in a sentence), or once the text has begun, the name is
        # part of the text.
        ("prompt: Once upon a time seed:3", [("seed", "3")], "prompt: Once upon a time"),
        ("Once upon prompt:a time", [], "Once upon prompt:a time"),
    ],
)
def test_the_free_text_may_be_labelled_with_its_option_name(
    typed: str, pairs: list[tuple[str, str]], text: str
) -> None:
    split = split_options(typed, NAMES, around_text=True, label="prompt")
    assert (split.pairs, split.text) == (pairs, text)
