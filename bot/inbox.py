"""The inbox: nothing a platform was told we received is lost to a crash or a restart.

An adapter saves each durable command (platform, the platform's request id, the
Invocation, the Destination) in one group-committed insert *before* it acknowledges it,
marks it done (also grouped) once the command finished, and on start replays what was saved
but never finished. A request id already saved is not run again: a platform's retry of a
request, and a replay of one that finished, are skipped.

Which commands are durable is part of their declaration (`Command(durable=True)`): the
commands whose effect would be lost (an answer, a posted or closed activity, a queued
job). Reads (/search, /help, /activity list) are not saved: after a restart the student
simply asks again, and saving them would only slow every acknowledgement.

Replicas on one database. Each entry names the process that runs it (the one that saved it,
or took it over) and a lease that process renews while it lives. A process replays only
entries of no process or of a process that is gone — its lease ran out, or it ran on this
machine and no longer does — and claims them with a conditional UPDATE, so an entry runs in
one process; while it runs, it looks again now and then, so the commands of a replica that
died are taken over by one that lives. A clean stop hands its unfinished entries back.

A replayed command runs as it would have: the same options, the same actor, its replies to
the stored destination through the platform's outbox (a dead response_url falls back to the
Web API there). A command whose effect was committed just before a crash, but whose done
mark was not (its replies were still being sent), runs again: /activity submit saves the
same answer ("unchanged"); /activity post would post a second activity.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.delivery import Destination
from bot.errors import UsageError
from bot.identity import Actor, Role
from bot.owners import died_here, owner_name
from bot.router import Invocation, Router
from bot.services import Clock
from bot.store import Store
from bot.store import inbox as rows

log = logging.getLogger(__name__)

# How long an acknowledgement waits for its command to be saved. Slack wants its ack within
# 3 s; a database busy for longer gets the command acknowledged unsaved rather than refused.
ACCEPT_PATIENCE_S = 2.0
# Finished commands are kept this long, so that a platform's late retry is still skipped.
KEEP_DONE = timedelta(days=1)
# A process's claim on the commands it runs, renewed every KEEP_EVERY_S while it lives: a
# replica that died on another machine loses its commands to the others after this long.
LEASE = timedelta(seconds=60)
KEEP_EVERY_S = 15.0

# The inboxes alive in this process (several stores, as in tests, share one pid).
_ALIVE_HERE: set[str] = set()

Run = Callable[["Entry"], Awaitable[None]]
Only = Callable[["Entry"], bool] | None


def is_gone(owner: str | None, lease_expires_at: datetime | None, now: datetime) -> bool:
    """Whether the process that holds an entry can no longer run it."""
    if owner is None or lease_expires_at is None or lease_expires_at < now:
        return True
    return died_here(owner, _ALIVE_HERE)


@dataclass(frozen=True)
class Entry:
    """A saved command that never finished."""

    id: int
    request_id: str
    invocation: Invocation
    destination: Destination


class Receipt:
    """A saved command (or one being saved): `Inbox.finish` marks it done."""

    def __init__(self, saved: asyncio.Future[int | None] | int | None) -> None:
        # The entry's id, the insert still under way, or None (not saved: nothing to mark).
        self.saved = saved


def durable(router: Router, invocation: Invocation) -> bool:
    """Whether the command an invocation names is declared durable (a mistake is not)."""
    try:
        return router.resolve(router.with_verb(invocation).path).durable
    except UsageError:
        return False


def request_hash(body: bytes | str) -> str:
    """A request id for a platform request that carries none: its signed body's hash (a
    platform's retry sends the same body)."""
    data = body.encode() if isinstance(body, str) else body
    return "sha256:" + hashlib.sha256(data).hexdigest()[:40]


class Inbox:
    """The inbox of one store (group writers shared by every adapter of the process)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        lease: timedelta = LEASE,
        keep_every: float = KEEP_EVERY_S,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.lease = lease
        self.keep_every = keep_every
        self.owner = owner or owner_name()
        _ALIVE_HERE.add(self.owner)
        # What each platform's adapter runs saved commands with (registered by replay).
        self._replayers: dict[str, tuple[Run, Only]] = {}
        self._keeper: asyncio.Task[None] | None = None
        self._runs: set[asyncio.Task[None]] = set()
        self._closed = False

    async def accept(
        self,
        platform: str,
        request_id: str,
        invocation: Invocation,
        destination: Destination,
        *,
        patience: float = ACCEPT_PATIENCE_S,
    ) -> Receipt | None:
        """Save a command before it is acknowledged. None: this request id was saved
        before (a retry): acknowledge it, do not run it again."""
        saving = rows.accepts(self.store).enqueue(
            rows.Incoming(
                platform=platform,
                request_id=request_id[:128],
                command=" ".join(invocation.path),
                invocation=invocation_to_json(invocation),
                destination=destination.to_json(),
                received_at=self.clock(),
                owner=self.owner,
                lease_expires_at=self.clock() + self.lease,
            )
        )
        self._keep_claims()
        try:
            entry_id = await asyncio.wait_for(asyncio.shield(saving), patience)
        except TimeoutError:
            log.warning("%s %s: acknowledged before it was saved", platform, request_id)
            saving.add_done_callback(_logged("save a command acknowledged before it was saved"))
            return Receipt(saving)
        except Exception:
            # Not saved: it still runs now, it just would not survive a crash.
            log.exception("%s %s: could not save the command", platform, request_id)
            return Receipt(None)
        return None if entry_id is None else Receipt(entry_id)

    def finish(self, receipt: Receipt) -> None:
        """Mark a command done (grouped, in the background; closing the store waits)."""
        saved = receipt.saved
        if isinstance(saved, int):
            self._mark(saved)
        elif isinstance(saved, asyncio.Future):
            saved.add_done_callback(self._mark_when_saved)

    def _mark_when_saved(self, saving: asyncio.Future[int | None]) -> None:
        if saving.cancelled() or saving.exception() is not None:
            return
        entry_id = saving.result()
        if entry_id is not None:
            self._mark(entry_id)

    def _mark(self, entry_id: int) -> None:
        marked = rows.finishes(self.store).enqueue(rows.Done(entry_id, self.clock()))
        marked.add_done_callback(_logged("mark a command done"))

    async def pending(self, platform: str) -> list[Entry]:
        """Every unfinished command of a platform, whoever holds it (and forget old finished
        ones)."""
        before = self.clock() - KEEP_DONE
        await self.store.write(lambda session: rows.prune(session, before))
        async with self.store.session() as session:
            saved = await rows.pending(session, platform)
        return self._readable(saved)

    def _readable(self, saved: list[Any]) -> list[Entry]:
        entries = []
        for row in saved:
            try:
                invocation = invocation_from_json(row.invocation)
                destination = Destination.from_json(row.destination)
            except (KeyError, TypeError, ValueError):
                log.exception("inbox entry %s cannot be read; it is skipped", row.id)
                self._mark(row.id)
                continue
            entries.append(Entry(row.id, row.request_id, invocation, destination))
        return entries

    async def _take(self, platform: str, only: Only) -> list[Entry]:
        """Claim the unfinished commands of a platform that no live process holds."""
        now = self.clock()
        async with self.store.session() as session:
            found = await rows.unfinished(session, platform, besides=self.owner)
        gone: dict[str | None, list[int]] = {}
        readable = {e.id: e for e in self._readable(found)}
        for row in found:
            entry = readable.get(row.id)
            if entry is None or (only is not None and not only(entry)):
                continue
            if is_gone(row.owner, row.lease_expires_at, now):
                gone.setdefault(row.owner, []).append(row.id)
        if not gone:
            return []
        until = now + self.lease
        taken = await self.store.write(
            lambda session: rows.claim(session, gone, owner=self.owner, until=until)
        )
        return [readable[row.id] for row in taken]

    async def replay(
        self,
        platform: str,
        run: Run,
        *,
        only: Only = None,
    ) -> int:
        """Run every unfinished command of a platform (those `only` keeps) that no live
        process holds, once, each marked done when `run` returns; returns how many ran.
        From then on, commands of processes that die are taken over and run the same way.
        One person's commands run in the order they came (a later answer stays the
        latest), different people's side by side."""
        self._replayers[platform] = (run, only)
        self._keep_claims()
        before = self.clock() - KEEP_DONE
        await self.store.write(lambda session: rows.prune(session, before))
        entries = await self._take(platform, only)
        if entries:
            log.info("replaying %d %s commands saved before a restart", len(entries), platform)
        await self._run(platform, entries, run)
        return len(entries)

    async def _run(self, platform: str, entries: list[Entry], run: Run) -> None:
        by_actor: dict[tuple[str, str], list[Entry]] = {}
        for entry in entries:
            actor = entry.invocation.actor
            by_actor.setdefault((actor.guild_id, actor.user_id), []).append(entry)

        async def in_turn(own: list[Entry]) -> None:
            for entry in own:
                try:
                    await run(entry)
                except Exception:
                    log.exception("replaying %s %s failed", platform, entry.request_id)
                self.finish(Receipt(entry.id))

        await asyncio.gather(*(in_turn(own) for own in by_actor.values()))

    # -- claims while the process lives ----------------------------------------------------

    def _keep_claims(self) -> None:
        if self._keeper is None and not self._closed:
            self._keeper = asyncio.get_running_loop().create_task(self._keep(), name="inbox-claims")

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self.keep_every)
            try:
                await self.keep()
            except Exception:
                log.exception("could not renew the inbox's claims; trying again")

    async def keep(self) -> int:
        """Renew this process's claims, and take over what processes that died held (run in
        the background); returns how many were taken over."""
        until = self.clock() + self.lease
        await self.store.write(lambda session: rows.renew(session, owner=self.owner, until=until))
        taken = 0
        for platform, (run, only) in list(self._replayers.items()):
            entries = await self._take(platform, only)
            if entries:
                log.info("taking over %d %s commands of a bot that stopped", len(entries), platform)
                task = asyncio.create_task(self._run(platform, entries, run))
                self._runs.add(task)
                task.add_done_callback(self._runs.discard)
                taken += len(entries)
        return taken

    async def close(self) -> None:
        """Stop claiming; hand what never finished here to the next process."""
        if self._closed:
            return
        self._closed = True
        _ALIVE_HERE.discard(self.owner)
        tasks = [t for t in (self._keeper, *self._runs) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Saves and done marks still in their group writers land first: a command finished
        # here must not be handed over.
        await rows.accepts(self.store).idle()
        await rows.finishes(self.store).idle()
        with contextlib.suppress(Exception):
            await self.store.write(lambda session: rows.release(session, owner=self.owner))


def inbox_of(store: Store, clock: Clock) -> Inbox:
    """The one Inbox of a store."""
    return store.group("inbox", lambda db: _Owned(Inbox(db, clock))).inbox


@dataclass
class _Owned:
    """Keeps the Inbox among the store's groups (it has nothing of its own to finish)."""

    inbox: Inbox

    async def idle(self) -> None:
        # The store closes: the process stops.
        await self.inbox.close()


def invocation_to_json(invocation: Invocation) -> dict[str, Any]:
    actor = invocation.actor
    return {
        "path": list(invocation.path),
        "options": {k: _plain(v) for k, v in invocation.options.items()},
        "words": list(invocation.words),
        "handle": dict(invocation.handle),
        "actor": {
            "platform": actor.platform,
            "user_id": actor.user_id,
            "display_name": actor.display_name,
            "role": actor.role.value,
            "guild_id": actor.guild_id,
            "channel_id": actor.channel_id,
            "parent_channel_id": actor.parent_channel_id,
        },
    }


def invocation_from_json(data: Mapping[str, Any]) -> Invocation:
    actor = data["actor"]
    return Invocation(
        path=tuple(str(p) for p in data["path"]),
        options=dict(data.get("options") or {}),
        words=tuple(str(w) for w in data.get("words") or ()),
        handle={str(k): str(v) for k, v in (data.get("handle") or {}).items()},
        actor=Actor(
            platform=str(actor["platform"]),
            user_id=str(actor["user_id"]),
            display_name=str(actor["display_name"]),
            role=Role(str(actor["role"])),
            guild_id=str(actor["guild_id"]),
            channel_id=str(actor["channel_id"]),
            parent_channel_id=str(actor.get("parent_channel_id") or ""),
        ),
    )


def _plain(value: object) -> object:
    """An option value as JSON keeps it (they are text, numbers or booleans already)."""
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def _logged(what: str) -> Callable[[asyncio.Future[Any]], None]:
    """A done callback that logs a background write's failure (and so retrieves it)."""

    def log_failure(future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.error("could not %s", what, exc_info=future.exception())

    return log_failure
