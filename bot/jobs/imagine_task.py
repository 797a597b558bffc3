"""The worker side of /imagine: one batch of jobs → one diffusers pipeline call.

The kind (bot/jobs/kinds/imagine.py) gives every job of a batch the same batch key (model,
size, steps, guidance), so one `ImageModel.generate` call runs them all, each image with its
own generator: a seed gives the same image alone or batched. Named by the kind's declaration
and imported inside worker processes only (torch).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from bot.inference.image import ImageModel, ImageSettings
from bot.inference.image_limits import MIN_SIZE, SIZE_STEP
from bot.jobs.kinds.imagine import ImagineParams, ImagineResult

if TYPE_CHECKING:
    from bot.jobs.tasks import Runtime, WorkerJob


def image_size(params: ImagineParams, model: ImageModel) -> int:
    """The size asked for, or the model's own (native) size within the class's limit."""
    if params.size:
        return params.size
    native = min(model.default_size, params.max_size or model.default_size)
    return max(MIN_SIZE, native - native % SIZE_STEP)


def _settings(params: ImagineParams, size: int) -> ImageSettings:
    return ImageSettings(
        prompt=params.prompt,
        negative_prompt=params.negative_prompt,
        steps=params.steps,
        guidance=params.guidance,
        seed=params.seed,
        width=size,
        height=size,
    )


def run_imagine(rt: Runtime, jobs: list[WorkerJob]) -> None:
    params = {job.id: ImagineParams.from_json(job.params) for job in jobs}
    spec = params[jobs[0].id].model

    def report(label: str, fraction: float | None) -> None:
        for job in jobs:
            step = int(100 * fraction) if fraction is not None else 0
            rt.progress(job.id, step, 100 if fraction is not None else 0, label, force=True)

    model: ImageModel = rt.models.image_model(spec.to_json(), report)  # ModelUnavailable: run_batch
    live: list[tuple[WorkerJob, ImageSettings]] = []
    for job in jobs:
        if job.id in rt.cancelled:
            rt.result(job.id, "cancelled", result={"steps_done": 0})
            continue
        try:
            p = params[job.id]
            live.append((job, _settings(p, image_size(p, model))))
        except ValueError as error:
            rt.result(job.id, "failed", error=f"{model.name} can't make that image: {error}.")
    if not live:
        return
    label = "denoising" if len(live) == 1 else f"denoising ({len(live)} images together)"

    def on_progress(step: int, total: int) -> None:
        for job, _ in live:
            if job.id not in rt.cancelled:
                force = step in (1, total)  # the first step and N/N always show
                rt.progress(job.id, step, total, label, force=force)

    def should_cancel() -> bool:
        # One pipeline call makes every image of the batch: it stops only when all of them
        # are cancelled; a single cancelled job in a shared batch just gets no image.
        return all(job.id in rt.cancelled for job, _ in live)

    results = model.generate([s for _, s in live], on_progress, should_cancel)
    for (job, _), out in zip(live, results, strict=True):
        shown = ImagineResult(
            model=spec,
            model_params=model.num_parameters,
            model_name=model.name,
            seed=out.seed,
            steps=out.steps,
            steps_done=out.steps_done,
            guidance=out.settings.guidance,
            size=out.width,
            seconds=round(out.seconds, 3),
            device=str(rt.device),
            batch_jobs=len(live),
        )
        if out.cancelled or job.id in rt.cancelled:
            rt.result(job.id, "cancelled", result=shown)
        elif out.flagged:
            # The safety checker flagged it: nothing of the image leaves the worker.
            rt.result(job.id, "succeeded", result=replace(shown, flagged=True))
        elif out.png is not None:
            rt.result(job.id, "succeeded", result=replace(shown, png=out.png))
