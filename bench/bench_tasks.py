"""/run text-classification through the whole bot: router → jobs table → worker → relay.
Prints JSON.

- throughput: 16 concurrent /run (16 students) vs the same 16 one after another on the same
  model (goal: ≥ 4x, from batching them into one forward pass);
- overhead: end-to-end /run latency ÷ a raw transformers `pipeline("text-classification")`
  call on the same model and text in-process (goal: ≤ 1.10).

    .venv/bin/python bench/bench_tasks.py [--repeats 21] [--size tiny|base|both]

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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import WorkerStages, job_key, latency_medians, started_bot  # noqa: E402
from bench.common import student as _actor  # noqa: E402

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


async def bench_bot(model_dir: Path, repeats: int) -> dict[str, Any]:
    async with started_bot(
        text_classification_model=str(model_dir), device="cpu", max_batch_size=16
    ) as (app, outbox):
        line = "/run task:text-classification {}"
        await outbox.wait({await _submit(app, line.format(TEXTS[0]), "warmup")})

        start = time.perf_counter()
        for i, text in enumerate(TEXTS):
            await outbox.wait({await _submit(app, line.format(text), f"seq{i}")})
        sequential = time.perf_counter() - start

        start = time.perf_counter()
        keys = await asyncio.gather(
            *(_submit(app, line.format(text), f"con{i}") for i, text in enumerate(TEXTS))
        )
        await outbox.wait(set(keys))
        concurrent = time.perf_counter() - start

        raw = RawPipeline(model_dir)
        stages = WorkerStages(app)
        split: list[tuple[float, float, float]] = []

        async def end_to_end() -> float:
            # One student, known since the warm-up: a student's first command also creates
            # their user row (once a class).
            start = time.perf_counter()
            key = await _submit(app, line.format(TEXTS[0]), "warmup")
            await outbox.wait({key})
            job = int(key.split(":")[1])
            sent, back, done = stages.sent[job], stages.back[job], outbox.done[key]
            split.append((sent - start, back - sent, done - back))
            return done - start

        end_to_end_s, raw_s = await latency_medians(
            app, end_to_end, lambda: raw.seconds(TEXTS[0]), repeats=repeats
        )
        before, worker, after = (statistics.median(s[i] for s in split[1:]) for i in range(3))
    return {
        "sequential_16_s": round(sequential, 3),
        "concurrent_16_s": round(concurrent, 3),
        "throughput_ratio": round(sequential / concurrent, 2),
        "throughput_goal": ">= 4",
        "end_to_end_s": round(end_to_end_s, 4),
        "raw_pipeline_s": round(raw_s, 4),
        "latency_ratio": round(end_to_end_s / raw_s, 3),
        "latency_goal": "<= 1.10",
        # Medians of the timed jobs: the command until the job is sent to the worker, the
        # worker (process hand-over, the model, the answer), its result until delivered.
        "bot_before_worker_ms": round(before * 1000, 2),
        "worker_ms": round(worker * 1000, 2),
        "bot_after_worker_ms": round(after * 1000, 2),
    }


def build(size: str, folder: Path) -> tuple[Path, str]:
    from tests.support.tiny_task_models import build_task_models, distilbert_base_shaped

    if size == "tiny":
        return build_task_models(folder)["text-classification"], "tiny BERT (27K parameters)"
    return distilbert_base_shaped(folder / "base"), "DistilBERT-base shape (66M parameters)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--size", choices=("tiny", "base", "both"), default="both")
    args = parser.parse_args()
    sizes = ("tiny", "base") if args.size == "both" else (args.size,)
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            model_dir, label = build(size, Path(tmp))
            result: dict[str, Any] = {"bench": "tasks", "model": label, "device": "cpu"}
            result.update(asyncio.run(bench_bot(model_dir, args.repeats)))
        # The worker runs at nice 10 (chat first): on a busy machine it gets less CPU than
        # the in-process raw call, so the load is part of the result.
        result["load_average_1min"] = round(os.getloadavg()[0], 2)
        print(json.dumps(result))


# The worker is started with `spawn`, which re-imports this file: keep the work under main.
if __name__ == "__main__":
    main()
