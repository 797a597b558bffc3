from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bot.activities.scheduler import ActivityScheduler
from bot.delivery import Member
from bot.identity import Actor, Role
from bot.replies import Reply
from tests.support.botdriver import BotDriver
from tests.support.outbox import RecordingOutbox


@dataclass
class FixedRoster:
    members: list[Member] | None
    asked: list[tuple[str, str]] = field(default_factory=list)

    async def students(self, guild_id: str, channel_id: str) -> list[Member] | None:
        self.asked.append((guild_id, channel_id))
        return self.members


@pytest.fixture
def outbox(bot: BotDriver) -> RecordingOutbox:
    recorder = RecordingOutbox()
    bot.app.services.outboxes["console"] = recorder
    return recorder


@pytest.fixture
def scheduler(bot: BotDriver) -> ActivityScheduler:
    return next(s for s in bot.app.background if isinstance(s, ActivityScheduler))


async def run_as(
    bot: BotDriver,
    line: str,
    *,
    user: str = "student",
    role: str = "student",
    guild: str = "console",
    channel: str = "console",
) -> list[Reply]:
    """Run a line as someone in another guild or channel than the console's own."""
    actor = Actor("console", user, user, Role(role), guild, channel)
    return [reply async for reply in bot.app.router.run_line(line, actor)]


POST = '/activity post title:"Models hub" minutes:{minutes} Choose a task and compare models.'


async def post(bot: BotDriver, minutes: int = 10, extra: str = "") -> int:
    """Post an activity as the instructor and return its id."""
    text = await bot.text(POST.format(minutes=minutes) + extra, user="teacher", role="instructor")
    assert text.startswith("== Activity #"), text
    return int(text.split("#", 1)[1].split(":", 1)[0])
