"""/generate: continue a prompt with a language model, and see how repetitive the text is.

The command vets the model (bot/inference/guard.py), queues a "generate" job and answers at
once with its place in the queue; the job relay later replaces that message with the result,
rendered by the job kind (bot/jobs/kinds/generate.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from bot.commandline import typed_text
from bot.commands.queueing import queued
from bot.declare import MAX_REPO_ID
from bot.inference.guard import ApprovedModel, ModelRefused
from bot.jobs.commands import queued_reply
from bot.jobs.kinds.generate import GENERATE, Decoding, GenerateParams, ModelRun
from bot.replies import Error, Reply
from bot.router import Command, Context, Option

MAX_PROMPT_CHARS = 1000
MAX_SEED = 2**63 - 1
DEFAULT_NEW_TOKENS = 50  # /run's hand-over uses it too, when its max_new_tokens: is left out


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
    guard = services.guard
    prompt = typed_text(prompt)  # `/generate "Once upon a time"`: the words, not the quotes
    if top_p == 0:
        yield Error(
            what="top_p must be above 0.",
            todo="top_p:0.9 keeps the likeliest words that make up 90% of the probability.",
        )
        return
    decoding_compared = bool(compare) and str(compare).lower() in ("greedy", "sampled")
    if decoding_compared and temperature == 0:
        yield Error(
            what="compare:greedy shows a sampled run beside a greedy one, and temperature:0 "
            "makes sampling greedy too: the two would be the same.",
            todo="Leave temperature: out, or set it above 0 (temperature:0.8).",
        )
        return
    main = await guard.check(model or services.settings.text_model)
    sampled = Decoding(
        max_new_tokens=max_new_tokens,
        temperature=1.0 if temperature is None else temperature,
        top_p=1.0 if top_p is None else top_p,
        top_k=50 if top_k is None else top_k,
        repetition_penalty=repetition_penalty,
        seed=seed,
        greedy=False,
    )
    greedy = Decoding(
        max_new_tokens=max_new_tokens,
        top_k=sampled.top_k,
        repetition_penalty=repetition_penalty,
        greedy=True,
    )
    wants_sampling = any(v is not None for v in (temperature, top_p, top_k, seed))
    mine = sampled if wants_sampling and temperature != 0 else greedy
    mine_label = "sampled" if mine is sampled else "greedy"
    runs = [_run(mine_label, main, mine)]
    not_run = ""
    if decoding_compared:
        runs = [_run("greedy", main, greedy), _run("sampled", main, sampled)]
    elif compare:
        other: ApprovedModel | None = None
        try:
            other = await guard.check(compare)
        except ModelRefused as refused:
            # The first model still runs; its answer says why the second did not.
            not_run = " ".join(filter(None, (refused.error.what, refused.error.todo)))
        if other is not None and other.id == main.id:
            yield Error(
                what="compare: names the same model.",
                todo="Give another model id, or compare:greedy to compare decoding.",
            )
            return
        if other is not None:
            runs = [_run(main.short_name, main, mine), _run(other.short_name, other, mine)]
    params = GenerateParams(prompt=prompt, runs=tuple(runs), not_run=not_run)
    async with queued(ctx, GENERATE, params) as ticket:
        # The worker counts tokens per model.
        yield queued_reply(ticket, total=max_new_tokens * len(params.models))


def _run(label: str, model: ApprovedModel, settings: Decoding) -> ModelRun:
    return ModelRun(label=label, model=model, settings=settings)


COMMAND = Command(
    name="generate",
    exploration=True,
    durable=True,
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
            repo="model",
        ),
        Option(
            "max_new_tokens",
            int,
            "How many tokens to add",
            default=DEFAULT_NEW_TOKENS,
            min_value=1,
            max_value=256,
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
            repo="model",
        ),
    ),
    examples=(
        '/generate prompt:"Once upon a time"',
        '/generate prompt:"Once upon a time" temperature:0.8 seed:1',
        '/generate prompt:"The cat sat" compare:greedy seed:7',
        '/generate prompt:"Hello" compare:gpt2',
    ),
)
