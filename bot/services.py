"""The dependencies a handler may use, passed in rather than held in globals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.config import Settings
from bot.delivery import Outbox, Roster
from bot.store import Store

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    store: Store
    clock: Clock = field(default=utc_now)
    # Registered by the adapters that run, by platform name ("console", "discord", "slack").
    outboxes: dict[str, Outbox] = field(default_factory=dict)
    rosters: dict[str, Roster] = field(default_factory=dict)
