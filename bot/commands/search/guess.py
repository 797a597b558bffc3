"""/search guess: the guess-the-task game (the lesson: sort by most downloaded and guess what a
model does from its name alone). Declared as verbs of /search: `guess` and `guess reveal`.

A round shows one model from the Hub's top downloads and 4 task choices as buttons. Each
student answers once (a button, or typed: any task name). The round is revealed by an
instructor (`/search guess reveal`) or by itself once every student of the channel, as the
platform's roster knows them, has answered; the reveal shows the task, the real downloads
and likes, who was right and the channel's score. Rounds and scores are per channel.
"""

from __future__ import annotations

import logging
import random

from bot.hub.errors import HubError
from bot.hub.tasks import PIPELINE_TAGS, close_tasks, normalize_task
from bot.identity import Role
from bot.inference.guard import format_params
from bot.replies import Button, Card, Error, Field, Reply, Text
from bot.router import Context
from bot.store import guess as rounds

log = logging.getLogger(__name__)

CHOICES = 4
TOP_MODELS = 100
# Wrong choices come from the tasks students meet in the lesson, so each one is plausible.
_DISTRACTORS = (
    "text-classification",
    "token-classification",
    "question-answering",
    "summarization",
    "translation",
    "text-generation",
    "fill-mask",
    "sentence-similarity",
    "feature-extraction",
    "zero-shot-classification",
    "text-to-image",
    "image-classification",
    "object-detection",
    "image-segmentation",
    "image-to-text",
    "automatic-speech-recognition",
    "audio-classification",
    "text-to-speech",
)
# Words that show the open round (or start one) rather than answer it.
_SHOW_WORDS = ("", "new", "start", "show")
_HOW = "Click a button, or type /search guess answer:<task> (any task name of the Hub)."


def params_text(n: int | None) -> str:
    """137M (137,022,720)."""
    return f"{format_params(n)} ({n:,})" if n else "not published"


def choices_for(round_id: int, task: str) -> list[str]:
    """The round's choices: the same every time the round is shown (seeded by its id)."""
    rng = random.Random(round_id)
    picks = [task, *rng.sample([t for t in _DISTRACTORS if t != task], CHOICES - 1)]
    rng.shuffle(picks)
    return picks


async def guess(
    ctx: Context, answer: str | None, round: int | None, model: str | None = None
) -> Reply | list[Reply]:
    """Guess what a top model does from its name: show or start this channel's round.

    With a task name, answer it (one answer per student per round); a round's model comes
    from the top downloads.

    /search guess — the open round, or a new one
    /search guess answer:text-classification — answer (or click a button). A task name on
    its own works too: /search guess summarization
    /search guess model:openai/whisper-small — an instructor starts a round with this model
    """
    if model:
        return await _start_with(ctx, model.strip())
    if answer is None or answer.strip().lower() in _SHOW_WORDS:
        return await _show_or_start(ctx)
    return await _answer(ctx, answer, round)


async def _start_with(ctx: Context, asked: str) -> Reply:
    """An instructor's choice of model for the next round."""
    if ctx.actor.role is not Role.INSTRUCTOR:
        return Error(
            what="Only an instructor chooses the guess game's model.",
            todo="Type /search guess to play the open round (or start one).",
        )
    async with ctx.services.store.session() as session:
        current = await rounds.open_round(session, ctx.guild_pk, ctx.actor.channel_id)
    if current is not None:
        return Error(
            what=f"Round {current.id} is still open.",
            todo="Reveal it first with /search guess reveal, then choose the next model.",
        )
    try:
        facts = (await ctx.services.hub.model_info(asked)).value
    except HubError as error:
        return error.reply()
    if facts.pipeline_tag not in PIPELINE_TAGS or facts.pipeline_tag == "other":
        return Error(
            what=f"{facts.id} has no task on the Hub, so there is nothing to guess.",
            todo="Pick a model whose page names a task (/search task:summarization lists some).",
        )
    return await _start(ctx, facts.id, str(facts.pipeline_tag))


async def reveal(ctx: Context, round: int | None) -> Reply:
    """Reveal the round: the task, the real downloads and likes, who was right
    and the channel's score. A round also reveals itself once every student of the channel
    (as the platform's member list knows them) has answered."""
    async with ctx.services.store.session() as session:
        if round is not None:
            current = await rounds.find_round(session, round, ctx.guild_pk, ctx.actor.channel_id)
        else:
            current = await rounds.open_round(session, ctx.guild_pk, ctx.actor.channel_id)
    if current is None or current.revealed_at is not None:
        return Error(what="No round is open here.", todo="Type /search guess to start one.")
    shown = await _reveal(ctx, current.id, current.model_id, current.task)
    if shown is None:
        return Error(what=f"Round {current.id} was just revealed.", todo="See the message above.")
    return shown


def _round_card(round_id: int, model_id: str, task: str, note: str = "") -> Card:
    choices = choices_for(round_id, task)
    return Card(
        title=f"Guess the task — round {round_id}",
        description=(
            f"{note}What does {model_id} do? Guess from its name alone (no peeking at the "
            "Hub!). It is one of the most downloaded models."
        ).strip(),
        fields=(
            Field(name="Choices", value=" · ".join(choices), inline=False),
            Field(name="How", value=_HOW, inline=False),
        ),
        footer=(
            "One answer each. An instructor reveals with /search guess reveal; the round also "
            "reveals itself once everyone in the channel has answered."
        ),
        buttons=tuple(
            Button(label=c, action=f"/search guess answer:{c} round:{round_id}") for c in choices
        ),
    )


async def _show_or_start(ctx: Context) -> Reply:
    store, channel = ctx.services.store, ctx.actor.channel_id
    async with store.session() as session:
        current = await rounds.open_round(session, ctx.guild_pk, channel)
        if current is not None:
            note = f"Round {current.id} is still open. "
            return _round_card(current.id, current.model_id, current.task, note)
        recent = await rounds.recent_models(session, ctx.guild_pk, channel)
    try:
        top = await ctx.services.hub.search_models(sort="downloads", limit=TOP_MODELS)
    except HubError as error:
        return error.reply()
    playable = [m for m in top.value.items if m.pipeline_tag in PIPELINE_TAGS]
    playable = [m for m in playable if m.pipeline_tag != "other"]
    fresh = [m for m in playable if m.id not in recent] or playable
    if not fresh:
        return Error(what="The Hub sent no models to guess.", todo="Try again in a minute.")
    picked = random.choice(fresh)
    return await _start(ctx, picked.id, str(picked.pipeline_tag))


async def _start(ctx: Context, model_id: str, task: str) -> Card:
    store, channel = ctx.services.store, ctx.actor.channel_id
    async with store.session(write=True) as session:
        # Checked again in the writing transaction: two students starting at once get one round.
        current = await rounds.open_round(session, ctx.guild_pk, channel)
        if current is None:
            current = await rounds.start_round(
                session,
                guild_id=ctx.guild_pk,
                channel_id=channel,
                model_id=model_id,
                task=task,
                now=ctx.services.clock(),
            )
    return _round_card(current.id, current.model_id, current.task)


async def _answer(ctx: Context, typed: str, round_id: int | None) -> Reply | list[Reply]:
    tag = normalize_task(typed)
    if tag not in PIPELINE_TAGS:
        close = close_tasks(typed)
        hint = f"Did you mean {close[0]}? " if close else ""
        return Error(
            what=f"“{typed}” is not a task name on the Hub.",
            # No example task here: it could be the round's own answer.
            todo=f"{hint}Click one of the round's buttons, or type a task as the Hub names it.",
        )
    channel = ctx.actor.channel_id
    async with ctx.services.store.session(write=True) as session:
        if round_id is not None:
            current = await rounds.find_round(session, round_id, ctx.guild_pk, channel)
        else:
            current = await rounds.open_round(session, ctx.guild_pk, channel)
        if current is None:
            what = f"There is no round {round_id} here." if round_id else "No round is open here."
            return Error(what=what, todo="Type /search guess to start one.")
        if current.revealed_at is not None:
            return Error(
                what=f"Round {current.id} is over: {current.model_id} does {current.task}.",
                todo="Type /search guess for a new round.",
            )
        if not await rounds.add_answer(session, current, ctx.user_pk, tag, ctx.services.clock()):
            return Error(
                what=f"You already answered round {current.id}.",
                todo="One answer per round: wait for the reveal.",
            )
        answered = await rounds.answered_by(session, current.id)
        round_id, model_id, task = current.id, current.model_id, current.task
    mine = Text(
        text=f"Got it: {tag} for round {round_id} ({len(answered)} answered so far).",
        private=True,
    )
    if not await _everyone_answered(ctx, answered):
        return mine
    reveal = await _reveal(ctx, round_id, model_id, task)
    return [mine, reveal] if reveal is not None else mine


async def _everyone_answered(ctx: Context, answered: set[str]) -> bool:
    roster = ctx.services.rosters.get(ctx.actor.platform)
    if roster is None:
        return False
    try:
        students = await roster.students(ctx.actor.guild_id, ctx.actor.channel_id)
    except Exception:
        # The roster is a convenience: an answer must not fail because a platform call did.
        log.warning("roster lookup failed for the guess game", exc_info=True)
        return False
    if not students:
        return False
    return all(s.user_id in answered for s in students)


async def _reveal(ctx: Context, round_id: int, model_id: str, task: str) -> Card | None:
    """Close the round and show the answer; None if another reveal got there first."""
    channel = ctx.actor.channel_id
    async with ctx.services.store.session(write=True) as session:
        if not await rounds.reveal(session, round_id, ctx.services.clock()):
            return None
        counts, right = await rounds.tally(session, round_id)
        scores = await rounds.channel_scores(session, ctx.guild_pk, channel)
    fields = []
    try:
        facts = (await ctx.services.hub.model_info(model_id)).value
    except HubError as error:
        fields.append(Field(name="Numbers", value=f"Not available: {error.what}", inline=False))
    else:
        fields += [
            Field(name="Downloads (30 days)", value=f"{facts.downloads:,}"),
            Field(name="Likes", value=f"{facts.likes:,}"),
            Field(name="Parameters", value=params_text(facts.params)),
        ]
    # The right answer first, then the others, most given first.
    ordered = sorted(counts.items(), key=lambda item: (item[0] != task, -item[1], item[0]))
    given = "\n".join(f"{'✓' if a == task else '✗'} {a}: {n}" for a, n in ordered)
    board = "\n".join(
        f"{i}. {s.name}: {s.right} right of {s.answered}" for i, s in enumerate(scores, 1)
    )
    fields += [
        Field(name="Answers", value=given or "nobody answered", inline=False),
        Field(name="Right", value=", ".join(right[:30]) or "nobody this time", inline=False),
        Field(name="Channel score", value=board or "no answers yet", inline=False),
    ]
    return Card(
        title=f"Round {round_id}: {model_id}",
        description=f"It does {task}: it {PIPELINE_TAGS.get(task, 'is tagged so on the Hub')}.",
        fields=tuple(fields),
        url=f"https://huggingface.co/{model_id}",
        buttons=(Button(label="Next round", action="/search guess", style="primary"),),
    )
