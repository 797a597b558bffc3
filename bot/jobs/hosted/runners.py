"""How the job kinds run on a hosted backend (named by `JobKind.hosted`, "module:function").

A hosted runner gets one job (`HostedCall`) and returns the kind's result, or raises
(HostedFault and friends, which the link turns into the job's failure). It runs in the bot's
event loop: cancelling its task abandons the HTTP request.

A new job kind runs hosted by naming its runner next to its local one
(`JobKind(..., runner="bot.jobs.tasks:run_x", hosted="module:function")`); a task runner is
usually one line around `HostedCall.run_task` and the client's method for that task.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from huggingface_hub import AsyncInferenceClient

from bot.inference.hosted.backend import OPENAI_ROUTE, HostedBackend
from bot.inference.hosted.faults import MAX_RETRY_WAIT, HostedFault, as_fault
from bot.inference.hosted.providers import Route, route_for
from bot.jobs.kinds.base import JsonData
from bot.jobs.kinds.generate import (
    Decoding,
    GenerateParams,
    GenerateResult,
    ModelRun,
    RunOutput,
)
from bot.jobs.kinds.imagine import ImagineParams, ImagineResult

# Live text shows this much of the end of what has arrived so far.
LIVE_CHARS = 300
LIVE_INTERVAL = 0.25
MAX_SEED = 2**31 - 1
_FINISH = {"stop": "eos", "eos_token": "eos", "stop_sequence": "eos", "length": "length"}

Progress = Callable[[int, int, str], None]


@dataclass
class HostedCall:
    """One job on a hosted backend: its params (the kind's JSON) and how to reach it."""

    backend: HostedBackend
    job_id: int
    params: dict[str, Any]
    progress: Progress

    async def route(self, model: str, task: str) -> Route:
        backend = self.backend
        if backend.name == "openai":
            return OPENAI_ROUTE
        try:
            return await route_for(model, task, backend.settings.hf_provider)
        except HostedFault:
            raise
        except Exception as error:  # the Hub's lookup failed: say so as plainly as a call
            fault = as_fault(error, backend.where(), model, backend.settings.hub_timeout_seconds)
            raise fault.scrubbed(backend.secrets) from None

    async def call(
        self, route: Route, model: str, work: Callable[[AsyncInferenceClient], Awaitable[Any]]
    ) -> Any:
        """Run `work` with a client for `route` inside one of the backend's slots; faults
        become HostedFault. A rate limit with a short Retry-After is waited out once, with
        the wait shown."""
        backend = self.backend
        where = backend.where(route)
        timeout = backend.settings.hosted_timeout_seconds
        for attempt in (1, 2):
            try:
                async with backend.slots, backend.client(route) as client:
                    return await asyncio.wait_for(work(client), timeout)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                fault = as_fault(error, where, model, timeout).scrubbed(backend.secrets)
                wait = fault.retry_after
                if attempt == 2 or wait is None or wait > MAX_RETRY_WAIT:
                    raise HostedFault(fault.what, fault.todo) from None
                self.progress(0, 0, f"{where} asks us to wait {wait:.0f} s (rate limit); retrying")
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def run_task(
        self, model: str, task: str, work: Callable[[AsyncInferenceClient], Awaitable[Any]]
    ) -> Any:
        """The seam for a task kind (/run): find where `model` runs `task`, then `work(client)`
        calls the client's method for that task (`client.text_classification(text,
        model=model)`, ...) under the backend's bound, faults made plain."""
        return await self.call(await self.route(model, task), model, work)


HostedRunner = Callable[[HostedCall], Awaitable[JsonData]]


# -- generate -------------------------------------------------------------------------------------


async def generate(call: HostedCall) -> GenerateResult:
    """Every run of the job at once (compare: runs side by side), text streamed when the
    provider streams (chat completion); the repetition meter is computed on the text at render."""
    params = GenerateParams.from_json(call.params)
    total = sum(r.settings.max_new_tokens for r in params.runs)
    counts = [0] * len(params.runs)
    texts = [""] * len(params.runs)

    shown = [0.0]

    def live(index: int, text: str, tokens: int) -> None:
        counts[index], texts[index] = tokens, text
        now = time.monotonic()
        # Chat edits are throttled further by the relay; this spares it a message per token.
        if now - shown[0] < LIVE_INTERVAL:
            return
        shown[0] = now
        done = sum(counts)
        tail = text[-LIVE_CHARS:]
        call.progress(done, total, f"generating: {done}/{total} tokens\n…{tail}")

    def live_for(index: int) -> Callable[[str, int], None]:
        return lambda text, tokens: live(index, text, tokens)

    outputs = await asyncio.gather(
        *(_one_run(call, params.prompt, run, live_for(i)) for i, run in enumerate(params.runs))
    )
    return GenerateResult(tuple(outputs))


async def _one_run(
    call: HostedCall, prompt: str, run: ModelRun, live: Callable[[str, int], None]
) -> RunOutput:
    s = run.settings
    greedy = s.greedy or s.temperature == 0
    seed = None if greedy else (s.seed if s.seed is not None else secrets.randbelow(MAX_SEED))
    route = await call.route(run.model.id, "text-generation")
    started = time.monotonic()
    if route.task == "text-generation":
        text, tokens, finish = await call.call(
            route, run.model.id, lambda c: _complete(c, run, prompt, greedy, seed)
        )
    else:
        text, tokens, finish = await call.call(
            route, run.model.id, lambda c: _chat(c, run, prompt, greedy, seed, live)
        )
    return RunOutput(
        label=run.label,
        model=run.model,
        model_params=run.model.params,
        text=text,
        tokens=tokens,
        finish=_FINISH.get(finish or "", finish or "eos"),
        seconds=round(time.monotonic() - started, 3),
        seed=seed,
        settings=Decoding.from_json({**s.to_json(), **_unsent(route), "seed": seed}),
        device=call.backend.where(route),
        as_chat=route.task != "text-generation",
    )


def _unsent(route: Route) -> dict[str, Any]:
    """Settings a chat completion has no field for: the card shows them as not applied."""
    return {"top_k": 0, "repetition_penalty": 1.0} if route.task == "conversational" else {}


async def _chat(
    client: AsyncInferenceClient,
    run: ModelRun,
    prompt: str,
    greedy: bool,
    seed: int | None,
    live: Callable[[str, int], None],
) -> tuple[str, int, str | None]:
    s = run.settings
    stream = await client.chat_completion(
        [{"role": "user", "content": prompt}],
        model=run.model.id,
        stream=True,
        max_tokens=s.max_new_tokens,
        temperature=0.0 if greedy else s.temperature,
        top_p=None if greedy else s.top_p,
        seed=seed,
    )
    parts: list[str] = []
    tokens, finish, used = 0, None, None
    async for chunk in stream:
        usage = getattr(chunk, "usage", None)
        if usage is not None and usage.completion_tokens:
            used = int(usage.completion_tokens)
        for choice in chunk.choices or []:
            piece = choice.delta.content if choice.delta is not None else None
            if piece:
                parts.append(piece)
                tokens += 1
                live("".join(parts), tokens)
            finish = choice.finish_reason or finish
    if finish is None and not parts:
        # A stream that ended with no chunk at all is no answer (a model that stops at once
        # still says why): as_fault reads this as an answer it could not read.
        raise ValueError("the stream ended without an answer")
    return "".join(parts), used or tokens, finish


async def _complete(
    client: AsyncInferenceClient, run: ModelRun, prompt: str, greedy: bool, seed: int | None
) -> tuple[str, int, str | None]:
    s = run.settings
    out = await client.text_generation(
        prompt,
        model=run.model.id,
        details=True,
        max_new_tokens=s.max_new_tokens,
        do_sample=not greedy,
        temperature=None if greedy else s.temperature,
        top_p=None if greedy or s.top_p >= 1 else s.top_p,
        top_k=None if greedy or not s.top_k else s.top_k,
        repetition_penalty=s.repetition_penalty if s.repetition_penalty != 1.0 else None,
        seed=seed,
        return_full_text=False,
    )
    text = out.generated_text
    details = out.details
    if not isinstance(text, str):
        raise TypeError("no generated_text")
    if details is None:
        return text, len(text.split()), None
    return text, int(details.generated_tokens), str(details.finish_reason)


# -- imagine --------------------------------------------------------------------------------------


async def imagine(call: HostedCall) -> ImagineResult:
    """One image; its bytes go through the same path as a local image (the kind's render and
    after-delivery audit). Providers run their own safety filters before answering."""
    params = ImagineParams.from_json(call.params)
    model = params.model
    route = await call.route(model.id, "text-to-image")
    size = params.size
    call.progress(0, params.steps, f"drawing on {call.backend.where(route)}")
    started = time.monotonic()

    async def draw(client: AsyncInferenceClient) -> bytes:
        image = await client.text_to_image(
            params.prompt,
            model=model.id,
            negative_prompt=params.negative_prompt or None,
            height=size,
            width=size,
            num_inference_steps=params.steps,
            guidance_scale=params.guidance,
            seed=params.seed,
        )
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    png = await call.call(route, model.id, draw)
    width = _png_width(png)
    return ImagineResult(
        model=model,
        model_params=model.params,
        model_name=model.short_name,
        seed=params.seed,
        steps=params.steps,
        steps_done=params.steps,
        guidance=params.guidance,
        size=width,
        seconds=round(time.monotonic() - started, 3),
        device=call.backend.where(route),
        png=png,
    )


def _png_width(png: bytes) -> int:
    # The IHDR chunk: 8-byte signature, 4-byte length, "IHDR", then width (big-endian).
    return int.from_bytes(png[16:20], "big") if png[:8] == b"\x89PNG\r\n\x1a\n" else 0


__all__ = ["HostedCall", "HostedRunner", "generate", "imagine"]
