"""The worker side of /run: the jobs of one batch, one batched call per model.

The kind's batch key (task + models) means every job of a batch runs the same task on the
same models, so each model loads once (the worker's LRU, bot/inference/manager.py) and
runs every job's input in one padded forward pass. When that call fails, the batch's jobs run
one at a time, so that one input the model cannot take fails its own job alone. Imported
inside worker processes only.
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING

import torch

from bot.inference.manager import ModelUnavailable
from bot.inference.tasks import media_of
from bot.inference.tasks.boxes import draw_boxes, open_image
from bot.inference.tasks.media_runners import MediaRunner
from bot.inference.tasks.runners import Answer, Row, TaskRunner
from bot.inference.tasks.vetting import TaskModel
from bot.jobs.kinds.run import Box, RunParams, RunResult, Scored, Span, TaskInput, TaskOutput

if TYPE_CHECKING:
    from bot.jobs.tasks import Runtime, WorkerJob

log = logging.getLogger(__name__)
Runner = TaskRunner | MediaRunner


def _row(data: TaskInput) -> Row:
    return Row(
        text=data.text,
        context=data.context,
        labels=data.labels,
        sentences=data.sentences,
        source=data.source,
        target=data.target,
        max_new_tokens=data.max_new_tokens,
        data=data.file_bytes(),
    )


def load_task_model(
    rt: Runtime, spec: dict[str, object], task: str, jobs: list[WorkerJob]
) -> Runner:
    """The loaded model (from the LRU, or fetched and loaded with progress in chat)."""

    def report(label: str, fraction: float | None) -> None:
        for job in jobs:
            step = int(100 * fraction) if fraction is not None else 0
            rt.progress(job.id, step, 100 if fraction is not None else 0, label, force=True)

    key = f"task:{task}:{spec['id']}@{spec.get('rev') or ''}"

    def load() -> Runner:
        path = rt.models.fetch(dict(spec), report)
        report("loading the model", None)
        kind = MediaRunner if media_of(task) else TaskRunner
        try:
            return kind.load(path, task, device=str(rt.models.device))
        except (OSError, ValueError) as error:
            raise ModelUnavailable(f"{spec['id']} could not be loaded: {error}") from None

    estimate = int(str(spec.get("params") or 0)) * rt.models.bytes_per_param()
    model: Runner = rt.models.get(key, estimate, load)
    return model


# What a model's call raises on an input it cannot take: a preprocessor's ValueError (an
# image shape its resize cannot handle), torch's RuntimeError (a clip shorter than the first
# convolution's kernel), a decoder's OSError.
_INPUT_ERRORS = (OSError, ValueError, RuntimeError, IndexError)
# Photos and screenshots are at most about 2.2:1 (a phone's 20:9 screen). Longer than this, a
# detector's resize can leave the short side too thin to run (YOLOS's does).
_ODD_SHAPE = 3.0

Failure = tuple[str, str]  # what went wrong, what to do about it


def run_text_task(rt: Runtime, jobs: list[WorkerJob]) -> None:
    params = {job.id: RunParams.from_json(job.params) for job in jobs}
    first = params[jobs[0].id]
    # The batch key sorts the model ids, so jobs that name the same models in any order run
    # together: the models run in the first job's order, and each answer is filed under its
    # model's id and shown in each job's own order.
    outputs: dict[int, dict[str, TaskOutput]] = {job.id: {} for job in jobs}
    failed: dict[int, Failure] = {}
    for index, wanted in enumerate(first.models):
        live = [j for j in jobs if j.id not in failed and j.id not in rt.cancelled]
        if not live:
            break
        try:
            model = load_task_model(rt, wanted.model.to_json(), first.task, live)
        except ModelUnavailable as error:
            for job in live:
                failed[job.id] = (str(error), "")
            continue
        if index:  # compare: a step per model after the first (one model needs none)
            for job in live:
                rt.progress(job.id, index, len(first.models), f"running {model.short_name}")
        for job, answer, rows in _answered(model, first.task, live, params):
            if answer.error:
                failed[job.id] = (answer.error, answer.todo)
            else:
                mine = _named(params[job.id], wanted.model.id)
                outputs[job.id][mine.model.id] = _output(mine, model, answer, rows)
    for job in jobs:
        _report(rt, job.id, params[job.id], failed.get(job.id), outputs[job.id])


def _named(run: RunParams, model_id: str) -> TaskModel:
    """The job's own entry for the model (the batch key gives every job the same ids)."""
    return next(m for m in run.models if m.model.id == model_id)


def _report(
    rt: Runtime,
    job_id: int,
    run: RunParams,
    failure: Failure | None,
    found: dict[str, TaskOutput],
) -> None:
    if failure is not None:
        what, todo = failure
        rt.result(job_id, "failed", error=what, todo=todo)
        return
    outputs = [found[m.model.id] for m in run.models if m.model.id in found]
    if job_id in rt.cancelled:
        rt.result(job_id, "cancelled", result=RunResult(tuple(outputs)))
    else:
        result = RunResult(tuple(outputs), _picture(run, outputs))
        rt.result(job_id, "succeeded", result=result)


def _answered(
    model: Runner, task: str, live: list[WorkerJob], params: dict[int, RunParams]
) -> list[tuple[WorkerJob, Answer, int]]:
    """Each job's answer from `model`, with the rows of the call that gave it: the batch in
    one call or, when that call fails, each job alone, so that only the jobs whose input
    the model cannot take fail."""
    inputs = [params[job.id].input for job in live]
    if len(live) > 1:
        try:
            answers = _call(model, inputs)
        except _CannotRun as error:
            log.warning(
                "run jobs %s on %s: %s; each alone", [j.id for j in live], model.name, error
            )
        else:
            return [(job, answer, len(live)) for job, answer in zip(live, answers, strict=True)]
    return [
        (job, _alone(model, task, job.id, data), 1) for job, data in zip(live, inputs, strict=True)
    ]


class _CannotRun(Exception):
    """The model's call failed on its inputs (the library's exception is the cause)."""


def _call(model: Runner, inputs: list[TaskInput]) -> list[Answer]:
    try:
        return model.run([_row(data) for data in inputs])
    except torch.OutOfMemoryError:
        raise  # no input's fault: run_batch frees the models for it
    except _INPUT_ERRORS as error:
        raise _CannotRun(str(error)) from error


def _alone(model: Runner, task: str, job_id: int, data: TaskInput) -> Answer:
    try:
        (answer,) = _call(model, [data])
    except _CannotRun as error:
        # The library's words go to the log; the student's reply says what to do instead.
        log.warning("job %s: %s cannot run on its input: %r", job_id, model.name, error.__cause__)
        what, todo = _cannot_run(model.short_name, task, data)
        return Answer(error=what, todo=todo)
    return answer


def _cannot_run(model_name: str, task: str, data: TaskInput) -> Failure:
    kind = media_of(task)
    if kind == "image":
        return _cannot_run_image(model_name, data)
    if kind == "audio":
        return (
            f"{model_name} could not run on {data.shown}.",
            "Attach another clip: a few seconds of speech or sound.",
        )
    return (f"{model_name} could not run on this text.", "Try another text or another model.")


def _cannot_run_image(model_name: str, data: TaskInput) -> Failure:
    width, height = open_image(data.file_bytes()).size  # as the model saw it (upright)
    ratio = max(width, height) / min(width, height)
    if ratio <= _ODD_SHAPE:
        return (
            f"{model_name} could not run on {data.file}.",
            "Attach another image (a screenshot or a phone photo).",
        )
    # Its shape, not its pixels: the bot may have shrunk the image the student sent.
    shape = "tall as it is wide" if height > width else "wide as it is tall"
    return (
        f"{data.file} is {ratio:.0f} times as {shape}: too narrow a shape for {model_name}.",
        f"Crop it to at most {_ODD_SHAPE:.0f}:1 (a photo's shape), or attach another image.",
    )


def _picture(run: RunParams, outputs: list[TaskOutput]) -> str:
    """object-detection: the image with each model's boxes (base64 PNG); "" otherwise."""
    if run.task != "object-detection" or not outputs:
        return ""
    panels = [
        (o.model.short_name, [(b.label, b.score, b.x0, b.y0, b.x1, b.y1) for b in o.boxes])
        for o in outputs
    ]
    return base64.b64encode(draw_boxes(run.input.file_bytes(), panels)).decode("ascii")


def _output(wanted: TaskModel, model: Runner, answer: Answer, rows: int) -> TaskOutput:
    return TaskOutput(
        model=wanted.model,
        model_params=model.num_parameters,
        seconds=round(answer.seconds, 4),
        license=wanted.license,
        scores=tuple(Scored(label, round(score, 4)) for label, score in answer.scores),
        spans=tuple(Span(lo, hi, label, round(score, 4)) for lo, hi, label, score in answer.spans),
        text=answer.text,
        truncated=answer.truncated,
        batch_rows=rows,
        boxes=tuple(
            Box(label, round(score, 4), *(round(v, 1) for v in corners))
            for label, score, *corners in answer.boxes
        ),
    )
