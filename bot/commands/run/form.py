"""/run's form: what the Run button of a model page opens (`/run model:<id>` with no text).

The form asks for the input and the task's own field (QA's context, zero-shot's labels,
sentence-similarity's sentences, a multilingual translator's languages), or, for the audio
and image tasks, for the file; submitting it runs `/run model:<id>` with the fields as
options, like a typed command. Where forms do not exist (the console) the reply says what to
type instead.
"""

from __future__ import annotations

from bot.attachments import megabytes
from bot.commandline import quote
from bot.commands.run.inputs import MAX_INPUT_CHARS
from bot.inference.tasks import TASKS, TEXT_TASKS, Media, media_of
from bot.inference.tasks.media import MAX_AUDIO_SECONDS, MAX_BYTES, MAX_IMAGE_SIDE
from bot.inference.tasks.vetting import TaskModel
from bot.replies import Modal, ModalField

MAX_TITLE = 45  # Discord's modal title
LANGUAGE_CHARS = 10  # the source:/target: options' own limit


def _extra_fields(found: TaskModel, given: dict[str, str]) -> tuple[ModalField, ...]:
    task = found.task
    if task == "question-answering":
        return (
            ModalField(
                name="context",
                label="Context: the text that holds the answer",
                multiline=True,
                max_length=MAX_INPUT_CHARS,
                placeholder="Ada lives in Paris with her cat.",
                default=given.get("context", ""),
            ),
        )
    if task == "zero-shot-classification":
        return (
            ModalField(
                name="labels",
                label="Labels to choose from, comma-separated",
                max_length=500,
                placeholder="sport,politics,cooking",
                default=given.get("labels", ""),
            ),
        )
    if task == "sentence-similarity":
        return (
            ModalField(
                name="sentences",
                label="Other sentences, separated by |",
                multiline=True,
                max_length=MAX_INPUT_CHARS,
                placeholder="A cat is sitting|Dogs bark",
                default=given.get("sentences", ""),
            ),
        )
    known = found.languages
    if task == "translation" and known and known.pair is None:
        # A single-pair model has nothing to choose: no language fields.
        shown = known.shown()
        return tuple(
            ModalField(
                name=name,
                label=f"{name.capitalize()} language",
                max_length=LANGUAGE_CHARS,
                placeholder=f"one of: {shown}"[:100],
                required=name == "target" and bool(known.tokens),
                default=given.get(name, ""),
            )
            for name in ("source", "target")
        )
    return ()


def _example(found: TaskModel) -> str:
    extras = {
        "question-answering": ' context:"…"',
        "zero-shot-classification": " labels:a,b,c",
        "sentence-similarity": ' sentences:"…|…"',
    }
    if found.task == "translation" and found.languages and found.languages.pair is None:
        return " source:… target:…"
    return extras.get(found.task, "")


def _title(found: TaskModel) -> str:
    title = f"Run {found.model.short_name}"
    return title if len(title) <= MAX_TITLE else "Run " + TASKS[found.task].title


def upload_form(found: TaskModel, kind: Media, action: str) -> Modal:
    """The form of an audio or image task: the file to run `found` on."""
    what = "clip" if kind == "audio" else "image"
    size = f"{MAX_AUDIO_SECONDS:.0f} s" if kind == "audio" else f"{MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE}"
    limit = f"at most {size} and {megabytes(MAX_BYTES[kind])}"
    field = ModalField(name="file", label=f"Your {what} ({limit})", upload=True)
    example = TASKS[found.task].example.rsplit("file:", 1)[-1]
    return Modal(
        title=_title(found)[:MAX_TITLE],
        fields=(field,),
        submit_action=action,
        fallback=f"Attach your {what} to the command: {action} file:{example}",
        private=True,
    )


def run_form(found: TaskModel, action: str, given: dict[str, str]) -> Modal:
    """The form for `found`'s task; `action` is the command line it submits (the model and
    what else was typed), `given` the task options typed already (they fill the fields)."""
    kind = media_of(found.task)
    if kind is not None:
        return upload_form(found, kind, action)
    title = _title(found)
    question = found.task == "question-answering"
    mask = found.mask_token
    placeholder = {
        "question-answering": "Where does Ada live?",
        "fill-mask": f"Paris is the {mask} of France." if mask else "",
    }.get(found.task, "")
    text = ModalField(
        name="input",
        label="Your question" if question else f"Your text ({TEXT_TASKS[found.task].title})",
        multiline=True,
        max_length=MAX_INPUT_CHARS,
        placeholder=placeholder,
    )
    what = "your question" if question else "your text"
    return Modal(
        title=title[:MAX_TITLE],
        fields=(text, *_extra_fields(found, given)),
        submit_action=action,
        fallback=f"Type {what} after the command: {action} <{what}>{_example(found)}",
        private=True,
    )


def form_action(model: str | None, task: str | None, compare: str | None) -> str:
    """The command line a form submits: what selected the model(s), the fields added."""
    parts = ["/run"]
    parts += [f"model:{quote(model)}"] if model else []
    parts += [f"task:{task}"] if task else []
    parts += [f"compare:{quote(compare)}"] if compare else []
    return " ".join(parts)
