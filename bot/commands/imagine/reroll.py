"""/imagine reroll job:N: the same image settings with a new seed (what the Re-roll button
under every image runs; anyone who sees the button may press it, and the new image is
theirs)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

from bot.commands.imagine.draw import draw
from bot.inference.image_limits import MAX_SEED
from bot.jobs.kinds.imagine import IMAGINE
from bot.replies import Error, Reply
from bot.router import Context


async def reroll(ctx: Context, job: int | None) -> AsyncIterator[Reply]:
    """The same image settings as job N, with a new seed."""
    if job is None:
        yield Error(
            what="Which image?", todo="Type /imagine reroll job:N (N is in the image's caption)."
        )
        return
    found = await ctx.services.jobs.find(IMAGINE, job, guild_pk=ctx.guild_pk)
    if found is None:
        yield Error(what=f"There is no image job {job} here.", todo="Check the number.")
        return
    old, p = found
    seeds = {p.seed, (old.result or {}).get("seed")}
    seed = secrets.randbelow(MAX_SEED + 1)
    while seed in seeds:  # a re-roll always shows a new image
        seed = secrets.randbelow(MAX_SEED + 1)
    async for reply in draw(
        ctx,
        p.prompt,
        p.negative_prompt,
        p.model.id,
        p.steps,
        p.guidance,
        seed,
        str(p.size) if p.size else None,
        reroll_of=job,
        model_given=p.model_given,
    ):
        yield reply
