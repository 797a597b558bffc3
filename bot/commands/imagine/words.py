"""/imagine block and /imagine unblock: an instructor changes this class's word list.

Both lists live in the guild's settings (guilds.settings JSON), so a class's choices follow it
across restarts and never leak into another server. `block word:<w>` adds a word or phrase;
`unblock word:<w>` removes an added one, or allows one the default list blocks (it lists e.g.
"ugly" and "kill", which some lessons need); `block` alone shows the lists. Each change is
audited. The filter built from the lists is bot/inference/class_filter.py.
"""

from __future__ import annotations

from typing import Any

from bot.inference.class_filter import WordLists, default_blocks, list_word
from bot.replies import Error, Reply, Text
from bot.router import Context, Option
from bot.store import Store
from bot.store.audit import AuditTrail
from bot.store.models import Guild

BLOCKED_KEY = "imagine_blocked_words"
ALLOWED_KEY = "imagine_allowed_words"
FILTER_KIND = "imagine_filter"  # audit entries for the instructors' changes
MAX_WORD_CHARS = 50

# Named, never the free text: a prompt such as "block tower at dawn" must not change the
# list by accident; the router says the text is unexpected instead.
WORD = Option("word", str, "block/unblock: a word or phrase", max_length=MAX_WORD_CHARS)


def _lists_of(settings: dict[str, Any] | None) -> WordLists:
    settings = settings or {}
    return WordLists(
        blocked=tuple(settings.get(BLOCKED_KEY, ())), allowed=tuple(settings.get(ALLOWED_KEY, ()))
    )


async def word_lists(store: Store, guild_pk: int) -> WordLists:
    """This guild's added and allowed words."""
    async with store.session() as session:
        guild = await session.get(Guild, guild_pk)
    return _lists_of(guild.settings if guild else None)


async def block(ctx: Context, word: str | None) -> Reply:
    """Add a word or phrase to this class's /imagine filter; alone, show the class's lists."""
    if word is None:
        lists = await word_lists(ctx.services.store, ctx.guild_pk)
        return Text(
            text=f"Added to the default list: {', '.join(lists.blocked) or '(none)'}.\n"
            "Allowed although the default list has them: "
            f"{', '.join(lists.allowed) or '(none)'}.",
            private=True,
        )
    return await _change(ctx, "block", word)


async def unblock(ctx: Context, word: str | None) -> Reply:
    """Take a word off this class's /imagine filter, or allow one the default list blocks."""
    if word is None:
        return _which_word("unblock")
    return await _change(ctx, "unblock", word)


def _which_word(action: str) -> Error:
    return Error(what="Which word?", todo=f"Type /imagine {action} word:<word>.")


async def _change(ctx: Context, action: str, raw: str) -> Reply:
    word = list_word(raw)
    if not word:
        return _which_word(action)
    async with ctx.services.store.session(write=True) as session:
        guild = await session.get(Guild, ctx.guild_pk)
        assert guild is not None  # the router created it before calling us
        settings = dict(guild.settings or {})
        lists = _lists_of(settings)
        added, allowed = set(lists.blocked), set(lists.allowed)
        if action == "block":
            if word in added:
                return Text(text=f"“{word}” is already blocked in this class.", private=True)
            added.add(word)
            allowed.discard(word)
            outcome, said = "blocked", f"Blocked “{word}” in /imagine prompts for this class."
        elif word in added:
            added.discard(word)
            outcome, said = "unblocked", f"Unblocked “{word}”: it is off this class's list."
        elif default_blocks(word, tuple(sorted(allowed))):
            allowed.add(word)
            outcome, said = "allowed", f"Allowed “{word}” in this class (the default list has it)."
        else:
            return Error(
                what=f"“{word}” is not blocked.", todo="/imagine block alone shows the list."
            )
        # A new dict, so the JSON column is seen as changed.
        guild.settings = {**settings, BLOCKED_KEY: sorted(added), ALLOWED_KEY: sorted(allowed)}
        AuditTrail(ctx.guild_pk, ctx.user_pk, FILTER_KIND).add(
            session, word, outcome, ctx.services.clock()
        )
    return Text(text=said, private=True)
