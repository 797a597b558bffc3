"""Charts as PNG pictures: /search lists, /run comparisons, /activity results and the
repetition meter.

Drawn with matplotlib's object API on the Agg canvas (no pyplot: no global state, safe in a
worker thread) by `asyncio.to_thread`, so the event loop never waits on a drawing.
matplotlib is imported inside the drawing functions: the bot's start-up does not pay for it.
Every chart is a `bot.replies.Image` whose alt text carries the same numbers as the picture,
so screen readers (and platforms that show no pictures) lose nothing.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.inference.guard import format_params, looks_local, short_name
from bot.inference.repetition import repeated_ngrams, words_of
from bot.replies import Image

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Draw = Callable[["Figure"], None]
MAX_BARS = 25
_LABEL = 32  # characters of a model id on an axis
# Colours that stay apart for colour-blind readers (Okabe–Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")


def _png(draw: Draw, size: tuple[float, float]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    draw(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def render(
    draw: Draw, *, filename: str, alt: str, caption: str = "", size: tuple[float, float] = (7, 4)
) -> Image:
    """Draw in a worker thread; the picture with its alt text."""
    data = await asyncio.to_thread(_png, draw, size)
    return Image(filename=filename, data=data, alt=alt, caption=caption)


def _shown(model: str) -> str:
    """A model as a chart names it: a Hub id whole, a local folder by its folder name, as
    every other message names it (charts never show a server's folders)."""
    return short_name(model) if looks_local(model) else model


def _short(name: str) -> str:
    """A model's name on an axis (_shown), clipped in the middle, where ids that share an
    owner and a stem differ least."""
    name = _shown(name)
    if len(name) <= _LABEL:
        return name
    head = (_LABEL - 1) // 2
    return name[:head] + "…" + name[head - _LABEL + 1 :]


def _labels(names: Sequence[str]) -> list[str]:
    """The axis labels of `names`, in order; a label already used is numbered (" (2)")."""
    labels: list[str] = []
    for name in names:
        label, n = _short(name), 1
        while label in labels:
            n += 1
            label = f"{_short(name)} ({n})"
        labels.append(label)
    return labels


def _rows(axes: Axes, labels: Sequence[str]) -> range:
    """One row per label, the first on top (horizontal bars draw bottom-up): bars go at
    positions, not at labels, so equal labels never share a row."""
    positions = range(len(labels))
    axes.set_yticks(positions, labels=list(reversed(labels)))
    return positions


# -- /search ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelBar:
    model: str
    value: int
    params: int | None


async def models_chart(bars: Sequence[ModelBar], measure: str, title: str) -> Image:
    """Horizontal bars of `measure` (e.g. "downloads (30 days)") per model, each labelled
    with its parameter count."""
    bars = list(bars[:MAX_BARS])

    def draw(figure: Figure) -> None:
        from matplotlib.ticker import FuncFormatter

        axes = figure.add_subplot()
        rows = _rows(axes, _labels([b.model for b in bars]))
        values = [b.value for b in reversed(bars)]
        drawn = axes.barh(rows, values, color=PALETTE[0])
        sizes = [format_params(b.params) if b.params else "size ?" for b in reversed(bars)]
        axes.bar_label(drawn, labels=sizes, padding=3, fontsize=8)
        axes.set_xlabel(measure)
        # 2.5M, not 2,500,000: full numbers ran into each other under the axis.
        axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: format_params(int(x))))
        axes.set_title(title, fontsize=10)
        axes.margins(x=0.15)
        axes.tick_params(axis="y", labelsize=8)

    alt = f"{title}: bar chart of {measure}. " + "; ".join(
        f"{b.model}: {b.value:,}, {format_params(b.params) if b.params else 'size not published'}"
        for b in bars
    )
    height = 1.5 + 0.3 * len(bars)
    return await render(draw, filename="models.png", alt=alt, caption=title, size=(7, height))


# -- /run compare: ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ComparedModel:
    model: str
    params: int | None  # None: a hosted model whose size the Hub does not list
    seconds: float


async def compare_chart(title: str, models: Sequence[ComparedModel]) -> Image:
    """Two panels, one bar per model in the order run: its size and its time on the same
    input (the lesson's "note each model's size; what differences do you notice?")."""

    def draw(figure: Figure) -> None:
        from matplotlib.ticker import FuncFormatter

        sizes, times = figure.subplots(1, 2, sharey=True)
        upward = list(reversed(models))  # barh draws bottom-up: the first model on top
        rows = _rows(sizes, _labels([m.model for m in models]))  # shared with `times`
        colours = [PALETTE[i % len(PALETTE)] for i in reversed(range(len(models)))]
        drawn = sizes.barh(rows, [m.params or 0 for m in upward], color=colours)
        sizes.bar_label(
            drawn,
            labels=[format_params(m.params) if m.params else "?" for m in upward],
            padding=3,
            fontsize=8,
        )
        sizes.set_xlabel("parameters")
        # 66M, not 6.6 with "1e7" in the corner.
        sizes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: format_params(int(x))))
        sizes.margins(x=0.25)
        ms = [m.seconds * 1000 for m in upward]
        timed = times.barh(rows, ms, color=colours)
        times.bar_label(timed, labels=[f"{t:,.0f} ms" for t in ms], padding=3, fontsize=8)
        times.set_xlabel("time on this input (ms)")
        times.margins(x=0.25)
        sizes.tick_params(axis="y", labelsize=8)
        figure.suptitle(title, fontsize=10)

    alt = f"{title}: size and time of each model. " + "; ".join(
        f"{_shown(m.model)}: {format_params(m.params) if m.params else 'size not published'}, "
        f"{m.seconds * 1000:,.0f} ms"
        for m in models
    )
    height = 1.5 + 0.4 * len(models)
    return await render(draw, filename="compare.png", alt=alt, caption=title, size=(8, height))


# -- /activity results -----------------------------------------------------------------------
@dataclass(frozen=True)
class ModelUse:
    model: str
    params: int | None
    students: int
    kind: str  # what it was used for, e.g. the command or the task


# The narrowest time axis of the submissions chart, each side of a lone submission.
SHORTEST_SPAN = timedelta(minutes=5)


async def activity_chart(
    title: str, uses: Sequence[ModelUse], submitted: Sequence[datetime], expected: int
) -> Image:
    """Two panels: the models the class ran (students per model, coloured by kind, labelled
    with size) and submissions over time (cumulative)."""
    uses = sorted(uses, key=lambda u: (-u.students, u.model))[:MAX_BARS]
    times = sorted(submitted)
    kinds = list(dict.fromkeys(u.kind for u in uses))

    def draw(figure: Figure) -> None:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
        from matplotlib.ticker import MaxNLocator

        left, right = figure.subplots(1, 2)
        if uses:
            colours = [PALETTE[kinds.index(u.kind) % len(PALETTE)] for u in reversed(uses)]
            rows = _rows(left, _labels([u.model for u in uses]))
            drawn = left.barh(rows, [u.students for u in reversed(uses)], color=colours)
            left.bar_label(
                drawn,
                labels=[format_params(u.params) if u.params else "?" for u in reversed(uses)],
                padding=3,
                fontsize=8,
            )
            from matplotlib.patches import Patch

            left.legend(
                handles=[
                    Patch(color=PALETTE[i % len(PALETTE)], label=k) for i, k in enumerate(kinds)
                ],
                fontsize=8,
            )
            left.margins(x=0.2)
        else:
            left.text(0.5, 0.5, "no models run", ha="center", va="center")
            left.set_xticks([])
            left.set_yticks([])
        left.set_title("Models the class ran", fontsize=10)
        left.set_xlabel("students")
        left.xaxis.set_major_locator(MaxNLocator(integer=True))
        left.tick_params(axis="y", labelsize=8)
        if times:
            counts = list(range(1, len(times) + 1))
            right.step(times, counts, where="post", color=PALETTE[2])
            right.plot(times, counts, "o", color=PALETTE[2], markersize=3)
            # In the times' own zone (the class's): matplotlib would otherwise show UTC.
            # matplotlib.dates ships without type hints.
            zone = times[0].tzinfo
            locator = AutoDateLocator(minticks=3, maxticks=7, tz=zone)  # type: ignore[no-untyped-call]
            right.xaxis.set_major_locator(locator)
            right.xaxis.set_major_formatter(
                ConciseDateFormatter(locator, tz=zone)  # type: ignore[no-untyped-call]
            )
            if times[-1] - times[0] < SHORTEST_SPAN:
                # One submission (or all at once): matplotlib would spread the axis over
                # years around it.
                right.set_xlim(times[0] - SHORTEST_SPAN, times[-1] + SHORTEST_SPAN)
        else:
            right.text(0.5, 0.5, "no submissions yet", ha="center", va="center")
            right.set_xticks([])
        if expected:
            right.axhline(expected, linestyle="--", color="grey", linewidth=1)
        right.set_title(f"Submissions ({len(times)} of {expected})", fontsize=10)
        right.set_ylabel("submitted")
        right.set_ylim(bottom=0)
        right.yaxis.set_major_locator(MaxNLocator(integer=True))
        figure.suptitle(title, fontsize=11)

    used = "; ".join(
        f"{_shown(u.model)} ({u.kind}, {format_params(u.params) if u.params else 'size unknown'}): "
        f"{u.students} student{'s' if u.students != 1 else ''}"
        for u in uses
    )
    when = ", ".join(t.strftime("%H:%M %Z").strip() for t in times)
    alt = (
        f"{title}. Models the class ran: {used or 'none'}. "
        f"Submissions: {len(times)} of {expected}" + (f", at {when}." if when else ".")
    )
    return await render(draw, filename="activity.png", alt=alt, caption=title, size=(10, 4))


# -- the repetition meter --------------------------------------------------------------------
async def repetition_chart(text: str, n: int = 3) -> Image:
    """Where a generated text repeats itself: a mark for each n-word chunk that occurred
    earlier, along the text, with the running share of repeats."""
    repeats = repeated_ngrams(words_of(text), n)
    total, found = len(repeats), sum(repeats)
    first = repeats.index(True) + 1 if found else None

    def draw(figure: Figure) -> None:
        from matplotlib.ticker import MaxNLocator

        axes = figure.add_subplot()
        positions = range(1, total + 1)
        axes.bar(positions, [1 if r else 0 for r in repeats], width=1.0, color=PALETTE[5])
        running = [sum(repeats[: i + 1]) / (i + 1) for i in range(total)]
        axes.plot(positions, running, color=PALETTE[0], label="share repeated so far")
        axes.set_ylim(0, 1.05)
        axes.set_xlabel("word of the text")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_yticks([0, 0.5, 1])
        axes.set_title(f"Repeated {n}-word chunks along the text", fontsize=10)
        axes.legend(fontsize=8, loc="upper left", framealpha=0.9)

    share = round(100 * found / total) if total else 0
    alt = (
        f"Repeated {n}-word chunks along the text: {found} of {total} ({share}%) repeat an "
        "earlier one" + (f"; the first repeat starts at word {first}." if first else ".")
    )
    return await render(draw, filename="repetition.png", alt=alt, caption=alt, size=(6, 2.5))
