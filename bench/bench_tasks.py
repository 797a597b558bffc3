"""/run text-classification through the whole bot: router → jobs table → worker → relay.
Prints JSON.

- throughput: 16 concurrent /run (16 students) vs the same 16 one after another on the same
  model (goal: ≥ 4x, from batching them into one forward pass);
- overhead: end-to-end /run latency ÷ a raw transformers `pipeline("text-classification")`
  call on the same model and text in-process (goal: ≤ 1.10), and each job's time split into
  the model's own time in the worker and everything outside it (the bot, the pipe).

    .venv/bin/python bench/bench_tasks.py [--repeats 15] [--rounds 9] [--size tiny|base|both]

`tiny` is the test suite's 27K-parameter BERT; `base` has DistilBERT-base's shape (66M
parameters, random weights, the tiny tokenizer), where the model's own time dominates as
it does in class.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    ResultOutbox,
    WorkerStages,
    job_key,
    latency_medians,
    started_bot,
)
from bench.common import student as _actor  # noqa: E402
from bot.app import App  # noqa: E402
from bot.jobs.engine import BURST_GAP  # noqa: E402
from bot.jobs.kinds.run import RUN  # noqa: E402
from bot.jobs.records import view  # noqa: E402
from bot.store.models import Job  # noqa: E402

# How long the command's first reply takes to reach a chat platform and come back.
PLATFORM_ROUND_TRIP = 0.1

TEXTS = [
    "I loved this film, the students laughed all the way through",
    "What a terrible class",
    "The cat sat on the mat",
    "Hello",
    "The weather is sunny today and we need a new phone",
    "My model is very bad at this",
    "Good morning, thank you very much",
    "The dog barks at the students in the city",
    "Paris is the capital of France",
    "I hated it",
    "We love the hub",
    "A sentence about words and text and models",
    "Who runs the class?",
    "Great!",
    "The movie was not good, but the cat was great",
    "They like running in the rain",
]


async def _submit(app: Any, line: str, user: str) -> str:
    replies = [r async for r in app.router.run_line(line, _actor(user))]
    return job_key(replies[-1].label)


class RawPipeline:
    """transformers' own text-classification pipeline on the same folder, in this process."""

    def __init__(self, model_dir: Path) -> None:
        from transformers import pipeline

        self.pipe = pipeline("text-classification", model=str(model_dir), device="cpu", top_k=None)

    def seconds(self, text: str) -> float:
        start = time.perf_counter()
        self.pipe(text, truncation=True)
        return time.perf_counter() - start


LINE = "/run task:text-classification {}"


@asynccontextmanager
async def warm_bot(model_dir: Path) -> AsyncIterator[tuple[App, ResultOutbox]]:
    """A started bot whose worker has loaded the model (the "warmup" student's job)."""
    async with started_bot(
        text_classification_model=str(model_dir), device="cpu", max_batch_size=16
    ) as (app, outbox):
        await outbox.wait({await _submit(app, LINE.format(TEXTS[0]), "warmup")})
        yield app, outbox


async def throughput(model_dir: Path) -> dict[str, Any]:
    """16 students one after another, then the same 16 at once."""
    async with warm_bot(model_dir) as (app, outbox):
        start = time.perf_counter()
        for i, text in enumerate(TEXTS):
            await outbox.wait({await _submit(app, LINE.format(text), f"seq{i}")})
        sequential = time.perf_counter() - start

        start = time.perf_counter()
        keys = await asyncio.gather(
            *(_submit(app, LINE.format(text), f"con{i}") for i, text in enumerate(TEXTS))
        )
        await outbox.wait(set(keys))
        concurrent = time.perf_counter() - start
    return {
        "sequential_16_s": round(sequential, 3),
        "concurrent_16_s": round(concurrent, 3),
        "throughput_ratio": round(sequential / concurrent, 2),
        "throughput_goal": ">= 4",
    }


async def latency(model_dir: Path, repeats: int) -> dict[str, float]:
    """One lone job at a time through a new bot (and its new worker process) vs the raw
    pipeline newly loaded here; medians in seconds."""
    async with warm_bot(model_dir) as (app, outbox):
        raw = RawPipeline(model_dir)
        stages = WorkerStages(app)
        split: list[tuple[float, float, float]] = []
        timed: dict[int, float] = {}  # job id: its end-to-end seconds

        async def end_to_end() -> float:
            # One student, known since the warm-up: a student's first command also creates
            # their user row (once a class).
            start = time.perf_counter()
            key = await _submit(app, LINE.format(TEXTS[0]), "warmup")
            await outbox.wait({key})
            job = int(key.split(":")[1])
            sent, back, done = stages.sent[job], stages.back[job], outbox.done[key]
            split.append((sent - start, back - sent, done - back))
            timed[job] = done - start
            return done - start

        end_to_end_s, raw_s = await latency_medians(
            app, end_to_end, lambda: raw.seconds(TEXTS[0]), repeats=repeats
        )
        before, worker, after = (statistics.median(s[i] for s in split[1:]) for i in range(3))
        model = await model_seconds(app, list(timed)[1:])

        async def with_round_trip() -> float:
            # As on Discord or Slack: the command's first reply ("starting (job N)") takes
            # a round trip to the platform before the command goes on.
            start = time.perf_counter()
            replies = app.router.run_line(LINE.format(TEXTS[0]), _actor("warmup"))
            key = job_key((await anext(replies)).label)
            await asyncio.sleep(PLATFORM_ROUND_TRIP)
            async for _ in replies:
                pass
            await outbox.wait({key})
            return outbox.done[key] - start

        round_trips = []
        for _ in range(max(5, repeats // 2)):
            await asyncio.sleep(2 * BURST_GAP)
            round_trips.append(await with_round_trip())
            await app.wait_idle()
    return {
        "end_to_end": end_to_end_s,
        "raw": raw_s,
        "before": before,
        "worker": worker,
        "after": after,
        "model": statistics.median(model.values()),
        "outside_model": statistics.median(timed[job] - model[job] for job in model),
        "round_trip": statistics.median(round_trips),
    }


async def model_seconds(app: App, jobs: list[int]) -> dict[int, float]:
    """The model's own time for each job, as its worker measured it (the result's time
    taken, around the tokenizer and the forward pass), read once the jobs are recorded."""
    async with app.services.store.session() as session:
        stored = [await session.get(Job, job) for job in jobs]
    return {job.id: RUN.result_of(view(job)).outputs[0].seconds for job in stored if job}


async def bench_bot(model_dir: Path, repeats: int, rounds: int) -> dict[str, Any]:
    result = await throughput(model_dir)
    # Each round has a new worker process and a new raw pipeline: the same forward pass
    # takes a few ms more or less in one process than in another (measured, the bot left
    # out: a worker process 0.1 to 3.3 ms slower than this process on a 50 ms pass, from
    # one pair of processes to the next), so one pair alone would decide the ratio.
    measured = [await latency(model_dir, repeats) for _ in range(rounds)]
    ratios = [m["end_to_end"] / m["raw"] for m in measured]

    def ms(name: str) -> float:
        return round(statistics.median(m[name] for m in measured) * 1000, 2)

    result.update(
        {
            "end_to_end_ms": ms("end_to_end"),
            "raw_pipeline_ms": ms("raw"),
            "latency_ratio": round(statistics.median(ratios), 3),
            "latency_ratio_each_round": [round(r, 3) for r in ratios],
            "latency_goal": "<= 1.10",
            # Medians of the timed jobs: the command until the job is sent to the worker,
            # the worker (process hand-over, the model, the answer), its result until
            # delivered.
            "bot_before_worker_ms": ms("before"),
            "worker_ms": ms("worker"),
            "bot_after_worker_ms": ms("after"),
            # The same job split the other way: the model's own time in the worker (which
            # moves with the process pair, as the raw call does), and everything else
            # (the bot, the pipe, the worker's preparing and answering).
            "model_in_worker_ms": ms("model"),
            "outside_the_model_ms": ms("outside_model"),
            # The same job when the first reply takes a platform round trip: the model
            # runs meanwhile, so this is about the round trip alone, not the round trip
            # plus the model.
            "with_100ms_first_reply_ms": ms("round_trip"),
        }
    )
    return result


def build(size: str, folder: Path) -> tuple[Path, str]:
    from tests.support.tiny_task_models import build_task_models, distilbert_base_shaped

    if size == "tiny":
        return build_task_models(folder)["text-classification"], "tiny BERT (27K parameters)"
    return distilbert_base_shaped(folder / "base"), "DistilBERT-base shape (66M parameters)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--size", choices=("tiny", "base", "both"), default="both")
    args = parser.parse_args()
    sizes = ("tiny", "base") if args.size == "both" else (args.size,)
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            model_dir, label = build(size, Path(tmp))
            result: dict[str, Any] = {"bench": "tasks", "model": label, "device": "cpu"}
            result.update(asyncio.run(bench_bot(model_dir, args.repeats, args.rounds)))
        # The worker runs at nice 10 (chat first): on a busy machine it gets less CPU than
        # the in-process raw call, so the load is part of the result.
        result["load_average_1min"] = round(os.getloadavg()[0], 2)
        print(json.dumps(result))


# The worker is started with `spawn`, which re-imports this file: keep the work under main.
if __name__ == "__main__":
    main()
