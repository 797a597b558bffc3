"""Usage events: which command someone ran, and on which model (with its size).

/search, /dataset, /generate and /imagine record one each; the activity export lists the
models each student ran during an activity window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import UsageEvent


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
