"""The /run reply read back from the jobs table's JSON: within chat limits whatever the input."""

from __future__ import annotations

from bot.delivery import Destination
from bot.inference.guard import ApprovedModel
from bot.inference.tasks.vetting import TaskModel
from bot.jobs.kinds.run import (
    COLUMN_PART,
    LABEL_PART,
    RUN,
    TEXT_PART,
    RunParams,
    RunResult,
    Scored,
    Span,
    TaskInput,
    TaskOutput,
    marked,
)
from bot.jobs.protocol import JobView
from bot.replies import Card


def _job(params: RunParams, result: RunResult) -> JobView:
    return JobView(
        id=5,
        kind="run",
        state="succeeded",
        params=params.to_json(),
        destination=Destination("console", "g", "c", "u"),
        result=result.to_json(),
    )


def _model(name: str, license_id: str | None = "mit") -> TaskModel:
    return TaskModel(
        ApprovedModel(name, "hub", 22_713_216), "sentence-similarity", None, license_id
    )


def test_long_sentences_and_many_models_stay_within_chat_limits() -> None:
    sentences = tuple(f"sentence {i} " + "word " * 400 for i in range(10))
    models = (_model("a/one"), _model("b/two", None), _model("c/three"))
    params = RunParams("sentence-similarity", TaskInput("mine " * 300, sentences=sentences), models)
    outputs = tuple(
        TaskOutput(
            m.model, m.model.params, 0.0421, m.license, tuple(Scored(s, 0.5) for s in sentences)
        )
        for m in models
    )
    alone = RUN.reply(
        _job(RunParams(params.task, params.input, models[:1]), RunResult(outputs[:1]))
    )
    assert isinstance(alone, Card) and len(alone.description) <= TEXT_PART
    assert alone.footer == "23M parameters · license mit · 42 ms · job 5"
    side = RUN.reply(_job(params, RunResult(outputs)))
    assert isinstance(side, Card) and [f.name for f in side.fields] == ["one", "two", "three"]
    for field in side.fields:
        assert len(field.value) <= COLUMN_PART + 80 < 1024  # a Discord embed field
        bars = [line for line in field.value.splitlines() if "░" in line or "▓" in line]
        assert bars and all(len(line.split("  ")[0]) <= LABEL_PART for line in bars)
    assert "license not stated" in side.fields[1].value
    # Stored results read back the same (the JSON round trip the jobs table does).
    assert RunResult.from_json(RunResult(outputs).to_json()) == RunResult(outputs)
    assert RunParams.from_json(params.to_json()) == params


def test_marked_spans_keep_the_text_around_them() -> None:
    text = "Ada lives in Paris"
    spans = (Span(13, 18, "LOC", 0.91), Span(0, 3, "PER", 0.5))
    assert marked(text, spans) == "[Ada](PER 50%) lives in [Paris](LOC 91%)"
    assert marked(text, spans[:1], show_label=False) == "Ada lives in **Paris**"
