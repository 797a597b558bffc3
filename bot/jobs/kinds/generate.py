"""The "generate" job kind: a prompt continued by one or two text models (/generate).

Params and result are stored as JSON in the jobs table; the keys are those the table has
always held, so jobs queued before an upgrade still run and render. The worker side is
`bot.jobs.tasks:run_generate`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from bot.charts import repetition_chart
from bot.inference.guard import ApprovedModel, format_params
from bot.inference.repetition import repetition_report, words_of
from bot.jobs.kinds.base import JobKind, UsageRun, chart_button
from bot.jobs.protocol import JobView
from bot.replies import Card, Field, Reply, clip

# Chat limits: a part of a reply stays under 1,800 characters (Discord messages hold 2,000),
# and a side-by-side column under 1,024 (a Discord embed field).
TEXT_PART = 1800
COLUMN_PART = 800


@dataclass(frozen=True)
class Decoding:
    """How to pick the next token (bot.inference.text.GenerationSettings, as JSON)."""

    max_new_tokens: int = 50
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 50
    repetition_penalty: float = 1.0
    seed: int | None = None
    greedy: bool = False

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class ModelRun:
    """One run asked for: a label ("greedy", "sampled", a model's name), a model, settings."""

    label: str
    model: ApprovedModel
    settings: Decoding

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "model": self.model.to_json(),
            "settings": self.settings.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            label=str(data.get("label", "")),
            model=ApprovedModel.from_json(dict(data["model"])),
            settings=Decoding.from_json(data.get("settings") or {}),
        )


@dataclass(frozen=True)
class GenerateParams:
    prompt: str
    runs: tuple[ModelRun, ...]
    # Why the compare: model was not run (the guard refused it); empty when it was asked for
    # and approved, or not asked for.
    not_run: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"prompt": self.prompt, "runs": [r.to_json() for r in self.runs]}
        if self.not_run:
            data["not_run"] = self.not_run
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            prompt=str(data.get("prompt", "")),
            runs=tuple(ModelRun.from_json(r) for r in data.get("runs", [])),
            not_run=str(data.get("not_run") or ""),
        )

    @property
    def models(self) -> list[str]:
        return sorted({r.model.id for r in self.runs})

    @property
    def max_new_tokens(self) -> int:
        return max((r.settings.max_new_tokens for r in self.runs), default=0)


@dataclass(frozen=True)
class RunOutput:
    """What one run produced: its text, or, when its model could not be loaded, `error`."""

    label: str
    model: ApprovedModel
    model_params: int
    text: str
    tokens: int
    finish: str  # "eos", "length", "cancelled"
    seconds: float
    seed: int | None
    settings: Decoding
    prompt_tokens: int = 0
    prompt_truncated: bool = False
    batch_rows: int = 1
    device: str = ""
    error: str = ""
    # Served as a chat (a hosted provider with no plain completion for it): the prompt went
    # as a message, and top-k and the repetition penalty had nowhere to go.
    as_chat: bool = False

    @classmethod
    def failed(cls, run: ModelRun, error: str) -> Self:
        """A run whose model could not be loaded: no text, and why."""
        return cls(
            label=run.label,
            model=run.model,
            model_params=run.model.params,
            text="",
            tokens=0,
            finish="failed",
            seconds=0.0,
            seed=run.settings.seed,
            settings=run.settings,
            error=error,
        )

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["model"], data["settings"] = self.model.to_json(), self.settings.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        model = ApprovedModel.from_json(dict(data["model"]))
        return cls(
            label=str(data.get("label", "")),
            model=model,
            model_params=int(data.get("model_params") or model.params),
            text=str(data.get("text", "")),
            tokens=int(data.get("tokens", 0)),
            finish=str(data.get("finish", "")),
            seconds=float(data.get("seconds", 0.0)),
            seed=data.get("seed"),
            settings=Decoding.from_json(data.get("settings") or {}),
            prompt_tokens=int(data.get("prompt_tokens", 0)),
            prompt_truncated=bool(data.get("prompt_truncated", False)),
            batch_rows=int(data.get("batch_rows", 1)),
            device=str(data.get("device", "")),
            error=str(data.get("error") or ""),
            as_chat=bool(data.get("as_chat", False)),
        )


@dataclass(frozen=True)
class GenerateResult:
    runs: tuple[RunOutput, ...]
    batch_jobs: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"runs": [r.to_json() for r in self.runs], "batch_jobs": self.batch_jobs}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            runs=tuple(RunOutput.from_json(r) for r in data.get("runs", [])),
            batch_jobs=int(data.get("batch_jobs") or 1),
        )


# -- the reply -----------------------------------------------------------------------------


def _decoding(run: RunOutput) -> str:
    s = run.settings
    if s.greedy or s.temperature == 0:
        words = ["greedy (always the most likely token)"]
    else:
        words = [f"sampled · temperature {s.temperature:g}", f"top-p {s.top_p:g}"]
        words.append(f"top-k {s.top_k}" if s.top_k else "no top-k")
        words.append(f"seed {run.seed}")
    if s.repetition_penalty != 1.0:
        words.append(f"repetition penalty {s.repetition_penalty:g}")
    return " · ".join(words)


def _ending(run: RunOutput) -> str:
    ending = {"eos": "the model ended the text", "length": "stopped at max_new_tokens"}.get(
        run.finish, run.finish
    )
    if run.finish == "length" and run.tokens < run.settings.max_new_tokens:
        # Cut short of max_new_tokens: the prompt and the text filled the model's context.
        ending = "stopped at the end of the model's context (its longest text)"
    tokens = f"{run.tokens} token{'' if run.tokens == 1 else 's'}"
    return f"{tokens} in {run.seconds:.1f} s, {ending}"


def _title(run: RunOutput) -> str:
    # Hosted models may list no size (the provider runs them; nothing is counted here).
    if not run.model_params:
        return run.model.short_name
    return f"{run.model.short_name} · {format_params(run.model_params)} parameters"


def _column_name(run: RunOutput) -> str:
    """The run's label and model, naming the model once when the label is its name (and its
    size, when it is known: hosted models may list none)."""
    name = (
        run.label if run.label == run.model.short_name else f"{run.label} · {run.model.short_name}"
    )
    return f"{name} ({format_params(run.model_params)} parameters)" if run.model_params else name


def _column(run: RunOutput) -> Field:
    if run.error:
        value = clip(f"Not run: {run.error}", COLUMN_PART)
    else:
        report = repetition_report(run.text)
        text = clip(run.text, COLUMN_PART) or "(no text)"
        value = f"{text}\n\nRepetition {report.meter}\n{report.explanation}\n{_decoding(run)}"
    return Field(name=_column_name(run), value=value, inline=True)


def render(job: JobView, params: GenerateParams, result: GenerateResult) -> Reply:
    """The finished job: the text, its repetition meter, and how it was decoded."""
    runs = result.runs
    notes = []
    if any(r.prompt_truncated for r in runs):
        notes.append("the prompt's start was cut to fit the model's context")
    if any(r.as_chat for r in runs):
        # A student comparing settings must know which ones did nothing.
        notes.append(
            "served as a chat: the prompt went as a message, which the model answers rather"
            " than continues, and top-k and the repetition penalty were not applied"
        )
    if len(runs) == 1:
        run = runs[0]
        report = repetition_report(run.text)
        text = clip(run.text, TEXT_PART) or "(no text: the model ended at once)"
        footer = [_ending(run), *notes, "same seed + settings + model → same text"]
        return Card(
            title=_title(run),
            description=text,
            fields=(
                Field(name="Prompt", value=clip(params.prompt, 300), inline=False),
                Field(
                    name="Repetition",
                    value=f"{report.meter}\n{report.explanation}",
                    inline=False,
                ),
                Field(name="Decoding", value=_decoding(run), inline=False),
                *(
                    [Field(name="Compare: not run", value=clip(params.not_run, 1000), inline=False)]
                    if params.not_run
                    else []
                ),
            ),
            footer=f"{'; '.join(footer)} · job {job.id}",
            buttons=(chart_button(job.id),),
        )
    endings = [_ending(r) for r in runs if not r.error]
    return Card(
        title=" vs ".join(r.label for r in runs),
        description=f"Prompt: {clip(params.prompt, 300)}",
        fields=tuple(_column(r) for r in runs),
        footer=f"{'; '.join([*endings, *notes])} · job {job.id}",
        buttons=(chart_button(job.id),),
    )


def usage(result: GenerateResult) -> list[UsageRun]:
    return [UsageRun(r.model.id, r.model_params, r.label) for r in result.runs if not r.error]


# The fewest words whose 3-word chunks can repeat at all.
MIN_CHART_WORDS = 4


async def chart(job: JobView, params: GenerateParams, result: GenerateResult) -> list[Reply]:
    """The repetition meter as a picture: where each run's text repeats itself."""
    pictures: list[Reply] = []
    for run in result.runs:
        if run.error or len(words_of(run.text)) < MIN_CHART_WORDS:
            continue  # a text of a word or two repeats nothing: an empty plot says nothing
        picture = await repetition_chart(run.text)
        if len(result.runs) > 1:
            picture = dataclasses.replace(picture, caption=f"{run.label}: {picture.caption}")
        pictures.append(
            dataclasses.replace(picture, filename=f"repetition-{job.id}-{len(pictures) + 1}.png")
        )
    return pictures


GENERATE: JobKind[GenerateParams, GenerateResult] = JobKind(
    name="generate",
    params_type=GenerateParams,
    result_type=GenerateResult,
    runner="bot.jobs.tasks:run_generate",
    hosted="bot.jobs.hosted.runners:generate",
    render=render,
    usage=usage,
    batch_key=lambda p: "generate:" + "|".join(p.models),
    cost=lambda p: p.max_new_tokens,
    summary=lambda p: f"{clip(p.prompt, 40)} ({p.runs[0].model.short_name})",
    start_at_once=True,
    chart=chart,
)
