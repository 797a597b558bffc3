"""The pictures' axes read as a student would read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from matplotlib.dates import date2num
from matplotlib.figure import Figure

from bot import charts
from bot.charts import ModelUse, activity_chart


async def test_a_lone_submission_is_shown_within_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[Figure] = []

    def capture(draw: Any, size: tuple[float, float]) -> bytes:
        figure = Figure(figsize=size)
        draw(figure)
        drawn.append(figure)
        return b""

    monkeypatch.setattr(charts, "_png", capture)
    at = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
    await activity_chart("Cards", [ModelUse("gpt2", 124_000_000, 1, "generate")], [at], 3)
    right = drawn[0].axes[1]
    low, high = right.get_xlim()
    # Matplotlib alone spread one point over years around it.
    assert high - low == pytest.approx(date2num(at + timedelta(minutes=10)) - date2num(at))
