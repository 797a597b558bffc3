"""The class's prompt filter for /imagine: the default word list (bot/inference/safety.py)
plus the words this guild's instructors blocked, minus the ones they allowed.

Both lists live in the guild's settings (guilds.settings JSON), so a class's choices follow
it across restarts and never leak into another server. /imagine block word:<w> adds a word;
/imagine unblock word:<w> removes an added word, or allows one the default list blocks
(it lists e.g. "ugly" and "kill", which some lessons need). Each change is audited.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from bot.inference.safety import FilterVerdict, PromptFilter, normalize
from bot.replies import Error, Reply, Text
from bot.store import Store
from bot.store.audit import AuditTrail
from bot.store.models import Guild

BLOCKED_KEY = "imagine_blocked_words"
ALLOWED_KEY = "imagine_allowed_words"
FILTER_KIND = "imagine_filter"  # audit entries for the instructors' changes


@lru_cache(maxsize=64)
def _filter(blocked: tuple[str, ...], allowed: tuple[str, ...]) -> PromptFilter:
    # Building one takes ~20 ms; a class's lists change rarely, so keep recent ones.
    return PromptFilter(extra_words=blocked, allow_words=allowed)


async def _word_lists(store: Store, guild_pk: int) -> tuple[list[str], list[str]]:
    async with store.session() as session:
        guild = await session.get(Guild, guild_pk)
    settings = (guild.settings if guild else None) or {}
    return list(settings.get(BLOCKED_KEY, [])), list(settings.get(ALLOWED_KEY, []))


async def class_filter(store: Store, guild_pk: int) -> PromptFilter:
    """The default word list, plus this guild's added words, minus its allowed ones."""
    blocked, allowed = await _word_lists(store, guild_pk)
    return _filter(tuple(blocked), tuple(allowed))


async def check_texts(store: Store, guild_pk: int, *texts: str) -> FilterVerdict:
    """The one check for every text that reaches an image model (prompt, negative prompt):
    refused when any of them has a blocked word; `matched` lists the words of all."""
    check = (await class_filter(store, guild_pk)).check
    refused = [v for v in (check(t) for t in texts if t) if not v.allowed]
    if not refused:
        return FilterVerdict(allowed=True, reason="", matched=())
    matched = tuple(dict.fromkeys(w for v in refused for w in v.matched))
    return FilterVerdict(allowed=False, reason=refused[0].reason, matched=matched)


def _word(raw: str) -> str:
    return " ".join(normalize(raw).lower().split())


async def change_words(
    store: Store, audit: AuditTrail, now: datetime, action: str, raw: str | None
) -> Reply:
    """/imagine block|unblock word:<w> in the audit trail's guild, by its user."""
    if not raw or not _word(raw):
        if action == "unblock" or raw is not None:
            return Error(what="Which word?", todo=f"Type /imagine {action} word:<word>.")
        blocked, allowed = await _word_lists(store, audit.guild_id)
        return Text(
            text=f"Added to the default list: {', '.join(blocked) or '(none)'}.\n"
            f"Allowed although the default list has them: {', '.join(allowed) or '(none)'}.",
            private=True,
        )
    word = _word(raw)
    async with store.session(write=True) as session:
        guild = await session.get(Guild, audit.guild_id)
        assert guild is not None  # the router created it before calling us
        settings = dict(guild.settings or {})
        added: set[str] = set(settings.get(BLOCKED_KEY, []))
        allowed_now: set[str] = set(settings.get(ALLOWED_KEY, []))
        if action == "block":
            if word in added:
                return Text(text=f"“{word}” is already blocked in this class.", private=True)
            added.add(word)
            allowed_now.discard(word)
            outcome, said = "blocked", f"Blocked “{word}” in /imagine prompts for this class."
        elif word in added:
            added.discard(word)
            outcome, said = "unblocked", f"Unblocked “{word}”: it is off this class's list."
        elif not _filter((), tuple(sorted(allowed_now))).check(word).allowed:
            allowed_now.add(word)
            outcome, said = "allowed", f"Allowed “{word}” in this class (the default list has it)."
        else:
            return Error(
                what=f"“{word}” is not blocked.", todo="/imagine block alone shows the list."
            )
        # A new dict, so the JSON column is seen as changed.
        guild.settings = {
            **settings,
            BLOCKED_KEY: sorted(added),
            ALLOWED_KEY: sorted(allowed_now),
        }
        audit.add(session, word, outcome, now)
    return Text(text=said, private=True)
