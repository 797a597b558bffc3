"""The /imagine audit log: every prompt and what became of it (refused, queued, then the
job's outcome, which bot/jobs/kinds/imagine.py writes), and the word-list changes.
Instructors read it with /imagine audit."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bot.commands.imagine.words import FILTER_KIND
from bot.jobs.kinds.imagine import KIND
from bot.replies import Reply, Table, Text, clip
from bot.router import Context
from bot.store.audit import AuditTrail, recent_audit

AUDIT_PROMPT_CHARS = 60


async def record(ctx: Context, prompt: str, outcome: str, detail: dict[str, Any]) -> None:
    """Note a prompt by this actor and what became of it."""
    async with ctx.services.store.session(write=True) as session:
        AuditTrail(ctx.guild_pk, ctx.user_pk, KIND).add(
            session, prompt, outcome, ctx.services.clock(), detail
        )


async def audit(ctx: Context, limit: int) -> Reply:
    """This class's latest /imagine prompts, their outcomes and the word-list changes."""
    async with ctx.services.store.session() as session:
        events = await recent_audit(
            session, guild_id=ctx.guild_pk, kinds=(KIND, FILTER_KIND), limit=limit
        )
    if not events:
        return Text(text="No /imagine prompts in this class yet.", private=True)
    zone = ZoneInfo(ctx.services.settings.timezone)
    rows = []
    for event, who in events:
        when = event.created_at.astimezone(zone).strftime("%b %d %H:%M")
        text = clip(event.text, AUDIT_PROMPT_CHARS)
        if event.kind == FILTER_KIND:
            text = f"(word list) {text}"
        rows.append((when, who, event.outcome, text, _detail(event.detail or {})))
    return Table(
        title="/imagine prompts in this class",
        columns=("when", "who", "outcome", "prompt", "detail"),
        rows=tuple(rows),
        footer=f"Newest first, {len(rows)} shown. Times in {zone.key}.",
        private=True,
    )


def _detail(detail: dict[str, Any]) -> str:
    parts = []
    if detail.get("job"):
        parts.append(f"job {detail['job']}")
    if detail.get("reroll_of"):
        parts.append(f"re-roll of {detail['reroll_of']}")
    if detail.get("blocked"):
        parts.append("words: " + ", ".join(detail["blocked"]))
    if detail.get("why"):
        parts.append(clip(str(detail["why"]), 60))
    if detail.get("error"):
        parts.append(clip(str(detail["error"]), 60))
    return "; ".join(parts)
