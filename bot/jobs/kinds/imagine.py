"""The "imagine" job kind: one image from a text-to-image model (/imagine).

Jobs that share model, size, steps and guidance share one batch key, so one pipeline call
runs them all (the worker side is `bot.jobs.imagine_task:run_imagine`). Once delivered, the
outcome goes to the class's audit log and the PNG leaves the jobs table.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commandline import quote
from bot.inference.guard import ApprovedModel, format_params
from bot.jobs.kinds.base import JobKind, UsageRun
from bot.jobs.protocol import JobView
from bot.replies import Button, Image, Reply, Text, clip
from bot.store.audit import AuditTrail
from bot.store.models import Job

KIND = "imagine"
# A caption repeats the command that makes the same image, when it is this short.
REPRODUCE_CHARS = 600


@dataclass(frozen=True)
class ImagineParams:
    prompt: str
    negative_prompt: str
    model: ApprovedModel
    model_given: bool  # captions name the model only when the student chose one
    steps: int
    guidance: float
    seed: int
    size: int | None  # None: the model's own size, at most max_size
    max_size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "model": self.model.to_json(),
            "model_given": self.model_given,
            "steps": self.steps,
            "guidance": self.guidance,
            "seed": self.seed,
            "size": self.size,
            "max_size": self.max_size,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        size = data.get("size")
        return cls(
            prompt=str(data["prompt"]),
            negative_prompt=str(data.get("negative_prompt") or ""),
            model=ApprovedModel.from_json(dict(data["model"])),
            model_given=bool(data.get("model_given")),
            steps=int(data["steps"]),
            guidance=float(data["guidance"]),
            seed=int(data["seed"]),
            size=int(size) if size else None,
            max_size=int(data.get("max_size") or 0),
        )


@dataclass(frozen=True)
class ImagineResult:
    model: ApprovedModel
    model_params: int
    model_name: str
    seed: int
    steps: int
    steps_done: int
    guidance: float
    size: int
    seconds: float
    device: str = ""
    batch_jobs: int = 1
    flagged: bool = False  # the model's safety checker flagged it: no image kept
    png: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "seed": self.seed,
            "steps": self.steps,
            "steps_done": self.steps_done,
            "guidance": self.guidance,
            "size": self.size,
            "seconds": self.seconds,
            "model_name": self.model_name,
            "device": self.device,
            "batch_jobs": self.batch_jobs,
            "runs": [
                {"label": KIND, "model": self.model.to_json(), "model_params": self.model_params}
            ],
        }
        if self.flagged:
            data["flagged"] = True
        if self.png is not None:
            data["png"] = base64.b64encode(self.png).decode("ascii")
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        run = data["runs"][0]
        model = ApprovedModel.from_json(dict(run["model"]))
        png = data.get("png")
        return cls(
            model=model,
            model_params=int(run.get("model_params") or model.params),
            model_name=str(data.get("model_name") or ""),
            seed=int(data["seed"]),
            steps=int(data["steps"]),
            steps_done=int(data.get("steps_done", data["steps"])),
            guidance=float(data["guidance"]),
            size=int(data["size"]),
            seconds=float(data.get("seconds", 0.0)),
            device=str(data.get("device", "")),
            batch_jobs=int(data.get("batch_jobs") or 1),
            flagged=bool(data.get("flagged")),
            png=base64.b64decode(png) if png else None,
        )


def batch_key(p: ImagineParams) -> str:
    shape = str(p.size) if p.size else f"native{p.max_size}"
    return f"{KIND}:{p.model.id}@{p.model.revision or ''}|{shape}|{p.steps}|{p.guidance:g}"


def reproduce(params: ImagineParams, result: ImagineResult) -> str:
    """The command line that makes this exact image again."""
    words = [f"/imagine prompt:{quote(params.prompt)}"]
    if params.negative_prompt:
        words.append(f"negative_prompt:{quote(params.negative_prompt)}")
    if params.model_given:
        words.append(f"model:{quote(params.model.id)}")
    words.append(f"steps:{result.steps} guidance:{result.guidance:g}")
    words.append(f"seed:{result.seed}")
    if params.size:  # else the model's own size, which the same command gives again
        words.append(f"size:{result.size}")
    return " ".join(words)


def render(job: JobView, params: ImagineParams, result: ImagineResult) -> Reply:
    """The finished image with everything needed to make it again, and a Re-roll button."""
    reroll = Button(label="Re-roll", action=f"/imagine reroll job:{job.id}", style="primary")
    if result.flagged or result.png is None:
        return Text(
            text=f"Job {job.id}: the model's safety checker flagged this image, so it is not "
            "shown. Try a different prompt."
        )
    together = result.batch_jobs
    timing = f"{result.seconds:.1f} s" + (f" ({together} images together)" * (together > 1))
    size = result.size
    # Hosted models may list no size (the provider runs them; nothing is counted here).
    params_text = (
        f"({format_params(result.model_params)} parameters) " if result.model_params else ""
    )
    caption = (
        f"“{clip(params.prompt, 300)}” · {clip(result.model_name, 60)} {params_text}· "
        f"{size}×{size} · {result.steps} steps · guidance {result.guidance:g} · "
        f"seed {result.seed} · {timing} · job {job.id}"
    )
    again = reproduce(params, result)
    if len(again) <= REPRODUCE_CHARS:
        caption += f"\nSame image again: {again}"
    return Image(
        filename=f"imagine-{job.id}-seed{result.seed}.png",
        data=result.png,
        alt=clip(params.prompt, 300),
        caption=caption,
        buttons=(reroll,),
    )


async def after_delivery(
    session: AsyncSession, job: JobView, params: ImagineParams, now: datetime
) -> None:
    """The outcome goes to the audit log; the delivered PNG leaves the jobs table."""
    result = job.result or {}
    outcome = "flagged" if result.get("flagged") else job.state
    detail: dict[str, Any] = {"job": job.id, "seed": result.get("seed", params.seed)}
    if job.error:
        detail["error"] = job.error
    AuditTrail(job.guild_pk, job.user_pk, KIND).add(session, params.prompt, outcome, now, detail)
    if "png" in result:
        # Students have the image in chat now; the database need not keep every picture.
        kept = {key: value for key, value in result.items() if key != "png"}
        await session.execute(update(Job).where(Job.id == job.id).values(result=kept))


def usage(result: ImagineResult) -> list[UsageRun]:
    return [UsageRun(result.model.id, result.model_params, KIND)]


IMAGINE: JobKind[ImagineParams, ImagineResult] = JobKind(
    name=KIND,
    params_type=ImagineParams,
    result_type=ImagineResult,
    runner="bot.jobs.imagine_task:run_imagine",
    hosted="bot.jobs.hosted.runners:imagine",
    render=render,
    usage=usage,
    batch_key=batch_key,
    cost=lambda p: p.steps,
    summary=lambda p: f"{clip(p.prompt, 40)} ({p.model.short_name})",
    after_delivery=after_delivery,
)
