"""Audit events: prompts and what became of them (e.g. every /imagine prompt: refused,
queued, succeeded, flagged, cancelled, failed), for the instructors of one guild to review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import AuditEvent, User


@dataclass(frozen=True)
class AuditTrail:
    """Whose entries these are: one guild, one user (None: the bot), one kind of entry.

    Every audited text (a prompt, a word-list change, a job's outcome) goes through `add`,
    so each entry is built one way."""

    guild_id: int
    user_id: int | None
    kind: str

    def add(
        self,
        session: AsyncSession,
        text: str,
        outcome: str,
        now: datetime,
        detail: dict[str, Any] | None = None,
    ) -> None:
        session.add(
            AuditEvent(
                guild_id=self.guild_id,
                user_id=self.user_id,
                kind=self.kind,
                text=text,
                outcome=outcome,
                detail=detail or {},
                created_at=now,
            )
        )


async def recent_audit(
    session: AsyncSession, *, guild_id: int, kinds: tuple[str, ...], limit: int
) -> list[tuple[AuditEvent, str]]:
    """The guild's latest events of these kinds, newest first, with who caused each."""
    rows = await session.execute(
        select(AuditEvent, User.display_name)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.guild_id == guild_id, AuditEvent.kind.in_(kinds))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return [(event, name or "?") for event, name in rows]
