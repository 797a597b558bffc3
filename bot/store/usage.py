"""Usage events: which command someone ran, and on which model (with its size).

/search, /dataset, /generate and /imagine record one each; the activity export lists the
models each student ran during an activity window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import Store
from bot.store.group import Grouped
from bot.store.models import UsageEvent

log = logging.getLogger(__name__)

# How long a command waits for its usage event to be written before it answers anyway.
# Normally the write takes milliseconds and is done before the reply; while another
# process holds SQLite's write lock, the reply must not wait for bookkeeping (the event is
# written once the lock is free, within the store's write deadline).
USAGE_PATIENCE_S = 1.0


async def record_usage(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    command: str,
    now: datetime,
    model_id: str | None = None,
    model_params: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        UsageEvent(
            guild_id=guild_id,
            user_id=user_id,
            command=command,
            model_id=model_id,
            model_params=model_params,
            detail=detail or {},
            created_at=now,
        )
    )


async def record_usage_soon(
    store: Store,
    *,
    guild_id: int,
    user_id: int,
    command: str,
    now: datetime,
    model_id: str | None = None,
    model_params: int | None = None,
    detail: dict[str, Any] | None = None,
    patience: float = USAGE_PATIENCE_S,
) -> None:
    """Record a usage event with the others arriving at the same time (one transaction),
    waiting for it at most `patience` seconds; a write that fails is logged, not raised:
    the command the student ran has already done its work."""
    row = {
        "guild_id": guild_id,
        "user_id": user_id,
        "command": command,
        "model_id": model_id,
        "model_params": model_params,
        "detail": detail or {},
        "created_at": now,
    }
    written = store.group("usage events", _usage_writer).enqueue(row)
    written.add_done_callback(_log_failure)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(written), patience)


def _usage_writer(store: Store) -> Grouped[dict[str, Any], None]:
    return Grouped(store, _write_usage)


async def _write_usage(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[None]:
    await session.execute(insert(UsageEvent), list(rows))
    return [None] * len(rows)


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and (error := future.exception()) is not None:
        log.warning("a usage event was not recorded: %s", error)
