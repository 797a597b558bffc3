from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bot.activities.scheduler import ActivityScheduler
from bot.delivery import Destination, Member
from bot.identity import Actor, Role
from bot.replies import Reply, as_plain_text
from tests.support.botdriver import BotDriver


@dataclass
class RecordingOutbox:
    """An Outbox that keeps what it was asked to deliver."""

    sent: list[tuple[Destination, Reply, str | None]] = field(default_factory=list)
    fail: bool = False

    async def send(self, destination: Destination, reply: Reply, *, key: str | None = None) -> None:
        if self.fail:
            raise ConnectionError("the platform is down")
        self.sent.append((destination, reply, key))

    @property
    def keys(self) -> list[str | None]:
        return [key for _, _, key in self.sent]

    def texts(self) -> list[str]:
        return [as_plain_text(reply) for _, reply, _ in self.sent]


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
