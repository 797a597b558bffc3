"""/generate: continue a prompt with a language model, and see how repetitive the text is.

The command vets the model (bot/inference/guard.py), queues a "generate" job and answers at
once with its place in the queue; the job relay later replaces that message with the result,
rendered here by `render` (declared in JOB_RENDERERS).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from bot.declare import MAX_REPO_ID
from bot.identity import Role
from bot.inference.guard import ApprovedModel, format_params
from bot.inference.repetition import repetition_report
from bot.jobs.commands import clip as _clip
from bot.jobs.commands import queued_reply, submit_job
from bot.jobs.protocol import JobRequest, JobView
from bot.replies import Card, Error, Field, Reply
from bot.router import Command, Context, Option

MAX_PROMPT_CHARS = 1000
# Chat limits: a part of a reply stays under 1,800 characters (Discord messages hold 2,000),
# and a side-by-side column under 1,024 (a Discord embed field).
TEXT_PART = 1800
COLUMN_PART = 800
MAX_SEED = 2**63 - 1


async def run(
    ctx: Context,
    prompt: str,
    model: str | None,
    max_new_tokens: int,
    temperature: float | None,
    top_p: float | None,
    top_k: int | None,
    repetition_penalty: float,
    seed: int | None,
    compare: str | None,
) -> AsyncIterator[Reply]:
    """Continue a prompt with a language model and measure how much it repeats itself.

    With no temperature, top_p, top_k or seed the model decodes greedily (it always picks the
    most likely next word, like transformers' default), and small models soon repeat
    themselves. Add temperature:0.8 or a seed to sample instead. The same seed, settings and
    model always give the same text. compare:greedy (or compare:sampled) shows a greedy and a
    sampled run side by side; compare:<model id> runs your prompt on a second model too.
    """
    services = ctx.services
    jobs, guard = services.jobs, services.guard
    if jobs is None or guard is None:
        yield Error(what="Text generation is not set up on this bot.", todo="Tell your instructor.")
        return
    if top_p == 0:
        yield Error(
            what="top_p must be above 0.",
            todo="top_p:0.9 keeps the likeliest words that make up 90% of the probability.",
        )
        return
    main = await guard.check(model or services.settings.text_model)
    sampled = {
        "max_new_tokens": max_new_tokens,
        "temperature": 1.0 if temperature is None else temperature,
        "top_p": 1.0 if top_p is None else top_p,
        "top_k": 50 if top_k is None else top_k,
        "repetition_penalty": repetition_penalty,
        "seed": seed,
        "greedy": False,
    }
    greedy = {**sampled, "temperature": 1.0, "top_p": 1.0, "seed": None, "greedy": True}
    wants_sampling = any(v is not None for v in (temperature, top_p, top_k, seed))
    mine = sampled if wants_sampling and temperature != 0 else greedy
    mine_label = "sampled" if mine is sampled else "greedy"
    runs = [_run(mine_label, main, mine)]
    if compare and compare.lower() in ("greedy", "sampled"):
        runs = [_run("greedy", main, greedy), _run("sampled", main, sampled)]
    elif compare:
        other = await guard.check(compare)
        if other.id == main.id:
            yield Error(
                what="compare: names the same model.",
                todo="Give another model id, or compare:greedy to compare decoding.",
            )
            return
        runs = [_run(main.short_name, main, mine), _run(other.short_name, other, mine)]
    models = sorted({r["model"]["id"] for r in runs})
    request = JobRequest(
        kind="generate",
        params={"prompt": prompt, "runs": runs},
        guild_pk=ctx.guild_pk,
        user_pk=ctx.user_pk,
        destination=ctx.destination,
        priority=1 if ctx.actor.role is Role.INSTRUCTOR else 0,
        batch_key="generate:" + "|".join(models),
        cost=max_new_tokens,
        summary=f"{_clip(prompt, 40)} ({main.short_name})",
    )
    ticket = await submit_job(jobs, request)
    try:
        # The worker counts tokens per model.
        yield queued_reply(ticket, total=max_new_tokens * len(models))
    finally:
        # Only now may the job start: its progress replaces the reply just sent.
        jobs.release(ticket.job_id)


def _run(label: str, model: ApprovedModel, settings: dict[str, Any]) -> dict[str, Any]:
    return {"label": label, "model": model.to_json(), "settings": dict(settings)}


# -- the result ----------------------------------------------------------------------------


def _decoding(run: dict[str, Any]) -> str:
    s = run["settings"]
    if s.get("greedy") or s.get("temperature") == 0:
        words = ["greedy (always the most likely token)"]
    else:
        words = [f"sampled · temperature {s['temperature']:g}", f"top-p {s['top_p']:g}"]
        words.append(f"top-k {s['top_k']}" if s["top_k"] else "no top-k")
        words.append(f"seed {run['seed']}")
    if s.get("repetition_penalty", 1.0) != 1.0:
        words.append(f"repetition penalty {s['repetition_penalty']:g}")
    return " · ".join(words)


def _ending(run: dict[str, Any]) -> str:
    ending = {"eos": "the model ended the text", "length": "stopped at max_new_tokens"}.get(
        run["finish"], str(run["finish"])
    )
    return f"{run['tokens']} tokens in {run['seconds']:.1f} s, {ending}"


def _size(run: dict[str, Any]) -> str:
    return f"{format_params(int(run['model_params']))} parameters"


def _name(run: dict[str, Any]) -> str:
    return ApprovedModel.from_json(run["model"]).short_name


def render(job: JobView) -> Reply:
    """The finished job: the text, its repetition meter, and how it was decoded."""
    result = job.result or {}
    runs: list[dict[str, Any]] = result.get("runs", [])
    prompt = str(job.params.get("prompt", ""))
    notes = []
    if any(r.get("prompt_truncated") for r in runs):
        notes.append("the prompt's start was cut to fit the model's context")
    if len(runs) == 1:
        run = runs[0]
        report = repetition_report(run["text"])
        text = _clip(run["text"], TEXT_PART) or "(no text: the model ended at once)"
        footer = [_ending(run), *notes, "same seed + settings + model → same text"]
        return Card(
            title=f"{_name(run)} · {_size(run)}",
            description=text,
            fields=(
                Field(name="Prompt", value=_clip(prompt, 300), inline=False),
                Field(
                    name="Repetition",
                    value=f"{report.meter}\n{report.explanation}",
                    inline=False,
                ),
                Field(name="Decoding", value=_decoding(run), inline=False),
            ),
            footer=f"{'; '.join(footer)} · job {job.id}",
        )
    columns = []
    for run in runs:
        report = repetition_report(run["text"])
        text = _clip(run["text"], COLUMN_PART) or "(no text)"
        columns.append(
            Field(
                name=f"{run['label']} · {_name(run)} ({_size(run)})",
                value=f"{text}\n\nRepetition {report.meter}\n{report.explanation}\n"
                f"{_decoding(run)}",
                inline=True,
            )
        )
    labels = [str(r["label"]) for r in runs]
    return Card(
        title=" vs ".join(labels),
        description=f"Prompt: {_clip(prompt, 300)}",
        fields=tuple(columns),
        footer=f"{'; '.join([*(_ending(r) for r in runs), *notes])} · job {job.id}",
    )


JOB_RENDERERS = {"generate": render}

COMMAND = Command(
    name="generate",
    exploration=True,
    handler=run,
    options=(
        Option(
            "prompt",
            str,
            "The text the model continues",
            required=True,
            rest=True,
            max_length=MAX_PROMPT_CHARS,
        ),
        Option(
            "model",
            str,
            "A Hub model id (text-generation) or the class default",
            max_length=MAX_REPO_ID,
        ),
        Option(
            "max_new_tokens", int, "How many tokens to add", default=50, min_value=1, max_value=256
        ),
        Option(
            "temperature",
            float,
            "Randomness: 0 = greedy, 1 = the model's odds",
            min_value=0,
            max_value=2,
        ),
        Option(
            "top_p",
            float,
            "Keep the likeliest words up to this probability",
            min_value=0,
            max_value=1,
        ),
        Option(
            "top_k", int, "Keep only the k likeliest words (0 = all)", min_value=0, max_value=200
        ),
        Option(
            "repetition_penalty",
            float,
            "Make words already used less likely (1 = off)",
            default=1.0,
            min_value=1,
            max_value=2,
        ),
        Option(
            "seed", int, "Same seed + settings + model = same text", min_value=0, max_value=MAX_SEED
        ),
        Option(
            "compare",
            str,
            "greedy, sampled, or another model id to run side by side",
            max_length=MAX_REPO_ID,
        ),
    ),
    examples=(
        '/generate prompt:"Once upon a time"',
        '/generate prompt:"Once upon a time" temperature:0.8 seed:1',
        '/generate prompt:"The cat sat" compare:greedy seed:7',
        '/generate prompt:"Hello" compare:gpt2',
    ),
)
