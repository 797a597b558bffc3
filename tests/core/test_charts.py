"""The pictures' axes read as a student would read them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from matplotlib.axes import Axes
from matplotlib.dates import date2num
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from bot import charts
from bot.charts import (
    ComparedModel,
    ModelBar,
    ModelUse,
    activity_chart,
    compare_chart,
    models_chart,
)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures the charts draw, instead of their PNG bytes."""
    figures: list[Figure] = []

    def capture(draw: Callable[[Figure], None], size: tuple[float, float]) -> bytes:
        figure = Figure(figsize=size, layout="constrained")
        draw(figure)
        figure.draw_without_rendering()  # the ticks and their labels as saved
        figures.append(figure)
        return b""

    monkeypatch.setattr(charts, "_png", capture)
    return figures


def bars(axes: Axes) -> list[Rectangle]:
    return [p for p in axes.patches if isinstance(p, Rectangle)]


def rows(axes: Axes) -> list[str]:
    """The y tick labels, top row first (horizontal bars draw bottom-up)."""
    ticks: dict[float, str] = {}
    for tick in axes.yaxis.get_major_ticks():
        ticks[tick.get_loc()] = tick.label1.get_text()
    return [ticks[y] for y in sorted(ticks, reverse=True)]


def bar_rows(axes: Axes) -> list[float]:
    return sorted((b.get_y() + b.get_height() / 2 for b in bars(axes)), reverse=True)


async def test_a_lone_submission_is_shown_within_minutes(drawn: list[Figure]) -> None:
    at = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
    await activity_chart("Cards", [ModelUse("gpt2", 124_000_000, 1, "generate")], [at], 3)
    right = drawn[0].axes[1]
    low, high = right.get_xlim()
    # Matplotlib alone spread one point over years around it.
    assert high - low == pytest.approx(date2num(at + timedelta(minutes=10)) - date2num(at))


# Two Hub models whose ids share their first 41 characters (the tester's /search repro).
SENTIMENT = "cardiffnlp/twitter-roberta-base-sentiment"
LATEST = "cardiffnlp/twitter-roberta-base-sentiment-latest"


async def test_models_sharing_a_long_prefix_get_a_bar_each(drawn: list[Figure]) -> None:
    picture = await models_chart(
        [ModelBar(LATEST, 900, 125_000_000), ModelBar(SENTIMENT, 700, None)],
        "likes",
        "Most liked",
    )
    axes = drawn[0].axes[0]
    assert len(bars(axes)) == 2
    assert len(set(bar_rows(axes))) == 2
    labels = rows(axes)
    # Top row first, as listed; each label still says which model it is.
    assert labels == ["cardiffnlp/twit…sentiment-latest", "cardiffnlp/twit…a-base-sentiment"]
    assert [b.get_width() for b in sorted(bars(axes), key=lambda b: -b.get_y())] == [900, 700]
    # The alt text keeps the full ids.
    assert LATEST in picture.alt and f"{SENTIMENT}: 700" in picture.alt


async def test_labels_that_clip_alike_are_told_apart(drawn: list[Figure]) -> None:
    first = "someone/a-very-long-model-name-that-ends-the-same-v1"
    second = "someone/a-very-long-model-name-but-it-ends-the-same-v1"
    await models_chart(
        [ModelBar(first, 3, 1000), ModelBar(second, 2, 1000), ModelBar("gpt2", 1, None)],
        "likes",
        "Likes",
    )
    axes = drawn[0].axes[0]
    assert len(bars(axes)) == 3
    labels = rows(axes)
    assert len(set(labels)) == 3
    assert labels[1] == labels[0] + " (2)"
    assert labels[2] == "gpt2"


async def test_compared_models_sharing_a_long_prefix_get_a_bar_each(drawn: list[Figure]) -> None:
    await compare_chart(
        "sentiment",
        [ComparedModel(SENTIMENT, 125_000_000, 0.25), ComparedModel(LATEST, 124_000_000, 0.5)],
    )
    sizes, times = drawn[0].axes
    assert len(bars(sizes)) == 2 and len(bars(times)) == 2
    assert len(set(bar_rows(sizes))) == 2
    # In the order run, the first on top, in both panels.
    assert rows(sizes) == ["cardiffnlp/twit…a-base-sentiment", "cardiffnlp/twit…sentiment-latest"]
    on_top = max(bars(times), key=lambda b: b.get_y())
    assert on_top.get_width() == pytest.approx(250)
    assert {b.get_facecolor() for b in bars(sizes)} == {b.get_facecolor() for b in bars(times)}


async def test_local_folders_show_their_folder_name_each_in_its_row(drawn: list[Figure]) -> None:
    folder = "/tmp/pytest-of-student/pytest-7/models"  # longer than a label
    uses = [
        ModelUse(f"{folder}/tiny-sentiment", 27_000, 2, "generate"),
        ModelUse(f"{folder}/tiny-sentiment-2", 27_000, 1, "generate"),
        ModelUse("/srv/elsewhere/tiny-sentiment", None, 1, "generate"),
    ]
    picture = await activity_chart("Cards", uses, [], 3)
    left = drawn[0].axes[0]
    assert len(bars(left)) == 3
    assert len(set(bar_rows(left))) == 3
    # Most students first; a server's folders never show, and the same folder name twice
    # is numbered.
    assert rows(left) == ["tiny-sentiment", "tiny-sentiment (2)", "tiny-sentiment-2"]
    assert "; tiny-sentiment-2 (generate, 27K): 1 student." in picture.alt
    assert str(folder) not in picture.alt and "/srv" not in picture.alt


def test_labels() -> None:
    label = charts._labels
    assert label(["gpt2", "EleutherAI/gpt-neo-125m"]) == ["gpt2", "EleutherAI/gpt-neo-125m"]
    assert label([LATEST]) == ["cardiffnlp/twit…sentiment-latest"]
    assert len(label([LATEST])[0]) == charts._LABEL
    assert label(["/srv/models/tiny/", "./here/tiny"]) == ["tiny", "tiny (2)"]
    assert len(set(label(["a", "a", "a (2)"]))) == 3
