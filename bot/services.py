"""The dependencies a handler may use, passed in rather than held in globals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.delivery import Outbox, Roster
from bot.store import Store

if TYPE_CHECKING:
    from bot.hub.client import HubClient
    from bot.inference.guard import ModelGuard
    from bot.jobs.protocol import JobQueue

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
    # Background services a command may wake early, by name (e.g. "activities": the
    # scheduler re-reads its next deadline after a post or an extension).
    wakeups: dict[str, Callable[[], None]] = field(default_factory=dict)
    # The inference job queue (bot/jobs) and the model guard that vets model ids before
    # anything is downloaded (bot/inference/guard.py); set by create_app.
    jobs: JobQueue | None = None
    guard: ModelGuard | None = None
    # The Hugging Face Hub and dataset viewer, cached and coalesced (bot/hub/client.py);
    # set by create_app.
    hub: HubClient | None = None
