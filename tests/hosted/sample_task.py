"""A task job kind declared the way /run tasks are, to show the seam: its hosted runner calls
the client's method for the task, and the engine runs it like /generate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from bot.jobs.hosted.runners import HostedCall
from bot.jobs.kinds.base import JobKind
from bot.jobs.protocol import JobView
from bot.replies import Reply, Text


@dataclass(frozen=True)
class ClassifyParams:
    model: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "text": self.text}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(str(data["model"]), str(data["text"]))


@dataclass(frozen=True)
class ClassifyResult:
    labels: tuple[tuple[str, float], ...]

    def to_json(self) -> dict[str, Any]:
        return {"labels": [list(pair) for pair in self.labels]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(tuple((str(label), float(score)) for label, score in data["labels"]))


async def classify(call: HostedCall) -> ClassifyResult:
    params = ClassifyParams.from_json(call.params)
    found = await call.run_task(
        params.model,
        "text-classification",
        lambda client: client.text_classification(params.text, model=params.model),
    )
    return ClassifyResult(tuple((item.label, float(item.score)) for item in found))


def render(job: JobView, params: ClassifyParams, result: ClassifyResult) -> Reply:
    return Text(text=", ".join(f"{label} {score:.2f}" for label, score in result.labels))


CLASSIFY: JobKind[ClassifyParams, ClassifyResult] = JobKind(
    name="classify",
    params_type=ClassifyParams,
    result_type=ClassifyResult,
    runner="tests.hosted.sample_task:no_local_runner",
    hosted="tests.hosted.sample_task:classify",
    render=render,
    usage=lambda result: [],
    batch_key=lambda params: None,
    cost=lambda params: 1.0,
    summary=lambda params: params.text[:40],
)
