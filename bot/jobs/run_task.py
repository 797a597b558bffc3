"""The worker side of /run: the jobs of one batch, one batched call per model.

The kind's batch key (task + models) means every job of a batch runs the same task on the
same models, so each model loads once (the worker's LRU, bot/inference/manager.py) and
runs every job's input in one padded forward pass. Imported inside worker processes only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.inference.manager import ModelUnavailable
from bot.inference.tasks.runners import Answer, Row, TaskRunner
from bot.inference.tasks.vetting import TaskModel
from bot.jobs.kinds.run import RunParams, RunResult, Scored, Span, TaskInput, TaskOutput

if TYPE_CHECKING:
    from bot.jobs.tasks import Runtime, WorkerJob


def _row(data: TaskInput) -> Row:
    return Row(
        text=data.text,
        context=data.context,
        labels=data.labels,
        sentences=data.sentences,
        source=data.source,
        target=data.target,
        max_new_tokens=data.max_new_tokens,
    )


def load_task_model(
    rt: Runtime, spec: dict[str, object], task: str, jobs: list[WorkerJob]
) -> TaskRunner:
    """The loaded model (from the LRU, or fetched and loaded with progress in chat)."""

    def report(label: str, fraction: float | None) -> None:
        for job in jobs:
            step = int(100 * fraction) if fraction is not None else 0
            rt.progress(job.id, step, 100 if fraction is not None else 0, label, force=True)

    key = f"task:{task}:{spec['id']}@{spec.get('rev') or ''}"

    def load() -> TaskRunner:
        path = rt.models.fetch(dict(spec), report)
        report("loading the model", None)
        try:
            return TaskRunner.load(path, task, device=str(rt.models.device))
        except (OSError, ValueError) as error:
            raise ModelUnavailable(f"{spec['id']} could not be loaded: {error}") from None

    estimate = int(str(spec.get("params") or 0)) * rt.models.bytes_per_param()
    model: TaskRunner = rt.models.get(key, estimate, load)
    return model


def run_text_task(rt: Runtime, jobs: list[WorkerJob]) -> None:
    params = {job.id: RunParams.from_json(job.params) for job in jobs}
    first = params[jobs[0].id]
    outputs: dict[int, list[TaskOutput]] = {job.id: [] for job in jobs}
    failed: dict[int, str] = {}
    for index, wanted in enumerate(first.models):
        live = [j for j in jobs if j.id not in failed and j.id not in rt.cancelled]
        if not live:
            break
        try:
            model = load_task_model(rt, wanted.model.to_json(), first.task, live)
        except ModelUnavailable as error:
            for job in live:
                failed[job.id] = str(error)
            continue
        if index:  # compare: a step per model after the first (one model needs none)
            for job in live:
                rt.progress(job.id, index, len(first.models), f"running {model.short_name}")
        answers = model.run([_row(params[j.id].input) for j in live])
        for job, answer in zip(live, answers, strict=True):
            if answer.error:
                failed[job.id] = answer.error
                continue
            mine = params[job.id].models[index]
            outputs[job.id].append(_output(mine, model, answer, len(live)))
    for job in jobs:
        if job.id in failed:
            rt.result(job.id, "failed", error=failed[job.id])
        elif job.id in rt.cancelled:
            rt.result(job.id, "cancelled", result=RunResult(tuple(outputs[job.id])))
        else:
            rt.result(job.id, "succeeded", result=RunResult(tuple(outputs[job.id])))


def _output(wanted: TaskModel, model: TaskRunner, answer: Answer, rows: int) -> TaskOutput:
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
    )
