"""What a worker does for each job kind. Imported only inside worker processes (torch).

A runner gets every job of one batch and must report each one exactly once through
`Runtime.result` (the runtime fails any job a runner leaves unreported). Add a kind by
writing a runner and listing it in RUNNERS.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from huggingface_hub.utils.tqdm import disable_progress_bars
from transformers.utils import logging as hf_logging

from bot.inference.devices import memory_budget_bytes, torch_device
from bot.inference.manager import ModelManager, ModelUnavailable
from bot.inference.text import GenerationSettings
from bot.jobs.imagine_task import run_imagine
from bot.jobs.worker import Message, WorkerConfig

log = logging.getLogger(__name__)

# Keep this many positions for the prompt when max_new_tokens nearly fills the context.
_PROMPT_ROOM = 32


@dataclass
class WorkerJob:
    id: int
    params: dict[str, Any]


@dataclass
class Runtime:
    config: WorkerConfig
    send: Callable[[Message], None]
    cancelled: set[int]
    device: Any = None
    models: ModelManager = field(init=False)
    _reported: set[int] = field(default_factory=set)
    _last_progress: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Progress bars would only clutter the bot's log; progress goes to chat instead.
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        disable_progress_bars()
        self.device = torch_device(self.config.device)
        budget = memory_budget_bytes(self.config.memory_budget_mb, self.device)
        self.models = ModelManager(self.device, budget, token=self.config.hf_token)

    def run_batch(self, message: Message) -> None:
        jobs = [WorkerJob(int(j["id"]), dict(j["params"])) for j in message["jobs"]]
        self._reported.clear()
        try:
            runner = RUNNERS[str(message["kind"])]
            runner(self, jobs)
        except ModelUnavailable as error:
            for job in jobs:
                self.result(job.id, "failed", error=str(error))
        except torch.OutOfMemoryError:
            # Free everything: the next job loads only what it needs.
            self.models.clear()
            for job in jobs:
                self.result(job.id, "failed", error="The model ran out of memory.")
        except Exception:
            log.exception("batch %s (%s) failed", message.get("batch"), message.get("kind"))
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
            self.send({"op": "batch_done", "batch": message.get("batch")})

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
        state: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        if job_id in self._reported:
            return
        self._reported.add(job_id)
        self.send({"op": "result", "id": job_id, "state": state, "result": result, "error": error})


# -- generate ------------------------------------------------------------------------------------


@dataclass
class _Row:
    job: WorkerJob
    index: int  # which of the job's runs
    run: dict[str, Any]


def _settings(run: dict[str, Any], context: int | None) -> GenerationSettings:
    settings = GenerationSettings(**run["settings"])
    if context is not None and settings.max_new_tokens > context - _PROMPT_ROOM:
        # text.py keeps `context - max_new_tokens` prompt tokens: leave the prompt some room.
        settings = dataclasses.replace(settings, max_new_tokens=max(1, context - _PROMPT_ROOM))
    return settings


def run_generate(rt: Runtime, jobs: list[WorkerJob]) -> None:
    """Every run of every job, one batched generate call per model (batch_key guarantees the
    jobs of one batch use the same models)."""
    groups: dict[str, list[_Row]] = {}
    for job in jobs:
        for index, run in enumerate(job.params["runs"]):
            groups.setdefault(str(run["model"]["id"]), []).append(_Row(job, index, run))
    outputs: dict[int, list[dict[str, Any] | None]] = {
        job.id: [None] * len(job.params["runs"]) for job in jobs
    }
    failed: dict[int, str] = {}
    # Progress per job counts the tokens of each of its model groups in turn.
    group_tokens = {
        (key, job.id): max(
            (r.run["settings"]["max_new_tokens"] for r in rows if r.job is job), default=0
        )
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
            model = rt.models.text_model(rows[0].run["model"], report)
        except ModelUnavailable as error:
            for job_id in members:
                failed[job_id] = str(error)
            continue
        requests = [(r.job.params["prompt"], _settings(r.run, model.context_length)) for r in rows]

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
            outputs[row.job.id][row.index] = {
                "label": row.run.get("label", ""),
                "model": row.run["model"],
                "model_params": model.num_parameters,
                "text": out.text,
                "tokens": out.tokens_generated,
                "finish": out.finish_reason,
                "seconds": round(out.seconds, 3),
                "seed": out.seed,
                "settings": dataclasses.asdict(out.settings),
                "prompt_tokens": out.prompt_tokens,
                "prompt_truncated": out.prompt_truncated,
                "batch_rows": len(rows),
                "device": str(model.device),
            }
        for job_id in members:
            done[job_id] += group_tokens[(key, job_id)]

    for job in jobs:
        runs = outputs[job.id]
        if job.id in failed:
            rt.result(job.id, "failed", error=failed[job.id])
        elif job.id in rt.cancelled or any(r is None or r["finish"] == "cancelled" for r in runs):
            rt.result(job.id, "cancelled", result={"runs": [r for r in runs if r]})
        else:
            rt.result(job.id, "succeeded", result={"runs": runs, "batch_jobs": len(jobs)})


RUNNERS: dict[str, Callable[[Runtime, list[WorkerJob]], None]] = {
    "generate": run_generate,
    "imagine": run_imagine,
}
