"""A Hub page's address where an id goes: which repo it shows, or what to copy instead."""

from __future__ import annotations

import pytest

from bot.hub.links import LinkError, ListPage, ViewerPage, list_page, repo_id, viewer_page


@pytest.mark.parametrize(
    ("typed", "kind", "wanted"),
    [
        ("gpt2", "model", "gpt2"),  # not a link: unchanged
        ("./models/tiny-sentiment", "model", "./models/tiny-sentiment"),
        ("https://huggingface.co/EleutherAI/gpt-neo-125m", "model", "EleutherAI/gpt-neo-125m"),
        ("huggingface.co/EleutherAI/gpt-neo-125m", "model", "EleutherAI/gpt-neo-125m"),
        ("https://hf.co/openai-community/gpt2/tree/main", "model", "openai-community/gpt2"),
        (
            "https://huggingface.co/openai-community/gpt2#how-to-use",
            "model",
            "openai-community/gpt2",
        ),
        ("https://huggingface.co/gpt2", "model", "gpt2"),  # an id from before namespaces
        ("https://huggingface.co/datasets/stanfordnlp/imdb", "dataset", "stanfordnlp/imdb"),
        ("https://huggingface.co/datasets/imdb", "dataset", "imdb"),
        (
            "https://huggingface.co/datasets/stanfordnlp/imdb/viewer/plain_text/train",
            "dataset",
            "stanfordnlp/imdb",
        ),
        # "www." typed by hand: the site redirects it, and so do we.
        ("www.huggingface.co/EleutherAI/gpt-neo-125m", "model", "EleutherAI/gpt-neo-125m"),
        ("https://www.huggingface.co/datasets/imdb", "dataset", "imdb"),
    ],
)
def test_the_repo_a_link_shows(typed: str, kind: str, wanted: str) -> None:
    assert repo_id(typed, kind) == wanted


@pytest.mark.parametrize(
    ("typed", "kind", "what", "todo"),
    [
        (
            "https://huggingface.co/datasets/stanfordnlp/imdb",
            "model",
            "is a dataset's page.",
            "Open it with /dataset id:stanfordnlp/imdb.",
        ),
        (
            "https://huggingface.co/EleutherAI/gpt-neo-125m",
            "dataset",
            "is a model's page.",
            "Open it with /search model:EleutherAI/gpt-neo-125m.",
        ),
        (
            "https://huggingface.co/spaces/openai/whisper",
            "model",
            "is a Space's (an app) page.",
            "Copy the address of the model's page (huggingface.co/<owner>/<name>), or type its id.",
        ),
        (
            "https://github.com/huggingface/transformers",
            "model",
            "is not a model's page.",
            "Copy the address of the model's page",
        ),
        (
            "https://huggingface.co/models?pipeline_tag=text-classification",
            "model",
            "is not a model's page.",
            "Copy the address",
        ),
        (
            "https://huggingface.co/datasets/stanfordnlp/imdb/discussions/3",
            "dataset",
            "is not a dataset's page.",
            "Copy the address of the dataset's page (huggingface.co/datasets/<owner>/<name>)",
        ),
    ],
)
def test_a_link_to_something_else_says_what_to_copy(
    typed: str, kind: str, what: str, todo: str
) -> None:
    with pytest.raises(LinkError) as caught:
        repo_id(typed, kind)
    assert caught.value.what == f"{typed} {what}"
    assert caught.value.todo.startswith(todo)


@pytest.mark.parametrize(
    ("typed", "kind", "wanted"),
    [
        (
            "https://huggingface.co/models?pipeline_tag=text-classification&sort=likes",
            "model",
            ListPage(task="text-classification", sort="likes"),
        ),
        (
            "huggingface.co/models?search=gpt-neo&library=transformers&sort=modified",
            "model",
            ListPage(words="gpt-neo", sort="recent", library="transformers"),
        ),
        ("https://huggingface.co/models", "model", ListPage()),
        ("www.huggingface.co/models?sort=likes", "model", ListPage(sort="likes")),
        (
            "https://huggingface.co/datasets?task_categories=task_categories:text-classification",
            "dataset",
            ListPage(task="text-classification"),
        ),
        ("https://huggingface.co/datasets?sort=trending", "model", None),  # not the models list
        ("https://huggingface.co/EleutherAI/gpt-neo-125m", "model", None),
        ("models?sort=likes", "model", None),  # not a link
    ],
)
def test_the_filters_of_a_list_page(typed: str, kind: str, wanted: ListPage | None) -> None:
    assert list_page(typed, kind) == wanted


@pytest.mark.parametrize(
    ("typed", "wanted"),
    [
        (
            "https://huggingface.co/datasets/stanfordnlp/imdb/viewer/plain_text/test?row=4",
            ViewerPage("stanfordnlp/imdb", "plain_text", "test"),
        ),
        ("huggingface.co/datasets/imdb/viewer/plain_text", ViewerPage("imdb", "plain_text")),
        ("https://huggingface.co/datasets/imdb/viewer", ViewerPage("imdb")),
        (
            "https://www.huggingface.co/datasets/imdb/viewer/plain_text",
            ViewerPage("imdb", "plain_text"),
        ),
        ("https://huggingface.co/datasets/stanfordnlp/imdb", None),
        ("https://huggingface.co/openai-community/gpt2/viewer", None),
        ("https://huggingface.co/datasets/a/b/c/viewer", None),
    ],
)
def test_the_rows_a_viewer_link_shows(typed: str, wanted: ViewerPage | None) -> None:
    assert viewer_page(typed) == wanted
