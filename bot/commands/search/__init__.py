"""/search: the models hub. Search and sort (models.py), a model's details and card checklist
(models.py), and the guess-the-task game (guess.py, declared as the verbs `guess` and
`guess reveal`).
"""

from __future__ import annotations

from bot.commands.listing import complete_task, id_with_spaces, list_options
from bot.commands.search import guess
from bot.commands.search.models import (
    complete_library,
    complete_models,
    list_models,
    model_details,
)
from bot.declare import MAX_NAME, MAX_REPO_ID
from bot.hub.cards import MODEL_SECTIONS
from bot.hub.links import LinkError, is_link, list_page, repo_id
from bot.identity import Role
from bot.replies import Error, Reply
from bot.router import Command, Context, Option


async def run(
    ctx: Context,
    text: str | None,
    task: str | None,
    sort: str,
    limit: int,
    library: str | None,
    page: int,
    model: str | None,
    section: str | None,
    chart: bool,
) -> Reply | list[Reply]:
    """Explore the models hub: search, filter by task, sort; open a model; play guess-the-task.

    /search gpt neo sort:likes — models whose name matches, most liked first
    /search task:text-generation sort:downloads limit:5 — the five most downloaded of a task
    /search model:EleutherAI/gpt-neo-125M — details: size, license in plain words, papers,
    training data, which parts of the model card exist (buttons open them), and whether this
    bot can run it (a Run button opens a form for /run models)
    /search model:EleutherAI/gpt-neo-125M section:limitations — that part of the card, in
    its own words (also: uses, training, evaluation, environmental-impact, citation, ...)
    /search task:text-generation chart:true — the list as a chart of downloads (or likes,
    with sort:likes) per model, with their sizes
    /search https://huggingface.co/EleutherAI/gpt-neo-125M — a model page's address, as
    your browser shows it, opens the model; the models list's address (with its task and
    sort filters) shows that list
    sort: downloads (last 30 days, the default), likes, trending or recent. The last column
    says whether the bot runs each model here (✓ yes, ✗ no, ? open the model to know).

    The guess game (from the lesson: look at the most downloaded models and guess what each
    does from its name alone):
    /search guess — show this channel's open round, or start one with a model from the
    top downloads
    /search guess answer:text-classification — answer (or click a button); one answer per
    student per round. A task name on its own works too: /search guess summarization
    /search guess reveal — an instructor reveals the task, the real downloads and likes and
    the channel's score; a round also reveals itself once every student of the channel (as
    the platform's member list knows them) has answered. Scores are kept per channel.
    /search guess model:openai/whisper-small — an instructor picks the next round's model
    """
    if model and text:
        return id_with_spaces("model", model, text, "/search")
    if not model and text and is_link(text) and len(text.split()) == 1:
        # A pasted address: the models list shows that list, a model's page the model.
        shown = list_page(text, "model")
        if shown is not None:
            return await list_models(
                ctx,
                shown.words or None,
                shown.task or task,
                shown.sort or sort,
                limit,
                shown.library or library,
                page,
                chart,
            )
        try:
            model = repo_id(text, "model")
        except LinkError as error:
            return error.reply()
    if model:
        return await model_details(ctx, model.strip(), section)
    if section:
        return Error(
            what="section: needs a model.",
            todo=f"Add model:, e.g. /search model:EleutherAI/gpt-neo-125M section:{section}",
        )
    return await list_models(ctx, text, task, sort, limit, library, page, chart)


ROUND = Option("round", int, "Guess game: the round you answer", min_value=1)

COMMAND = Command(
    name="search",
    exploration=True,
    handler=run,
    options=(
        *list_options(
            words="Words in the model's name, or: guess",
            task="A task (pipeline tag), e.g. text-generation",
            limit="How many models",
            before_page=(
                Option(
                    "library",
                    str,
                    "A library, e.g. transformers",
                    max_length=MAX_NAME,
                    complete=complete_library,
                ),
            ),
        ),
        Option(
            "model",
            str,
            "A model id (or its page's address): show its details",
            max_length=MAX_REPO_ID,
            repo="model",
            mistyped_as=("id",),
            complete=complete_models,
        ),
        Option(
            "section",
            str,
            "With model: show this part of its card",
            choices=tuple(MODEL_SECTIONS),
        ),
        Option("chart", bool, "Show the list as a chart", default=False),
    ),
    verbs=(
        Command(
            name="guess",
            handler=guess.guess,
            options=(
                Option(
                    "answer",
                    str,
                    "Guess game: your answer (a task)",
                    rest=True,
                    max_length=MAX_NAME,
                    # `answer:Text Classification` is one answer, as the words alone are.
                    to_line_end=True,
                    complete=complete_task,
                ),
                ROUND,
                Option(
                    "model",
                    str,
                    "Guess game (instructors): the model of the next round",
                    max_length=MAX_REPO_ID,
                    repo="model",
                    complete=complete_models,
                ),
            ),
            verbs=(
                Command(
                    name="reveal",
                    handler=guess.reveal,
                    options=(ROUND,),
                    role=Role.INSTRUCTOR,
                ),
            ),
        ),
    ),
    examples=(
        "/search task:text-generation sort:likes limit:5",
        "/search gpt-neo",
        "/search model:EleutherAI/gpt-neo-125M",
        "/search model:EleutherAI/gpt-neo-125M section:limitations",
        "/search task:text-generation chart:true",
        "/search guess",
        "/search guess answer:text-classification",
        "/search guess reveal",
        "/search guess model:openai/whisper-small",
    ),
)
