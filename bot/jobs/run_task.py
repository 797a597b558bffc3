"""The worker side of /run: the jobs of one batch, one batched call per model.

The kind's batch key (task + models) means every job of a batch runs the same task on the
same models, so each model loads once (the worker's LRU, bot/inference/manager.py) and
runs every job's input in one padded forward pass. Imported inside worker processes only.
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING

from bot.inference.manager import ModelUnavailable
from bot.inference.tasks import media_of
from bot.inference.tasks.boxes import draw_boxes
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


def run_text_task(rt: Runtime, jobs: list[WorkerJob]) -> None:
    params = {job.id: RunParams.from_json(job.params) for job in jobs}
    first = params[jobs[0].id]
    outputs: dict[int, list[TaskOutput]] = {job.id: [] for job in jobs}
    failed: dict[int, tuple[str, str]] = {}  # job: what went wrong, what to do about it
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
        try:
            answers = model.run([_row(params[j.id].input) for j in live])
        except (OSError, ValueError) as error:
            # A file the bot's checks passed that this model's preprocessor still refuses.
            log.warning("run jobs %s on %s: %s", [j.id for j in live], model.short_name, error)
            for job in live:
                failed[job.id] = (
                    f"{model.short_name} could not read the file: {error}",
                    "Attach another file (a screenshot, a phone photo or a short clip).",
                )
            continue
        for job, answer in zip(live, answers, strict=True):
            if answer.error:
                failed[job.id] = (answer.error, answer.todo)
                continue
            mine = params[job.id].models[index]
            outputs[job.id].append(_output(mine, model, answer, len(live)))
    for job in jobs:
        if job.id in failed:
            what, todo = failed[job.id]
            rt.result(job.id, "failed", error=what, todo=todo)
        elif job.id in rt.cancelled:
            rt.result(job.id, "cancelled", result=RunResult(tuple(outputs[job.id])))
        else:
            result = RunResult(
                tuple(outputs[job.id]), _picture(first.task, params[job.id], outputs[job.id])
            )
            rt.result(job.id, "succeeded", result=result)


def _picture(task: str, run: RunParams, outputs: list[TaskOutput]) -> str:
    """object-detection: the image with each model's boxes (base64 PNG); "" otherwise."""
    if task != "object-detection" or not outputs:
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
