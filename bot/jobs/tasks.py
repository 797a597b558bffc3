"""What a worker does for each job kind. Imported only inside worker processes (torch).

A runner gets every job of one batch and must report each one exactly once through
`Runtime.result` (the runtime fails any job a runner leaves unreported). The runner of a
kind is named by its declaration (`JobKind.runner`, "module:function", bot/jobs/kinds/).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import torch
from huggingface_hub.utils.tqdm import disable_progress_bars
from transformers.utils import logging as hf_logging

from bot.inference.devices import memory_budget_bytes, torch_device
from bot.inference.manager import ModelManager, ModelUnavailable
from bot.inference.text import GenerationSettings
from bot.jobs import wire
from bot.jobs.kinds import by_name
from bot.jobs.kinds.base import JsonData
from bot.jobs.kinds.generate import (
    Decoding,
    GenerateParams,
    GenerateResult,
    ModelRun,
    RunOutput,
)
from bot.logs import quiet_model_libraries

log = logging.getLogger(__name__)

# Keep this many positions for the prompt when max_new_tokens nearly fills the context.
_PROMPT_ROOM = 32


@dataclass
class WorkerJob:
    id: int
    params: dict[str, Any]  # the kind's params as JSON: parse with its params_type


Runner = Callable[["Runtime", list[WorkerJob]], None]


@cache
def runner_for(kind: str) -> Runner:
    """The worker function a kind's declaration names (imported on first use)."""
    module, _, name = by_name()[kind].runner.partition(":")
    runner: Runner = getattr(importlib.import_module(module), name)
    return runner


@dataclass
class Runtime:
    config: wire.WorkerConfig
    send: Callable[[wire.FromWorker], None]
    cancelled: set[int]
    device: Any = None
    models: ModelManager = field(init=False)
    _reported: set[int] = field(default_factory=set)
    _last_progress: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Progress bars would only clutter the bot's log; progress goes to chat instead.
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        disable_progress_bars()
        quiet_model_libraries()
        self.device = torch_device(self.config.device)
        budget = memory_budget_bytes(self.config.memory_budget_mb, self.device)
        self.models = ModelManager(self.device, budget, token=self.config.hf_token)

    def run_batch(self, message: wire.Run) -> None:
        jobs = [WorkerJob(int(j["id"]), dict(j["params"])) for j in message["jobs"]]
        self._reported.clear()
        try:
            runner_for(message["kind"])(self, jobs)
        except ModelUnavailable as error:
            for job in jobs:
                self.result(job.id, "failed", error=str(error))
        except torch.OutOfMemoryError:
            # Free everything: the next job loads only what it needs.
            self.models.clear()
            for job in jobs:
                self.result(job.id, "failed", error="The model ran out of memory.")
        except Exception:
            log.exception("batch %s (%s) failed", message["batch"], message["kind"])
        finally:
            for job in jobs:
                if job.id not in self._reported:
                    self.result(
                        job.id,
                        "failed",
                        error=f"Something went wrong while running job {job.id}.",
                    )
                self.cancelled.discard(job.id)
                self._last_progress.pop(job.id, None)
            self.send({"op": "batch_done", "batch": message["batch"]})

    def progress(
        self, job_id: int, step: int, total: int, label: str, *, force: bool = False
    ) -> None:
        now = time.monotonic()
        last = self._last_progress.get(job_id)
        if not force and last is not None and now - last < self.config.progress_interval:
            return
        self._last_progress[job_id] = now
        self.send({"op": "progress", "id": job_id, "step": step, "total": total, "label": label})

    def result(
        self,
        job_id: int,
        state: wire.JobOutcome,
        *,
        result: JsonData | dict[str, Any] | None = None,
        error: str | None = None,
        todo: str = "",
    ) -> None:
        """Report a job's outcome once; `result` is the kind's result type (or, for a
        cancelled job, what it got done so far); `todo`, for a failed one, what the
        student can do about `error` (see wire.TODO)."""
        if job_id in self._reported:
            return
        self._reported.add(job_id)
        data = result if isinstance(result, dict) or result is None else result.to_json()
        if state == "failed" and todo:
            data = {wire.TODO: todo}
        self.send({"op": "result", "id": job_id, "state": state, "result": data, "error": error})


# -- generate ------------------------------------------------------------------------------------


@dataclass
class _Row:
    job: WorkerJob
    params: GenerateParams
    index: int  # which of the job's runs
    run: ModelRun


def _settings(run: ModelRun, context: int | None) -> GenerationSettings:
    settings = GenerationSettings(**run.settings.to_json())
    if context is not None and settings.max_new_tokens > context - _PROMPT_ROOM:
        # text.py keeps `context - max_new_tokens` prompt tokens: leave the prompt some room.
        settings = dataclasses.replace(settings, max_new_tokens=max(1, context - _PROMPT_ROOM))
    return settings


def run_generate(rt: Runtime, jobs: list[WorkerJob]) -> None:
    """Every run of every job, one batched generate call per model (batch_key guarantees the
    jobs of one batch use the same models)."""
    params = {job.id: GenerateParams.from_json(job.params) for job in jobs}
    groups: dict[str, list[_Row]] = {}
    for job in jobs:
        for index, run in enumerate(params[job.id].runs):
            groups.setdefault(run.model.id, []).append(_Row(job, params[job.id], index, run))
    outputs: dict[int, list[RunOutput | None]] = {
        job.id: [None] * len(params[job.id].runs) for job in jobs
    }
    failed: dict[int, str] = {}
    # Progress per job counts the tokens of each of its model groups in turn.
    group_tokens = {
        (key, job.id): max((r.run.settings.max_new_tokens for r in rows if r.job is job), default=0)
        for key, rows in groups.items()
        for job in jobs
    }
    totals = {job.id: sum(group_tokens[(key, job.id)] for key in groups) for job in jobs}
    done = dict.fromkeys(totals, 0)

    for key, all_rows in groups.items():
        rows = [r for r in all_rows if r.job.id not in failed and r.job.id not in rt.cancelled]
        if not rows:
            continue
        members = {r.job.id: r.job for r in rows}

        def report(
            label: str, fraction: float | None, members: dict[int, WorkerJob] = members
        ) -> None:
            for job_id in members:
                step = int(100 * fraction) if fraction is not None else 0
                rt.progress(job_id, step, 100 if fraction is not None else 0, label, force=True)

        try:
            model = rt.models.text_model(rows[0].run.model.to_json(), report)
        except ModelUnavailable as error:
            # A job's first model is its answer: without it the job fails. A compare model
            # that cannot load leaves a column that says why, beside the first model's text.
            for r in rows:
                if r.index == 0:
                    failed[r.job.id] = str(error)
                else:
                    outputs[r.job.id][r.index] = RunOutput.failed(r.run, str(error))
                    done[r.job.id] += group_tokens[(key, r.job.id)]
            continue
        requests = [(r.params.prompt, _settings(r.run, model.context_length)) for r in rows]

        def should_stop(i: int, rows: list[_Row] = rows) -> bool:
            return rows[i].job.id in rt.cancelled

        def on_step(
            step: int, total: int, key: str = key, members: dict[int, WorkerJob] = members
        ) -> None:
            for job_id in members:
                mine = min(step, group_tokens[(key, job_id)])
                rt.progress(
                    job_id,
                    done[job_id] + mine,
                    totals[job_id],
                    f"generating: {done[job_id] + mine}/{totals[job_id]} tokens",
                    force=step == 1,
                )

        results = model.generate_batch(requests, should_stop=should_stop, on_step=on_step)
        for row, out in zip(rows, results, strict=True):
            outputs[row.job.id][row.index] = RunOutput(
                label=row.run.label,
                model=row.run.model,
                model_params=model.num_parameters,
                text=out.text,
                tokens=out.tokens_generated,
                finish=out.finish_reason,
                seconds=round(out.seconds, 3),
                seed=out.seed,
                settings=Decoding.from_json(dataclasses.asdict(out.settings)),
                prompt_tokens=out.prompt_tokens,
                prompt_truncated=out.prompt_truncated,
                batch_rows=len(rows),
                device=str(model.device),
            )
        for job_id in members:
            done[job_id] += group_tokens[(key, job_id)]

    for job in jobs:
        runs = outputs[job.id]
        if job.id in failed:
            rt.result(job.id, "failed", error=failed[job.id])
        elif job.id in rt.cancelled or any(r is None or r.finish == "cancelled" for r in runs):
            got = tuple(r for r in runs if r is not None)
            rt.result(job.id, "cancelled", result=GenerateResult(got, len(jobs)))
        else:
            done_runs = tuple(r for r in runs if r is not None)
            rt.result(job.id, "succeeded", result=GenerateResult(done_runs, len(jobs)))
