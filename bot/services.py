"""The dependencies a handler may use, passed in rather than held in globals.

Built complete, in dependency order, by bot.app.build_services: every field is there from
the start, so no command checks for a missing one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.attachments import AttachmentSource
from bot.config import Settings
from bot.delivery import Outbox, Roster
from bot.store import Store

if TYPE_CHECKING:
    from bot.hub.client import HubClient
    from bot.inference.guard import ModelGuard
    from bot.jobs.service import JobService

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    store: Store
    # The Hugging Face Hub and dataset viewer, cached and coalesced (bot/hub/client.py).
    hub: HubClient
    # Vets model ids before anything is downloaded (bot/inference/guard.py).
    guard: ModelGuard
    # The inference job queue, as commands use it (bot/jobs/service.py).
    jobs: JobService
    # Wakes the activity scheduler early: it re-reads its next deadline after a post or an
    # extension (bot/activities/scheduler.py).
    wake_activities: Callable[[], None]
    clock: Clock = field(default=utc_now)
    # Registered by the adapters that run, by platform name ("console", "discord", "slack").
    outboxes: dict[str, Outbox] = field(default_factory=dict)
    rosters: dict[str, Roster] = field(default_factory=dict)
    # How each platform finds a file from what was typed after file: (bot/attachments.py).
    attachments: dict[str, AttachmentSource] = field(default_factory=dict)
