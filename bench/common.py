"""Pieces the benchmarks share: students, prompts, a result-recording outbox, percentiles,
and where the full recorded Hub data is."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn

from bot.app import App, create_app
from bot.config import Settings
from bot.identity import Actor, Role
from bot.jobs.engine import BURST_GAP
from bot.replies import Progress

TEXT_PROMPTS = [
    "The cat sat on",
    "Once upon a time there was a little robot who lived in a classroom and",
    "Hi",
    "Tokens are pieces of words, and numbers like 42 are split",
    "A language model reads a prompt and predicts",
    "In the morning we write code, in the afternoon we",
    "Questions?",
    "The Hugging Face Hub is a place where people share machine learning models, datasets and",
    "Sampling picks a word at random",
    "Bigger models need more memory",
    "The bird sang in the tree by the window while the dog",
    "Top-p sampling keeps the smallest set of words whose probabilities",
    "Hello class",
    "Every afternoon the robot helped the students with their homework, and every evening it",
    "Red, green, blue:",
    "Small models are fast but forget the topic quickly, so",
]


# The full recording of the Hub (the repository keeps a trimmed copy in tests/data/hubdata).
HUBDATA_ENV = "CLASSBOT_HUBDATA"
_HUBDATA_BESIDE = Path(__file__).resolve().parents[2] / "shared" / "hubdata"


def full_hubdata() -> Path | None:
    """$CLASSBOT_HUBDATA, else ../shared/hubdata beside the checkout; None when not there."""
    path = Path(os.environ.get(HUBDATA_ENV) or _HUBDATA_BESIDE)
    return path if path.is_dir() else None


def skip(bench: str, reason: str) -> NoReturn:
    """Say why a bench did not run (one JSON line, like a result) and exit 0: `make bench`
    goes on with the others."""
    print(json.dumps({"bench": bench, "skipped": reason}))
    sys.exit(0)


def student(user: str) -> Actor:
    return Actor("console", user, user, Role.STUDENT, "bench", "bench")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def job_key(label: str) -> str:
    """The delivery key of a job from its queued reply's label ("… (job N)")."""
    return f"job:{int(label.rsplit('job ', 1)[1].rstrip(')'))}"


class ResultOutbox:
    """An outbox that records when each job's result (not its progress) arrives."""

    def __init__(self) -> None:
        self.done: dict[str, float] = {}
        self.replies: dict[str, Any] = {}
        self.changed = asyncio.Event()

    async def send(self, destination: Any, reply: Any, *, key: str | None = None) -> None:
        if not isinstance(reply, Progress) and key is not None:
            self.done[key] = time.perf_counter()
            self.replies[key] = reply
            self.changed.set()

    async def wait(self, keys: set[str]) -> None:
        while not keys <= self.done.keys():
            self.changed.clear()
            await self.changed.wait()


@asynccontextmanager
async def started_bot(**overrides: Any) -> AsyncIterator[tuple[App, ResultOutbox]]:
    """A started bot on a throwaway SQLite file, with no class limits in the way and an
    outbox that records results."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{tmp}/bench.db",
            rate_limit_per_minute=100_000,
            rate_limit_burst=100_000,
            max_queued_jobs_per_user=1000,
            **overrides,
        )
        app = await create_app(settings)
        outbox = ResultOutbox()
        app.services.outboxes["console"] = outbox
        await app.start()
        try:
            yield app, outbox
        finally:
            await app.close()


async def latency_medians(
    app: App,
    end_to_end: Callable[[], Awaitable[float]],
    raw: Callable[[], float],
    *,
    repeats: int,
) -> tuple[float, float]:
    """Median seconds of one job through the whole bot, and of the same work done raw in
    this process, in turn (after one unmeasured run of each).

    Both start after the same pause, longer than BURST_GAP: one student's commands arrive
    alone (closer arrivals are a burst, which the engine holds back on purpose to batch;
    the throughput part measures that), and a machine that has been idle for a moment runs
    the first forward pass slower (on a 2-core machine a tiny model's 0.8 ms became 2 to
    13 ms as torch's threads woke), so neither side may skip that. Each job also starts
    on a quiet bot: the previous one's records are written."""
    pause = 2 * BURST_GAP
    await end_to_end()
    raw()
    e2e: list[float] = []
    direct: list[float] = []
    for _ in range(repeats):
        await asyncio.sleep(pause)
        e2e.append(await end_to_end())
        await app.wait_idle()
        await asyncio.sleep(pause)
        direct.append(raw())
    return statistics.median(e2e), statistics.median(direct)


class WorkerStages:
    """When each job went to the worker and when its result came back, from the engine's own
    worker links (their send, and the reader thread's hand-over), so a job's end-to-end time
    splits into the bot before the worker, the worker, and the bot after it."""

    def __init__(self, app: App) -> None:
        self.sent: dict[int, float] = {}
        self.back: dict[int, float] = {}
        assert app.queue.pool is not None, "start the app first"
        for link in app.queue.pool.links:
            self._watch(link)

    def _watch(self, link: Any) -> None:
        send, emit = link.send, link._emit

        def timed_send(message: Any) -> bool:
            if message["op"] == "run":
                now = time.perf_counter()
                self.sent.update((int(job["id"]), now) for job in message["jobs"])
            return bool(send(message))

        def timed_emit(generation: int, message: Any) -> None:
            if message["op"] == "result":
                self.back[int(message["id"])] = time.perf_counter()
            emit(generation, message)

        link.send, link._emit = timed_send, timed_emit
