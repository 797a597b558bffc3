"""/imagine <prompt>: check the texts and the model, then queue an "imagine" job.

The prompt and the negative prompt pass the class's word filter, the model passes the guard
(text-to-image diffusers pipelines only), and the job is queued (bot/jobs/kinds/imagine.py
declares it and renders the result); the reply shows the queue position, then the relay turns
it into step i/N progress and finally the PNG. Every prompt and what became of it is audited.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

from bot.commandline import typed_text
from bot.commands.imagine.audit import record
from bot.commands.imagine.words import word_lists
from bot.commands.queueing import queued
from bot.inference.class_filter import check_texts
from bot.inference.devices import accelerator
from bot.inference.guard import TEXT_TO_IMAGE, ModelRefused
from bot.inference.image_limits import CLASS_SIZES, MAX_SEED
from bot.jobs.commands import queued_reply
from bot.jobs.kinds.imagine import IMAGINE, ImagineParams
from bot.replies import Error, Reply
from bot.router import Context


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
) -> AsyncIterator[Reply]:
    """Draw a picture from a prompt with a text-to-image model (Stable Diffusion).

    The same prompt, seed, steps, guidance, size and model always give the same image: the
    caption shows them all. Re-roll keeps everything but the seed. Without steps and
    guidance the model's usual ones are used (turbo models: 2 steps, no guidance; others 25
    and 7.5); without size, the model's own size. Prompts go through the class's word
    filter, and a model's own safety checker hides images it flags. Cancel stops the model
    within a step.
    """
    prompt = typed_text(prompt)  # `/imagine "a red fox"`: the words, not the quotes
    async for reply in draw(ctx, prompt, negative_prompt or "", model, steps, guidance, seed, size):
        yield reply


async def draw(
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
    """Check and queue one image: the queued reply, or an Error saying what to change."""
    services = ctx.services
    guard = services.guard
    detail: dict[str, Any] = {"negative_prompt": negative_prompt} if negative_prompt else {}
    if reroll_of is not None:
        detail["reroll_of"] = reroll_of
    # Every text that reaches the model passes the filter: the negative prompt too (it is
    # also echoed in the public "same image again" line).
    lists = await word_lists(services.store, ctx.guild_pk)
    verdict = check_texts(lists, prompt, negative_prompt)
    if not verdict.allowed:
        await record(ctx, prompt, "refused", {**detail, "blocked": list(verdict.matched)})
        yield Error(what=verdict.reason, todo="Nothing was sent to the model.")
        return
    try:
        approved = await guard.check(model or services.settings.image_model, TEXT_TO_IMAGE)
    except ModelRefused as refused:
        await record(ctx, prompt, "refused", {**detail, "model": model, "why": refused.error.what})
        raise
    limit = max_size(services.settings)
    if size is not None and int(size) > limit:
        allowed = ", ".join(str(s) for s in CLASS_SIZES if s <= limit)
        own = "leave size out for the model's own size."
        yield Error(
            what=f"size:{size} is above this class's limit of {limit}.",
            # A limit under every size offered leaves the model's own size alone.
            todo=f"Choose {allowed}, or {own}" if allowed else own.capitalize(),
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
    job_id = None
    try:
        async with queued(ctx, IMAGINE, params) as ticket:
            job_id = ticket.job_id
            yield queued_reply(ticket, total=steps)
    finally:
        # Written once the job may start, so the job does not wait for it.
        if job_id is not None:
            await record(ctx, prompt, "queued", {**detail, "job": job_id, "seed": seed})
