"""The class's time zone and reminder leads."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bot.activities.scheduler import ActivityScheduler, Sent
from bot.config import ConfigError, load_settings
from bot.replies import Card, File
from tests.activity.conftest import POST, RecordingOutbox, post
from tests.support.botdriver import FakeClock, running_bot, settings_for_tests


async def test_times_are_shown_in_the_class_time_zone(tmp_path: Path) -> None:
    settings = settings_for_tests(tmp_path, timezone="Europe/Paris")
    async with running_bot(settings, FakeClock()) as bot:  # 09:00 UTC = 10:00 in Paris
        reply = await bot.run(POST.format(minutes=10), user="teacher", role="instructor")
        assert isinstance(reply, Card)
        assert reply.fields[0].value == "10:10 CET (in 10 minutes)"
        await bot.run("/activity submit bonjour", user="ana")
        _, attachment = await bot.run_all("/activity results", user="teacher", role="instructor")
        assert isinstance(attachment, File)
        (row,) = csv.DictReader(io.StringIO(attachment.data.decode("utf-8-sig")))
        assert row["submitted at (CET)"] == "2026-03-02 10:00:00"


def test_an_unknown_time_zone_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSBOT_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError, match="CLASSBOT_TIMEZONE"):
        load_settings(_env_file=None)


@pytest.mark.parametrize(
    ("overrides", "minutes", "reminder_minute"),
    [
        ({}, 15, 10),  # 15 minutes or more: the long lead (5)
        ({}, 14, 13),  # shorter: the short lead (1)
        ({"activity_reminder_minutes": 10}, 30, 20),
        ({"activity_short_reminder_minutes": 0}, 10, None),  # turned off
        ({}, 1, None),  # a reminder at the announcement itself is skipped
    ],
)
async def test_reminder_leads(
    tmp_path: Path, overrides: dict[str, int], minutes: int, reminder_minute: int | None
) -> None:
    clock = FakeClock()
    async with running_bot(settings_for_tests(tmp_path, **overrides), clock) as bot:
        outbox = RecordingOutbox()
        bot.app.services.outboxes["console"] = outbox
        scheduler = next(s for s in bot.app.background if isinstance(s, ActivityScheduler))
        activity_id = await post(bot, minutes=minutes)
        start = clock.now
        for minute in range(minutes):
            clock.now = start.replace(minute=minute)
            sent = await scheduler.tick()
            expected = [Sent(activity_id, "reminder")] if minute == reminder_minute else []
            assert sent == expected, minute
        assert [(key or "").rsplit(":", 1)[0] for key in outbox.keys] == (
            [] if reminder_minute is None else [f"activity:{activity_id}:reminder"]
        )
