"""Drive the core through the console adapter, one line per case:

reply = await bot.run("/help", role="instructor")
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.console import ConsoleAdapter
from bot.app import App, create_app
from bot.config import Settings
from bot.identity import Role
from bot.replies import Reply, as_plain_text


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class BotDriver:
    def __init__(self, app: App, adapter: ConsoleAdapter, stream: io.StringIO) -> None:
        self.app = app
        self.adapter = adapter
        self.stream = stream

    async def run_all(self, line: str, user: str = "student", role: str = "student") -> list[Reply]:
        return await self.adapter.handle(line, user=user, role=Role(role))

    async def run(self, line: str, user: str = "student", role: str = "student") -> Reply:
        """The last reply to a line (after any progress)."""
        replies = await self.run_all(line, user=user, role=role)
        assert replies, f"no reply to {line!r}"
        return replies[-1]

    async def text(self, line: str, user: str = "student", role: str = "student") -> str:
        return "\n".join(as_plain_text(r) for r in await self.run_all(line, user, role))


def settings_for_tests(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'classbot.db'}",
        "out_dir": tmp_path / "out",
    }
    values.update(overrides)
    # _env_file=None: a developer's own .env must not change what the tests see.
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def running_bot(
    settings: Settings, clock: FakeClock | None = None
) -> AsyncIterator[BotDriver]:
    app = await create_app(settings, clock=clock or FakeClock())
    stream = io.StringIO()
    adapter = ConsoleAdapter(app, out_dir=settings.out_dir, stream=stream)
    try:
        yield BotDriver(app, adapter, stream)
    finally:
        await app.close()
