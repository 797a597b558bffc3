"""/run: the Hub's inference widget in chat, for text, audio and image tasks.

`/run model:<id> <input>` finds the model's task (its `pipeline_tag` on the Hub, or a local
folder's config), vets the model for that task (bot/inference/tasks/vetting.py), checks the
input (bot/commands/run/inputs.py; an attached clip or image in bot/inference/tasks/media.py),
and queues one "run" job (bot/jobs/kinds/run.py);
`/run task:<task> <input>` uses the class's default model for the task. A text-generation
or text-to-image model is handed over to /generate or /imagine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from bot.attachments import MAX_REFERENCE, Attachment
from bot.commandline import quote, typed_text
from bot.commands import generate
from bot.commands.imagine.draw import draw
from bot.commands.queueing import queued
from bot.commands.run.form import form_action, run_form
from bot.commands.run.inputs import (
    MAX_INPUT_CHARS,
    MAX_MODELS,
    build_input,
    example_for,
    foreign_option,
    media_input,
    question_after,
    split_list,
)
from bot.declare import MAX_NAME, MAX_REPO_ID
from bot.hub.tasks import names_a_task, normalize_task
from bot.inference.tasks import HANDED_OVER, MEDIA_TASKS, TASKS, TEXT_TASKS, media_of
from bot.inference.tasks.vetting import HandOver, TaskModel, check_task
from bot.jobs.commands import queued_reply
from bot.jobs.kinds.run import RUN, RunParams
from bot.replies import Error, Reply
from bot.router import Command, Context, Option

if TYPE_CHECKING:
    from bot.services import Services


async def run(
    ctx: Context,
    input: str | None,
    model: str | None,
    task: str | None,
    file: Attachment | None,
    compare: str | None,
    context: str | None,
    labels: str | None,
    sentences: str | None,
    source: str | None,
    target: str | None,
    max_new_tokens: int | None,
) -> AsyncIterator[Reply]:
    """Run a Hub model on your text, clip or image, like the inference widget on its page.

    The task comes from the model: text-classification (sentiment), token-classification
    (named entities), fill-mask (put the model's mask token, e.g. [MASK] or <mask>, in the
    text), question-answering (your question, and context: the text holding the answer),
    summarization, translation (source: and target: for a model with several languages),
    text2text-generation, zero-shot-classification (labels:a,b,c) and sentence-similarity
    (sentences:"one|two|three" compared with yours). On an attached file (file:, at most
    10 MB): automatic-speech-recognition and audio-classification on a clip of at most 30 s,
    image-classification, object-detection and image-to-text on an image of at most
    4096×4096. task:<task> without model: uses the class's model for that task.
    compare:<id>,<id> runs the same input on up to 3 models side by side, with their size,
    license and time. Without text (or with the Run button of a /search model page) a form
    asks for it.
    """
    guard = ctx.services.guard
    task = normalize_task(task) if task else None  # "Text Classification", as the Hub shows it
    if task is not None and media_of(task) and file is None and input:
        yield _no_file(task)  # text where the file belongs: before any model is looked up
        return
    main = await check_task(guard, model, task)
    given: dict[str, object] = {"context": context, "labels": labels, "sentences": sentences}
    given |= {"source": source, "target": target, "max_new_tokens": max_new_tokens}
    foreign = foreign_option(_task_of(main), given | {"compare": compare}, model)
    if foreign is not None:
        yield foreign
        return
    if isinstance(main, HandOver):
        text = typed_text(input or "")
        if not text:
            yield _no_prompt(main, model, task)
            return
        async for reply in _hand_over(ctx, main, text, max_new_tokens, compare):
            yield reply
        return
    chosen = [main]
    for other in split_list(compare or ""):
        found = await check_task(guard, other, main.task)
        if isinstance(found, HandOver) or found.task != main.task:
            yield Error(
                what=f"{other} does another task than {main.model.short_name} ({main.task}).",
                todo=f"compare: takes models that do {main.task} too.",
            )
            return
        if any(found.model.id == m.model.id for m in chosen):
            yield _twice(found, main, model)
            return
        chosen.append(found)
    if len(chosen) > MAX_MODELS:
        yield Error(
            what=f"compare: runs at most {MAX_MODELS} models side by side.",
            todo=f"Give at most {MAX_MODELS - 1} ids after compare:, separated by commas.",
        )
        return
    kind = media_of(main.task)
    if kind is None and file is not None:
        yield Error(
            what=f"{main.model.short_name} does {main.task}, which takes text, not a file.",
            todo="Type your text instead, or use a model for audio or images: "
            f"{', '.join(MEDIA_TASKS)}.",
        )
        return
    if kind is not None:
        if file is None and input is None:  # the Run button, or /run model:<id> alone
            yield run_form(main, form_action(model, task, compare), {})
            return
        if file is None:
            yield _no_file(main.task, model)
            return
        data = await media_input(kind, main.task, file, input or "")
        params = RunParams(task=main.task, input=data, models=tuple(chosen))
        async with queued(ctx, RUN, params) as ticket:
            yield queued_reply(ticket, total=len(chosen))
        return
    if input is None and main.task == "question-answering" and context:
        # The context typed first has taken the question along (it runs to the line's end).
        split = question_after(context)
        if split is not None:
            input, context = split
    if input is None:  # the Run button of a model page, or /run model:<id> alone: the form
        filled = {k: v for k, v in given.items() if isinstance(v, str) and v}
        yield run_form(main, form_action(model, task, compare), filled)
        return
    data = build_input(
        main,
        chosen,
        text=input or "",
        context=context,
        labels=labels,
        sentences=sentences,
        source=source,
        target=target,
        max_new_tokens=max_new_tokens,
    )
    params = RunParams(task=main.task, input=data, models=tuple(chosen))
    async with queued(ctx, RUN, params) as ticket:
        yield queued_reply(ticket, total=len(chosen))


def _task_of(found: TaskModel | HandOver) -> str:
    """The task that runs: the model's, or the one the other command does."""
    if isinstance(found, TaskModel):
        return found.task
    return next(task for task, command in HANDED_OVER.items() if command == found.command)


def _twice(found: TaskModel, main: TaskModel, model: str | None) -> Error:
    """A compare: model the run has already: the class's model for the task, the model:
    given, or one compare: names twice."""
    name = found.model.short_name
    if found.model.id != main.model.id:
        return Error(what=f"compare: names {name} twice.", todo="Give each model once.")
    others = f"compare: takes other models; /search task:{main.task} finds them."
    if model is None:
        return Error(what=f"{name} is already the class's model for {main.task}.", todo=others)
    return Error(what=f"{name} is already the model: of this run.", todo=others)


def _no_prompt(to: HandOver, model: str | None, task: str | None) -> Error:
    """A text-generation or text-to-image model named with nothing to start from."""
    named = f"model:{quote(model)}" if model else f"task:{task}"
    if to.command == "/generate":
        return Error(
            what="A text-generation model continues a prompt, and none was typed.",
            todo=f"Type it after the command: /run {named} Once upon a time",
        )
    return Error(
        what="A text-to-image model draws a prompt, and none was typed.",
        todo=f"Type it after the command: /run {named} a red fox in the snow",
    )


def _no_file(task: str, model: str | None = None) -> Error:
    """What to type: the task's example, for the model the student named if they did."""
    what = "an audio clip" if media_of(task) == "audio" else "an image"
    example = example_for(task, model)
    return Error(
        what=f"{task} runs on {what}, and none was attached.",
        todo=f"Attach it with file: (on Slack: upload it in the channel, then give its link "
        f"after file:), e.g. {example}",
    )


async def _hand_over(
    ctx: Context, to: HandOver, text: str, max_new_tokens: int | None, compare: str | None
) -> AsyncIterator[Reply]:
    """The other command's own answer, with the options both commands share."""
    name = to.model_id or None
    if to.command == "/generate":
        length = generate.DEFAULT_NEW_TOKENS if max_new_tokens is None else max_new_tokens
        replies = generate.run(ctx, text, name, length, None, None, None, 1.0, None, compare)
    else:
        replies = draw(ctx, text, "", name, None, None, None, None)
    async for reply in replies:
        yield reply


async def _complete_task(services: Services, prefix: str) -> list[str]:
    """/run's tasks that start with, then contain, what was typed."""
    typed = normalize_task(prefix)
    names = (*TASKS, *HANDED_OVER)
    first = [t for t in names if t.startswith(typed)]
    return first + [t for t in names if typed in t and t not in first]


COMMAND = Command(
    name="run",
    exploration=True,
    durable=True,
    handler=run,
    options=(
        Option(
            "input",
            str,
            "Your text (question-answering: the question); left out, a form asks for it",
            rest=True,
            max_length=MAX_INPUT_CHARS,
        ),
        Option(
            "model",
            str,
            "A Hub model id; its task decides what runs",
            max_length=MAX_REPO_ID,
            repo="model",
        ),
        Option(
            "task",
            str,
            "Use the class's model for this task",
            max_length=MAX_NAME,
            phrase=names_a_task,
            # Not `choices`: a task typed in a student's words ("sentiment") gets the
            # guess /search makes (check_task), not the router's list of all of them.
            complete=_complete_task,
        ),
        Option(
            "file",
            Attachment,
            "audio or image tasks: the clip (≤ 30 s) or image to run the model on",
            max_length=MAX_REFERENCE,
        ),
        Option(
            "compare",
            str,
            "Up to 2 more model ids (comma-separated) to run side by side",
            max_length=3 * MAX_REPO_ID,
            separator=",",
            repo="model",
        ),
        Option(
            "context",
            str,
            "question-answering: the text that holds the answer",
            max_length=MAX_INPUT_CHARS,
            to_line_end=True,
        ),
        Option(
            "labels",
            str,
            "zero-shot-classification: labels, comma-separated",
            max_length=500,
            separator=",",
        ),
        Option(
            "sentences",
            str,
            "sentence-similarity: sentences to compare with yours, separated by |",
            max_length=MAX_INPUT_CHARS,
            to_line_end=True,
        ),
        Option("source", str, "translation: the source language (en, fr, de…)", max_length=10),
        Option("target", str, "translation: the target language", max_length=10),
        Option(
            "max_new_tokens",
            int,
            "summarization, translation, text2text (60), text-generation: tokens to write",
            min_value=1,
            max_value=256,
        ),
    ),
    examples=(
        *tuple(t.example for t in TEXT_TASKS.values())[:4],
        MEDIA_TASKS["automatic-speech-recognition"].example,
        MEDIA_TASKS["object-detection"].example,
        '/run model:distilbert/distilbert-base-uncased-finetuned-sst-2-english "Great!" '
        "compare:cardiffnlp/twitter-roberta-base-sentiment-latest",
    ),
)
