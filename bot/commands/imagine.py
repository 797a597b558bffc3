"""/imagine: a text-to-image model (Stable Diffusion through diffusers) draws a prompt.

The prompt and the negative prompt pass the class's word filter (bot/inference/safety.py
plus the words an instructor added), the model passes the guard (text-to-image diffusers
pipelines only), and an "imagine" job is queued (bot/jobs/kinds/imagine.py declares it and
renders the result); the reply shows the queue position, then the relay turns it into step
i/N progress and finally the PNG. Every prompt and what became of it goes to the audit log
that instructors read with /imagine audit.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

from bot.declare import MAX_REPO_ID
from bot.identity import Role
from bot.inference.class_filter import FILTER_KIND, change_words, check_texts
from bot.inference.devices import accelerator
from bot.inference.guard import TEXT_TO_IMAGE, ModelRefused
from bot.inference.image_limits import (
    CLASS_SIZES,
    MAX_GUIDANCE,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    MAX_STEPS,
)
from bot.jobs.commands import clip, queued_reply, submit_job
from bot.jobs.kinds.imagine import IMAGINE, KIND, ImagineParams
from bot.replies import Error, Reply, Table, Text
from bot.router import Command, Context, Option
from bot.store.audit import AuditTrail, recent_audit

ACTIONS = ("reroll", "block", "unblock", "audit")
INSTRUCTOR_ACTIONS = ("block", "unblock", "audit")
MAX_WORD_CHARS = 50
AUDIT_PROMPT_CHARS = 60


def max_size(settings: Any) -> int:
    """CLASSBOT_IMAGE_MAX_SIZE, or 768 with a GPU and 512 on CPU."""
    auto = 512 if accelerator(settings.device) == "cpu" else 768
    return int(settings.image_max_size) or auto


def defaults_for(model_id: str) -> tuple[int, float]:
    """Steps and guidance when the student gives none. Turbo models (sd-turbo, sdxl-turbo)
    are distilled to make an image in 1-4 steps without guidance; the rest use SD's 25/7.5."""
    return (2, 0.0) if "turbo" in model_id.lower() else (25, 7.5)


async def run(
    ctx: Context,
    prompt: str,
    negative_prompt: str | None,
    model: str | None,
    steps: int | None,
    guidance: float | None,
    seed: int | None,
    size: str | None,
    job: int | None,
    word: str | None,
    limit: int | None,
) -> AsyncIterator[Reply]:
    """Draw a picture from a prompt with a text-to-image model (Stable Diffusion).

    The same prompt, seed, steps, guidance, size and model always give the same image: the
    caption shows them all. Re-roll keeps everything but the seed. Without steps and
    guidance the model's usual ones are used (turbo models: 2 steps, no guidance; others 25
    and 7.5); without size, the model's own size. Prompts go through the class's word
    filter, and a model's own safety checker hides images it flags. Cancel stops the model
    within a step.

    /imagine reroll job:N — the same image settings with a new seed.
    Instructors: /imagine block word:<w> and /imagine unblock word:<w> change this class's
    word list (unblock also allows a word the default list blocks); /imagine block alone
    shows the list; /imagine audit [limit:] shows recent prompts and what became of them.
    """
    action = prompt.strip().lower()
    if action not in ACTIONS:
        if job is not None or word is not None or limit is not None:
            yield Error(
                what="job:, word: and limit: go with /imagine reroll, block/unblock and audit.",
                todo='To draw, type /imagine prompt:"a red fox".',
            )
            return
        async for reply in _imagine(
            ctx, prompt, negative_prompt or "", model, steps, guidance, seed, size
        ):
            yield reply
        return
    if action in INSTRUCTOR_ACTIONS and ctx.actor.role is not Role.INSTRUCTOR:
        yield Error(
            what=f"/imagine {action} is for instructors.",
            todo='To draw that word, give a longer prompt, e.g. /imagine prompt:"a red fox".',
        )
        return
    if action == "reroll":
        async for reply in _reroll(ctx, job):
            yield reply
    elif action == "audit":
        yield await _audit_table(ctx, limit or 20)
    else:
        yield await change_words(ctx, action, word)


# -- drawing -------------------------------------------------------------------------------------


async def _imagine(
    ctx: Context,
    prompt: str,
    negative_prompt: str,
    model: str | None,
    steps: int | None,
    guidance: float | None,
    seed: int | None,
    size: str | None,
    reroll_of: int | None = None,
    model_given: bool | None = None,
) -> AsyncIterator[Reply]:
    services = ctx.services
    jobs, guard = services.jobs, services.guard
    detail: dict[str, Any] = {"negative_prompt": negative_prompt} if negative_prompt else {}
    if reroll_of is not None:
        detail["reroll_of"] = reroll_of
    # Every text that reaches the model passes the filter: the negative prompt too (it is
    # also echoed in the public "same image again" line).
    verdict = await check_texts(ctx, prompt, negative_prompt)
    if not verdict.allowed:
        await _audit(ctx, prompt, "refused", {**detail, "blocked": list(verdict.matched)})
        yield Error(what=verdict.reason, todo="Nothing was sent to the model.")
        return
    try:
        approved = await guard.check(model or services.settings.image_model, TEXT_TO_IMAGE)
    except ModelRefused as refused:
        await _audit(ctx, prompt, "refused", {**detail, "model": model, "why": refused.error.what})
        raise
    limit = max_size(services.settings)
    if size is not None and int(size) > limit:
        allowed = ", ".join(str(s) for s in CLASS_SIZES if s <= limit)
        yield Error(
            what=f"size:{size} is above this class's limit of {limit}.",
            todo=f"Choose {allowed}, or leave size out for the model's own size.",
        )
        return
    default_steps, default_guidance = defaults_for(approved.id)
    steps = default_steps if steps is None else steps
    guidance = default_guidance if guidance is None else guidance
    seed = secrets.randbelow(MAX_SEED + 1) if seed is None else seed
    params = ImagineParams(
        prompt=prompt,
        negative_prompt=negative_prompt,
        model=approved,
        # Captions name the model only when the student chose one.
        model_given=model is not None if model_given is None else model_given,
        steps=steps,
        guidance=guidance,
        seed=seed,
        size=int(size) if size else None,
        max_size=limit,
    )
    request = IMAGINE.request(
        params,
        guild_pk=ctx.guild_pk,
        user_pk=ctx.user_pk,
        destination=ctx.destination,
        priority=1 if ctx.actor.role is Role.INSTRUCTOR else 0,
    )
    ticket = await submit_job(jobs, request)
    try:
        yield queued_reply(ticket, total=steps)
    finally:
        # Only now may the job start: its progress replaces the reply just sent. The audit
        # entry is written after, so the job does not wait for it.
        jobs.release(ticket.job_id)
        await _audit(ctx, prompt, "queued", {**detail, "job": ticket.job_id, "seed": seed})


async def _reroll(ctx: Context, job_id: int | None) -> AsyncIterator[Reply]:
    if job_id is None:
        yield Error(
            what="Which image?", todo="Type /imagine reroll job:N (N is in the image's caption)."
        )
        return
    found = await ctx.services.jobs.find(IMAGINE, job_id, guild_pk=ctx.guild_pk)
    if found is None:
        yield Error(what=f"There is no image job {job_id} here.", todo="Check the number.")
        return
    old, p = found
    seeds = {p.seed, (old.result or {}).get("seed")}
    seed = secrets.randbelow(MAX_SEED + 1)
    while seed in seeds:  # a re-roll always shows a new image
        seed = secrets.randbelow(MAX_SEED + 1)
    async for reply in _imagine(
        ctx,
        p.prompt,
        p.negative_prompt,
        p.model.id,
        p.steps,
        p.guidance,
        seed,
        str(p.size) if p.size else None,
        reroll_of=job_id,
        model_given=p.model_given,
    ):
        yield reply


# -- the audit log -------------------------------------------------------------------------------


async def _audit(ctx: Context, prompt: str, outcome: str, detail: dict[str, Any]) -> None:
    async with ctx.services.store.session(write=True) as session:
        AuditTrail(ctx.guild_pk, ctx.user_pk, KIND).add(
            session, prompt, outcome, ctx.services.clock(), detail
        )


def _audit_detail(detail: dict[str, Any]) -> str:
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


async def _audit_table(ctx: Context, limit: int) -> Reply:
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
        rows.append((when, who, event.outcome, text, _audit_detail(event.detail or {})))
    return Table(
        title="/imagine prompts in this class",
        columns=("when", "who", "outcome", "prompt", "detail"),
        rows=tuple(rows),
        footer=f"Newest first, {len(rows)} shown. Times in {zone.key}.",
        private=True,
    )


COMMAND = Command(
    name="imagine",
    exploration=True,
    handler=run,
    options=(
        Option(
            "prompt",
            str,
            "What to draw (or: reroll, block, unblock, audit)",
            required=True,
            rest=True,
            max_length=MAX_PROMPT_CHARS,
        ),
        Option(
            "negative_prompt", str, "What to keep out of the image", max_length=MAX_PROMPT_CHARS
        ),
        Option(
            "model",
            str,
            "A Hub model id (text-to-image) or the class default",
            max_length=MAX_REPO_ID,
        ),
        Option(
            "steps", int, "Denoising steps: more = slower, finer", min_value=1, max_value=MAX_STEPS
        ),
        Option(
            "guidance",
            float,
            "How closely to follow the prompt (0 = ignore it)",
            min_value=0,
            max_value=MAX_GUIDANCE,
        ),
        Option(
            "seed",
            int,
            "Same seed + settings + model = same image",
            min_value=0,
            max_value=MAX_SEED,
        ),
        Option("size", str, "Width and height in pixels", choices=tuple(map(str, CLASS_SIZES))),
        Option("job", int, "reroll: the image's job number", min_value=1),
        Option("word", str, "block/unblock: a word or phrase", max_length=MAX_WORD_CHARS),
        Option("limit", int, "audit: how many entries", min_value=1, max_value=100),
    ),
    examples=(
        '/imagine prompt:"a red fox in the snow"',
        '/imagine prompt:"a castle on a hill" steps:4 seed:7 size:512',
        '/imagine prompt:"a robot teacher" negative_prompt:"blurry" guidance:9',
        "/imagine reroll job:12",
        "/imagine block word:dragon",
        "/imagine audit limit:50",
    ),
)
