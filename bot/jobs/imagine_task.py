"""The worker side of /imagine: one batch of jobs → one diffusers pipeline call.

The command (bot/commands/imagine.py) gives every job of a batch the same batch key (model,
size, steps, guidance), so one `ImageModel.generate` call runs them all, each image with its
own generator: a seed gives the same image alone or batched. Imported by bot/jobs/tasks.py
inside worker processes only (torch).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from bot.inference.image import MIN_SIZE, SIZE_STEP, ImageModel, ImageSettings

if TYPE_CHECKING:
    from bot.jobs.tasks import Runtime, WorkerJob


def image_size(params: dict[str, Any], model: ImageModel) -> int:
    """The size asked for, or the model's own (native) size within the class's limit."""
    if params.get("size"):
        return int(params["size"])
    native = min(model.default_size, int(params.get("max_size") or model.default_size))
    return max(MIN_SIZE, native - native % SIZE_STEP)


def _settings(params: dict[str, Any], size: int) -> ImageSettings:
    return ImageSettings(
        prompt=str(params["prompt"]),
        negative_prompt=str(params.get("negative_prompt") or ""),
        steps=int(params["steps"]),
        guidance=float(params["guidance"]),
        seed=int(params["seed"]),
        width=size,
        height=size,
    )


def run_imagine(rt: Runtime, jobs: list[WorkerJob]) -> None:
    spec = jobs[0].params["model"]

    def report(label: str, fraction: float | None) -> None:
        for job in jobs:
            step = int(100 * fraction) if fraction is not None else 0
            rt.progress(job.id, step, 100 if fraction is not None else 0, label, force=True)

    model: ImageModel = rt.models.image_model(spec, report)  # ModelUnavailable: run_batch
    live: list[tuple[WorkerJob, ImageSettings]] = []
    for job in jobs:
        if job.id in rt.cancelled:
            rt.result(job.id, "cancelled", result={"steps_done": 0})
            continue
        try:
            live.append((job, _settings(job.params, image_size(job.params, model))))
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
    run = {"label": "imagine", "model": spec, "model_params": model.num_parameters}
    for (job, _), out in zip(live, results, strict=True):
        shown = {
            "seed": out.seed,
            "steps": out.steps,
            "steps_done": out.steps_done,
            "guidance": out.settings.guidance,
            "size": out.width,
            "seconds": round(out.seconds, 3),
            "model_name": model.name,
            "device": str(rt.device),
            "batch_jobs": len(live),
        }
        if out.cancelled or job.id in rt.cancelled:
            rt.result(job.id, "cancelled", result=shown)
        elif out.flagged:
            # The safety checker flagged it: nothing of the image leaves the worker.
            rt.result(job.id, "succeeded", result={**shown, "runs": [run], "flagged": True})
        elif out.png is not None:
            png = base64.b64encode(out.png).decode("ascii")  # the result is stored as JSON
            rt.result(job.id, "succeeded", result={**shown, "runs": [run], "png": png})
