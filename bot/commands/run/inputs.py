"""What /run checks in a student's input before anything is queued: each task's own inputs
(QA's context, zero-shot's labels, the fill-mask token, an attached clip or image), with a
reply that says what to type."""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import replace

from bot.attachments import Attachment
from bot.commandline import quote, typed_text
from bot.errors import UsageError
from bot.inference.tasks import TASKS, Media
from bot.inference.tasks.languages import check as check_languages
from bot.inference.tasks.media import MAX_BYTES, prepare
from bot.inference.tasks.vetting import TaskModel
from bot.jobs.kinds.run import TaskInput
from bot.replies import Error

MAX_INPUT_CHARS = 2000
MAX_MODELS = 3
MAX_LABELS = 10
MAX_SENTENCES = 10

# What each task takes besides its input (its text, or file: for the audio and image tasks):
# the one table of which /run option belongs to which task, so an option typed for another
# task is refused before anything runs instead of being dropped without a word. The
# hand-overs take what /generate and /imagine take from /run.
_EVERY = ("compare",)
TASK_OPTIONS: dict[str, tuple[str, ...]] = {
    **{task: _EVERY for task in TASKS},
    "question-answering": (*_EVERY, "context"),
    "zero-shot-classification": (*_EVERY, "labels"),
    "sentence-similarity": (*_EVERY, "sentences"),
    "summarization": (*_EVERY, "max_new_tokens"),
    "text2text-generation": (*_EVERY, "max_new_tokens"),
    "translation": (*_EVERY, "source", "target", "max_new_tokens"),
    "text-generation": (*_EVERY, "max_new_tokens"),  # /generate
    "text-to-image": (),  # /imagine: one model's picture
}
# An example line for each hand-over, beside the tasks' own (bot/inference/tasks).
_HANDED_OVER_EXAMPLES = {
    "text-generation": "/run task:text-generation Once upon a time",
    "text-to-image": "/run task:text-to-image a red fox in the snow",
}


def example_for(task: str, model: str | None = None) -> str:
    """The task's example line; for the model the student named, when they named one."""
    example = TASKS[task].example if task in TASKS else _HANDED_OVER_EXAMPLES[task]
    return example.replace(f"task:{task}", f"model:{quote(model)}") if model else example


def foreign_option(task: str, given: dict[str, object], model: str | None) -> Error | None:
    """A refusal for the first option in `given` (name → value, None when not typed) that
    `task` does not use; None when all of them are its own."""
    takes = TASK_OPTIONS[task]
    for name, value in given.items():
        if value is None or name in takes or (isinstance(value, str) and not value.strip()):
            continue
        users = [t for t, names in TASK_OPTIONS.items() if name in names]
        what = (
            f"{name}: is for {_and_list(users)}; {task} does not use it."
            if len(users) <= 4
            else f"{task} does not use {name}:."
        )
        todo = f"Leave {name}: out, e.g. {example_for(task, model)}"
        if len(users) == 1:
            todo += f". For {users[0]}: {example_for(users[0])}"
        return Error(what=what, todo=todo)
    return None


def _and_list(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return " and ".join(filter(None, (", ".join(words[:-1]), words[-1])))


_QUOTES = "\"'“”‘’«»"


def split_list(text: str, sep: str = ",") -> list[str]:
    """The items, each without the quotes typed around it (labels:'sport','politics', as
    in Python): the quotes are not part of a label."""
    parts = (part.strip() for part in text.split(sep))
    return [
        part[1:-1].strip() if len(part) > 1 and part[0] in _QUOTES and part[-1] in _QUOTES else part
        for part in parts
        if part.strip(_QUOTES + " ")
    ]


def _missing(text: str, example: str, todo: str) -> str:
    """What to do about a missing option: `todo`, or, where the text has the option with a
    space after the colon (read as prose, like `Answer: Paris`), to take that space out."""
    option = example.split(":", 1)[0]
    if re.search(rf"(?:^|\s){option}:\s", text, flags=re.IGNORECASE):
        return f"Write {example} with no space after the colon."
    return todo


# A context typed first runs to the line's end and takes the question with it:
# "context:Ada lives in Paris. Where does Ada live?".
_TRAILING_QUESTION = re.compile(r"^(?P<context>.*[.!…;:])\s+(?P<question>[^.!?…]+\?)\s*$", re.S)


def question_after(context: str) -> tuple[str, str] | None:
    """The question a student typed after the context, and the context without it; None
    when the context does not end in a question of its own."""
    found = _TRAILING_QUESTION.match(context.strip())
    if found is None:
        return None
    return found["question"].strip(), found["context"].strip()


def _distinct(parts: list[str]) -> tuple[str, ...]:
    """Each once, in the order given, the first spelling kept: zero-shot scores its labels
    against each other, so a label typed twice ("sport, Sport") would split its share."""
    first: dict[str, str] = {}
    for part in parts:
        first.setdefault(part.casefold(), part)
    return tuple(first.values())


# How the mask token is written by BERT-like and RoBERTa-like models.
_MASK_SPELLINGS = ("[MASK]", "<mask>")


def _bad(what: str, todo: str) -> UsageError:
    return UsageError(Error(what=what, todo=todo))


def build_input(
    main: TaskModel,
    models: list[TaskModel],
    *,
    text: str,
    context: str | None,
    labels: str | None,
    sentences: str | None,
    source: str | None,
    target: str | None,
    max_new_tokens: int | None,
) -> TaskInput:
    """The job's input, or a UsageError saying what is missing."""
    task = main.task
    text = typed_text(text)
    if not text:
        raise _bad("/run needs some text to run the model on.", "Type it after the options.")
    if task == "fill-mask":
        for found in models:
            mask = found.mask_token
            other = next((m for m in _MASK_SPELLINGS if m != mask and m in text), None)
            if mask and mask not in text and other is not None:
                # [MASK] and <mask> both appear in /help run: the other model's spelling.
                raise _bad(
                    f"{found.model.short_name}'s mask token is {mask}, not {other}.",
                    f'Write it as this model does: "{text.replace(other, mask, 1)}"',
                )
            if mask and text.count(mask) != 1:
                raise _bad(
                    f"{found.model.short_name} fills the mask token {mask}, and your text "
                    f"has it {text.count(mask)} times.",
                    f"Put {mask} once where the missing word goes, e.g. "
                    f'"Paris is the {mask} of France."',
                )
    if task == "question-answering" and not (context or "").strip():
        raise _bad(
            "question-answering needs a context: the text the answer is found in.",
            _missing(
                text,
                "context:Ada lives in Paris.",
                "Add context: with that text (after your question, which is the input).",
            ),
        )
    found_labels = _distinct(split_list(labels or ""))
    if task == "zero-shot-classification" and len(found_labels) < 2:
        raise _bad(
            "zero-shot-classification needs at least two different labels to choose from.",
            _missing(
                text,
                "labels:sport,politics",
                "Add labels:sport,politics,cooking (comma-separated).",
            ),
        )
    if len(found_labels) > MAX_LABELS:
        raise _bad(f"{len(found_labels)} labels is too many.", f"Give at most {MAX_LABELS}.")
    found_sentences = tuple(split_list(sentences or "", "|"))
    if task == "sentence-similarity" and not found_sentences:
        raise _bad(
            "sentence-similarity compares your sentence with others, and none were given.",
            _missing(
                text,
                "sentences:A cat sits.|Dogs bark.",
                "Add sentences:A cat sits.|Dogs bark. (separated by |, after your sentence).",
            ),
        )
    if len(found_sentences) > MAX_SENTENCES:
        raise _bad(
            f"{len(found_sentences)} sentences is too many.", f"Give at most {MAX_SENTENCES}."
        )
    source, target = (source or "").strip().lower(), (target or "").strip().lower()
    if task == "translation":
        for found in models:
            problem = check_languages(found.languages, source, target)
            if problem:
                raise _bad(
                    f"{found.model.short_name} {problem}.",
                    _language_todo(found),
                )
    typed = TaskInput(
        text=text,
        context=(context or "").strip(),
        labels=found_labels,
        sentences=found_sentences,
        source=source,
        target=target,
    )
    # Left out, the job's own default length.
    return typed if max_new_tokens is None else replace(typed, max_new_tokens=max_new_tokens)


def _language_todo(found: TaskModel) -> str:
    known = found.languages
    if known.pair is not None:
        return (
            f"Leave source: and target: out, or give source:{known.pair[0]} "
            f"target:{known.pair[1]}; /search task:translation finds models for other pairs."
        )
    return f"Use codes it knows, e.g. source:en target:{_example_target(found)}."


def _example_target(found: TaskModel) -> str:
    codes = [c for c in found.languages.known() if not c.lower().startswith("en")]
    return codes[0] if codes else "fr"


async def media_input(kind: Media, task: str, file: Attachment, text: str) -> TaskInput:
    """The job's input for an audio or image task: the file read (never past the limit) and
    checked off the event loop; the typed text, if any, is kept as a note."""
    data = await file.read(MAX_BYTES[kind])
    ready = await asyncio.to_thread(prepare, kind, task, file.name, data)
    note = text.strip()
    return TaskInput(
        text=note[:MAX_INPUT_CHARS],
        file=file.name[:200],
        data=base64.b64encode(ready.data).decode("ascii"),
        seconds=ready.seconds,
    )
