"""The "run" job kind: one task on one to three models (/run): a text task (classification,
NER, fill-mask, QA, summarization, translation, text2text, zero-shot, sentence similarity)
or an audio or image task on an attached file (speech recognition, audio and image
classification, object detection, image to text).

One kind for every task: the params carry the task, and every task's result is one shape
(scored labels, marked spans, text, or boxes), so the engine, the batching, /jobs and usage
treat them alike, and a hosted backend can produce the same result. The attached file
travels in the params as base64: bounded to about 1 MB for a clip and a few MB for an image
by bot/inference/tasks/media.py, so it needs no store of its own and reaches any worker (a
local subprocess or an RQ worker on another machine) the way every job's params do. The
worker side is `bot.jobs.run_task:run_text_task`; the hosted one
`bot.jobs.hosted.tasks:run_task`.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from bot.charts import ComparedModel, compare_chart
from bot.inference.guard import ApprovedModel, format_params
from bot.inference.tasks import SEQ2SEQ_TASKS, TASKS
from bot.inference.tasks.languages import direction_shown
from bot.inference.tasks.vetting import TaskModel
from bot.jobs.kinds.base import JobKind, UsageRun, chart_button
from bot.jobs.protocol import JobView
from bot.replies import Card, Field, Image, Reply, clip, meter

TEXT_PART = 1500
COLUMN_PART = 700
LABEL_PART = 60


@dataclass(frozen=True)
class TaskInput:
    """What the student typed, per task: `text` always; the rest where the task uses it."""

    text: str
    context: str = ""  # question-answering
    labels: tuple[str, ...] = ()  # zero-shot-classification
    sentences: tuple[str, ...] = ()  # sentence-similarity: compared with `text`
    source: str = ""  # translation, for a model that knows several languages
    target: str = ""
    max_new_tokens: int = 60  # the seq2seq tasks
    # The audio and image tasks: the attached file's name, and its bytes in base64 as
    # bot/inference/tasks/media.py prepared them.
    file: str = ""
    data: str = ""
    seconds: float = 0.0  # a clip's length

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def shown(self) -> str:
        """What the reply quotes as the input: the text, or the file's name."""
        if not self.file:
            return self.text
        length = f", {self.seconds:.1f} s" if self.seconds else ""
        return f"{self.file}{length}" + (f" · {self.text}" if self.text else "")

    def file_bytes(self) -> bytes:
        return base64.b64decode(self.data) if self.data else b""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            text=str(data.get("text", "")),
            context=str(data.get("context", "")),
            labels=tuple(str(x) for x in data.get("labels") or ()),
            sentences=tuple(str(x) for x in data.get("sentences") or ()),
            source=str(data.get("source", "")),
            target=str(data.get("target", "")),
            max_new_tokens=int(data.get("max_new_tokens") or 60),
            file=str(data.get("file", "")),
            data=str(data.get("data", "")),
            seconds=float(data.get("seconds") or 0.0),
        )


@dataclass(frozen=True)
class RunParams:
    task: str
    input: TaskInput
    models: tuple[TaskModel, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "input": self.input.to_json(),
            "models": [m.to_json() for m in self.models],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            task=str(data["task"]),
            input=TaskInput.from_json(data.get("input") or {}),
            models=tuple(TaskModel.from_json(dict(m)) for m in data.get("models") or ()),
        )


@dataclass(frozen=True)
class Scored:
    label: str
    score: float


@dataclass(frozen=True)
class Span:
    """Characters [start, end) of the text (or of the QA context), with a label and score."""

    start: int
    end: int
    label: str
    score: float


@dataclass(frozen=True)
class Box:
    """An object found in the image: its label, score and corners in the image's pixels."""

    label: str
    score: float
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class TaskOutput:
    """One model's answer. Which parts are filled depends on the task: `scores` (labels,
    fills, similarities), `spans` (entities, the answer), or `text` (seq2seq)."""

    model: ApprovedModel
    model_params: int
    seconds: float
    license: str | None = None
    scores: tuple[Scored, ...] = ()
    spans: tuple[Span, ...] = ()
    text: str = ""
    truncated: bool = False  # the input was cut to the model's length
    batch_rows: int = 1
    boxes: tuple[Box, ...] = ()  # object-detection

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["model"] = self.model.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            model=ApprovedModel.from_json(dict(data["model"])),
            model_params=int(data.get("model_params") or 0),
            seconds=float(data.get("seconds") or 0.0),
            license=data.get("license") or None,
            scores=tuple(
                Scored(str(s["label"]), float(s["score"])) for s in data.get("scores", ())
            ),
            spans=tuple(
                Span(int(s["start"]), int(s["end"]), str(s["label"]), float(s["score"]))
                for s in data.get("spans", ())
            ),
            text=str(data.get("text", "")),
            truncated=bool(data.get("truncated", False)),
            batch_rows=int(data.get("batch_rows") or 1),
            boxes=tuple(
                Box(
                    str(b["label"]),
                    float(b["score"]),
                    *(float(b[k]) for k in ("x0", "y0", "x1", "y1")),
                )
                for b in data.get("boxes", ())
            ),
        )


@dataclass(frozen=True)
class RunResult:
    outputs: tuple[TaskOutput, ...]
    # object-detection: the image with each model's boxes drawn (PNG, base64), drawn by the
    # worker (or, hosted, in a thread) so the bot's event loop never decodes or draws an image.
    picture: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"outputs": [o.to_json() for o in self.outputs], "picture": self.picture}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            outputs=tuple(TaskOutput.from_json(o) for o in data.get("outputs", ())),
            picture=str(data.get("picture") or ""),
        )


# -- the reply -----------------------------------------------------------------------------


def _bars(scores: tuple[Scored, ...], percent: bool = True) -> str:
    """One line per label: the label (a compared sentence is cut short), a bar, the score."""
    labels = [clip(s.label, LABEL_PART) for s in scores]
    width = max(map(len, labels), default=0)
    lines = []
    for label, s in zip(labels, scores, strict=True):
        shown = f"{s.score:.0%}" if percent else f"{s.score:+.2f}"
        lines.append(f"{label.ljust(width)}  {meter(max(0.0, s.score))} {shown}")
    return "\n".join(lines) or "(no labels)"


def marked(text: str, spans: tuple[Span, ...], show_label: bool = True) -> str:
    """The text with each span in [brackets] and its label (or the answer in **bold**)."""
    parts, at = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < at:
            continue
        parts.append(text[at : span.start])
        piece = text[span.start : span.end]
        parts.append(f"[{piece}]({span.label} {span.score:.0%})" if show_label else f"**{piece}**")
        at = span.end
    parts.append(text[at:])
    return "".join(parts)


def _filled(run: RunParams, out: TaskOutput) -> str:
    """The text with the model's first choice in place of its mask token, then the fills."""
    mask = next((m.mask_token for m in run.models if m.model.id == out.model.id), None)
    if not mask or not out.scores or mask not in run.input.text:
        return _bars(out.scores)
    best = run.input.text.replace(mask, f"**{out.scores[0].label}**", 1)
    return f"{best}\nfills for {mask}:\n{_bars(out.scores)}"


def _found(out: TaskOutput) -> str:
    """object-detection: one line per box, as the Hub widget lists them."""
    if not out.boxes:
        return "(no objects found above 50%)"
    return _bars(tuple(Scored(b.label, b.score) for b in out.boxes))


def body(run: RunParams, out: TaskOutput, limit: int) -> str:
    """One model's answer as chat text."""
    task, params = run.task, run.input
    if task in (
        "text-classification",
        "zero-shot-classification",
        "audio-classification",
        "image-classification",
    ):
        text = _bars(out.scores)
    elif task == "object-detection":
        text = _found(out)
    elif task == "fill-mask":
        text = _filled(run, out)
    elif task == "sentence-similarity":
        text = "cosine similarity with your sentence:\n" + _bars(out.scores, percent=False)
    elif task == "token-classification":
        found = marked(params.text, out.spans) if out.spans else "(no entities found)"
        text = clip(found, limit)
    elif task == "question-answering":
        if out.spans:
            span = out.spans[0]
            answer = params.context[span.start : span.end]
            text = (
                f"Answer: {answer} (score {span.score:.0%})\n"
                f"{clip(marked(params.context, out.spans, show_label=False), limit)}"
            )
        else:
            text = "(no answer found in the context)"
    elif task == "translation":
        # Which way it went, as the bot chose it when the student did not say (en → de).
        known = next(m.languages for m in run.models if m.model.id == out.model.id)
        way = direction_shown(known, params.source, params.target)
        text = (f"({way}) " if way else "") + (clip(out.text, limit) or "(no text)")
    else:
        text = clip(out.text, limit) or "(no text)"
    note = "\n(the input was cut to the model's length)" if out.truncated else ""
    return clip(text, limit - len(note)) + note


def _time(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _about(out: TaskOutput) -> str:
    # A hosted model's size is what the Hub lists, and some list none.
    size = f"{format_params(out.model_params)} parameters" if out.model_params else "size unknown"
    return f"{size} · license {out.license or 'not stated'} · {_time(out.seconds)}"


def _task_title(task: str) -> str:
    spec = TASKS.get(task)
    return spec.title if spec is not None else task


def render(job: JobView, params: RunParams, result: RunResult) -> Reply:
    """The finished job: one model's answer, or one column per model (compare:)."""
    title = _task_title(params.task)
    outputs = result.outputs
    if result.picture:
        return _picture(job, params, result, title)
    asked = Field(name="Input", value=clip(params.input.shown, 300), inline=False)
    if len(outputs) == 1:
        out = outputs[0]
        return Card(
            title=f"{title} · {out.model.short_name}",
            description=body(params, out, TEXT_PART),
            fields=(asked,),
            footer=f"{_about(out)} · job {job.id}",
        )
    columns = tuple(
        Field(
            name=out.model.short_name,
            value=f"{body(params, out, COLUMN_PART)}\n{_about(out)}",
            inline=True,
        )
        for out in outputs
    )
    return Card(
        title=f"{title}: " + " vs ".join(o.model.short_name for o in outputs),
        description=f"Input: {clip(params.input.shown, 300)}",
        fields=columns,
        footer=f"same input on {len(outputs)} models · job {job.id}",
        buttons=(chart_button(job.id),),
    )


async def chart(job: JobView, params: RunParams, result: RunResult) -> list[Reply]:
    """A comparison as a picture: each model's size and time on the same input."""
    if len(result.outputs) < 2:
        return []
    title = f"{_task_title(params.task)} · job {job.id}"
    compared = [ComparedModel(o.model.id, o.model_params, o.seconds) for o in result.outputs]
    return [await compare_chart(title, compared)]


def _picture(job: JobView, params: RunParams, result: RunResult, title: str) -> Reply:
    """object-detection: the image with its boxes (one panel per model, left to right) and,
    under it, each model's list of labels with scores, size, license and time."""
    names = " vs ".join(o.model.short_name for o in result.outputs)
    parts = [f"{title} · {names} · {clip(params.input.shown, 100)}"]
    for out in result.outputs:
        parts.append(f"{out.model.short_name} ({_about(out)}):\n{body(params, out, COLUMN_PART)}")
    parts.append(f"job {job.id}")
    stem = (params.input.file.rsplit(".", 1)[0] or "image")[:40]
    return Image(
        filename=f"{stem}-boxes.png",
        data=base64.b64decode(result.picture),
        alt=f"{params.input.file} with the objects {names} found",
        caption=clip("\n".join(parts), 1800),
    )


def usage(result: RunResult) -> list[UsageRun]:
    return [UsageRun(o.model.id, o.model_params, "run") for o in result.outputs]


# Tasks whose models write their answer a token at a time (Whisper and captioning models
# too; a CTC speech model does not, but the task alone does not tell them apart).
_WRITING_TASKS = SEQ2SEQ_TASKS | {"automatic-speech-recognition", "image-to-text"}


def cost(params: RunParams) -> float:
    """About how many model steps the job takes: a step per token for a task that writes,
    one forward pass otherwise, for each model compared. A job of one step starts before
    its command's first reply is out (bot/jobs/engine.py: _start_early)."""
    steps = params.input.max_new_tokens if params.task in _WRITING_TASKS else 1
    return float(steps * len(params.models))


def summary(params: RunParams) -> str:
    return f"{params.task}: {clip(params.input.shown, 40)} ({params.models[0].model.short_name})"


RUN: JobKind[RunParams, RunResult] = JobKind(
    name="run",
    params_type=RunParams,
    result_type=RunResult,
    runner="bot.jobs.run_task:run_text_task",
    hosted="bot.jobs.hosted.tasks:run_task",
    render=render,
    usage=usage,
    chart=chart,
    batch_key=lambda p: f"run:{p.task}:" + "|".join(sorted(m.model.id for m in p.models)),
    cost=cost,
    summary=summary,
    start_at_once=True,  # one forward pass: the dispatcher's claim would show
)
