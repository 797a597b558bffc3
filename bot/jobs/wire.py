"""The messages between the bot and a model worker (a local process or an RQ worker).

Torch-free and JSON-friendly: the same dicts go over a multiprocessing Pipe and, as JSON,
over Redis. Bot → worker: run, cancel, stop. Worker → bot: ready, progress, result,
batch_done, alive (an RQ worker's heartbeat); and `exit`, made by the bot's side of the link
when the worker is gone (killed, out of memory, crashed, or silent past its lease).

Each message from a worker carries the `generation` of the link's run that produced it
(stamped by the link as it arrives), so late messages from a replaced process are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

JobOutcome = Literal["succeeded", "failed", "cancelled"]


class RunJob(TypedDict):
    id: int
    params: dict[str, Any]  # the kind's params, as JSON (JobKind.params_type.to_json)


class Run(TypedDict):
    op: Literal["run"]
    batch: str
    kind: str
    jobs: list[RunJob]


class Cancel(TypedDict):
    op: Literal["cancel"]
    id: int


class Stop(TypedDict):
    op: Literal["stop"]


ToWorker = Run | Cancel | Stop


class Ready(TypedDict):
    op: Literal["ready"]
    device: str
    pid: int
    generation: NotRequired[int]


class Progress(TypedDict):
    op: Literal["progress"]
    id: int
    step: int
    total: int
    label: str
    generation: NotRequired[int]


# A failed job's result may say what the student can do about it, {TODO: "…"}: a problem
# with their input, which trying again would not fix (the reply says to try again otherwise).
TODO = "todo"


class Result(TypedDict):
    op: Literal["result"]
    id: int
    state: JobOutcome
    # The kind's result, as JSON (JobKind.result_type.to_json); failed: None or {TODO: …}.
    result: dict[str, Any] | None
    error: str | None
    generation: NotRequired[int]


class BatchDone(TypedDict):
    op: Literal["batch_done"]
    batch: str
    generation: NotRequired[int]


class Alive(TypedDict):
    op: Literal["alive"]
    generation: NotRequired[int]


class Exit(TypedDict):
    op: Literal["exit"]
    code: int | None
    generation: NotRequired[int]


FromWorker = Ready | Progress | Result | BatchDone | Alive | Exit


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a model worker needs: no database, no chat, no bot settings."""

    device: str  # a planned name: "cpu", "cuda:0", "mps" (bot.inference.devices)
    memory_budget_mb: int = 0
    hf_token: str | None = None
    # The worker sends at most one progress message per job this often (the bot coalesces
    # further for chat edits).
    progress_interval: float = 0.25
    # Where and how much the worker logs: as the bot process does (bot.logs.for_workers).
    log_level: str = "WARNING"
    log_file: str | None = None
