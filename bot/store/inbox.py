"""The inbox table's repository: group-committed inserts and done marks, and what is left.

Inserts and done marks go through group writers (bot/store/group.py): a burst of commands
costs a few transactions, which keeps saving a command before its acknowledgement cheap.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import Store
from bot.store.group import Grouped
from bot.store.models import InboxEntry

NOT_ACCEPTED = "The class database is busy, so your command was not saved."


@dataclass(frozen=True)
class Incoming:
    """One command to save: who sent it (platform, request id), what, and where to answer."""

    platform: str
    request_id: str
    command: str
    invocation: dict[str, Any]
    destination: dict[str, Any]
    received_at: datetime
    # The process that runs it, and until when (renewed while that process lives).
    owner: str | None = None
    lease_expires_at: datetime | None = None


@dataclass(frozen=True)
class Done:
    entry_id: int
    at: datetime


async def accept_batch(
    session: AsyncSession, items: Sequence[Incoming]
) -> list[int | Exception | None]:
    """Insert the commands not seen before; each outcome is the new row's id, or None for a
    request id this platform already sent (a retry, or a replay that is already saved)."""
    asked = {item.request_id for item in items}
    found = await session.execute(
        select(InboxEntry.platform, InboxEntry.request_id).where(InboxEntry.request_id.in_(asked))
    )
    known = {(platform, request_id) for platform, request_id in found}
    rows: list[InboxEntry | None] = []
    for item in items:
        key = (item.platform, item.request_id)
        if key in known:
            rows.append(None)
            continue
        known.add(key)
        row = InboxEntry(
            platform=item.platform,
            request_id=item.request_id,
            command=item.command[:200],
            invocation=item.invocation,
            destination=item.destination,
            received_at=item.received_at,
            owner=item.owner,
            lease_expires_at=item.lease_expires_at,
        )
        session.add(row)
        rows.append(row)
    await session.flush()
    return [None if row is None else row.id for row in rows]


async def finish_batch(session: AsyncSession, items: Sequence[Done]) -> list[Exception | None]:
    """Mark commands done: a replay after a restart skips them."""
    for at in {item.at for item in items}:
        ids = [item.entry_id for item in items if item.at == at]
        await session.execute(update(InboxEntry).where(InboxEntry.id.in_(ids)).values(done_at=at))
    return [None] * len(items)


async def pending(session: AsyncSession, platform: str) -> list[InboxEntry]:
    """The commands of a platform that were saved but never finished, oldest first."""
    rows = await session.scalars(
        select(InboxEntry)
        .where(InboxEntry.platform == platform, InboxEntry.done_at.is_(None))
        .order_by(InboxEntry.id)
    )
    return list(rows)


async def unfinished(session: AsyncSession, platform: str, *, besides: str) -> list[InboxEntry]:
    """The unfinished commands of a platform not held by the process `besides`, oldest
    first: those of no process, or of one that may have died (the caller decides)."""
    rows = await session.scalars(
        select(InboxEntry)
        .where(
            InboxEntry.platform == platform,
            InboxEntry.done_at.is_(None),
            or_(InboxEntry.owner.is_(None), InboxEntry.owner != besides),
        )
        .order_by(InboxEntry.id)
    )
    return list(rows)


async def claim(
    session: AsyncSession,
    gone: Mapping[str | None, Collection[int]],
    *,
    owner: str,
    until: datetime,
) -> list[InboxEntry]:
    """Take unfinished entries over from their owners (`gone`: owner → entry ids; None: no
    owner). Each UPDATE checks the owner again, so of two replicas taking the same entry
    one gets it: on PostgreSQL the second waits for the first's row lock, then finds the
    owner changed."""
    taken: list[InboxEntry] = []
    for previous, ids in gone.items():
        held = InboxEntry.owner.is_(None) if previous is None else InboxEntry.owner == previous
        rows = await session.scalars(
            update(InboxEntry)
            .where(InboxEntry.id.in_(list(ids)), InboxEntry.done_at.is_(None), held)
            .values(owner=owner, lease_expires_at=until)
            .returning(InboxEntry)
        )
        taken.extend(rows)
    return sorted(taken, key=lambda row: row.id)


async def renew(session: AsyncSession, *, owner: str, until: datetime) -> int:
    """Extend the claim of a live process on its unfinished commands."""
    result = await session.execute(
        update(InboxEntry)
        .where(InboxEntry.owner == owner, InboxEntry.done_at.is_(None))
        .values(lease_expires_at=until)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def release(session: AsyncSession, *, owner: str) -> int:
    """A process that stops hands its unfinished commands to whoever runs next."""
    result = await session.execute(
        update(InboxEntry)
        .where(InboxEntry.owner == owner, InboxEntry.done_at.is_(None))
        .values(owner=None, lease_expires_at=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def prune(session: AsyncSession, before: datetime) -> int:
    """Forget finished commands done before `before` (a platform retries within minutes)."""
    result = await session.execute(
        delete(InboxEntry).where(InboxEntry.done_at.is_not(None), InboxEntry.done_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def accepts(db: Store) -> Grouped[Incoming, int | None]:
    """The group writer of incoming commands for this store."""
    return db.group("inbox accepts", _accept_writer)


def finishes(db: Store) -> Grouped[Done, None]:
    """The group writer of done marks for this store."""
    return db.group("inbox finishes", _finish_writer)


def _accept_writer(db: Store) -> Grouped[Incoming, int | None]:
    return Grouped(db, accept_batch, busy=NOT_ACCEPTED)


def _finish_writer(db: Store) -> Grouped[Done, None]:
    return Grouped(db, finish_batch)
