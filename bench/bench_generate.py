"""/generate through the whole bot: router → jobs table → worker process → relay. Prints JSON.

- throughput: 16 concurrent /generate (16 students) vs the same 16 one after another
  (goal: ≥ 4x, from dynamic batching);
- overhead: end-to-end /generate latency ÷ raw `model.generate` for the same prompt and
  settings in-process (goal: ≤ 1.10);
- ack latency: p50/p99 of 200 concurrent /jobs commands through the router while the worker
  is busy, and while it is idle (goal: p99 ≤ 20 ms); and the event loop's worst lag then.

    .venv/bin/python bench/bench_generate.py [--tokens 50] [--repeats 11]

Runs on the tiny test model on CPU; bench/bench_generate_gpu.py runs the same on a
gpt-neo-125m-sized model on CUDA.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import TEXT_PROMPTS as PROMPTS  # noqa: E402
from bench.common import (  # noqa: E402
    job_key,
    latency_medians,
    percentile,
    started_bot,
)
from bench.common import student as _actor  # noqa: E402


async def _submit(app: Any, line: str, user: str) -> tuple[str, float]:
    """Run one /generate; its job key and how long until its first reply (the ack)."""
    start = time.perf_counter()
    replies = [r async for r in app.router.run_line(line, _actor(user))]
    return job_key(replies[-1].label), time.perf_counter() - start


async def _acks(app: Any, n: int, spacing: float = 0.0) -> list[float]:
    """First-reply latency of n /jobs commands by n students, all at once (spacing 0) or
    one every `spacing` seconds (a class clicking within a second or two)."""

    async def one(i: int) -> float:
        await asyncio.sleep(i * spacing)
        start = time.perf_counter()
        async for _ in app.router.run_line("/jobs", _actor(f"viewer{i}")):
            break  # the first reply is the ack
        return time.perf_counter() - start

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def _measure(app: Any, spacing: float) -> dict[str, float]:
    stop = asyncio.Event()
    lag = asyncio.create_task(_loop_lag(stop))
    acks = await _acks(app, 200, spacing)
    stop.set()
    ms = 1000.0
    return {
        "p50_ms": round(percentile(acks, 0.5) * ms, 1),
        "p99_ms": round(percentile(acks, 0.99) * ms, 1),
        "loop_lag_max_ms": round(await lag * ms, 1),
    }


async def _quiet_lag(seconds: float) -> float:
    stop = asyncio.Event()
    lag = asyncio.create_task(_loop_lag(stop))
    await asyncio.sleep(seconds)
    stop.set()
    return await lag


async def _loop_lag(stop: asyncio.Event) -> float:
    worst = 0.0
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        worst = max(worst, time.perf_counter() - start - 0.001)
    return worst


class RawGenerate:
    """transformers' own `generate` in this process, greedy, exactly `tokens` new tokens."""

    def __init__(self, model_dir: Path, device: str, tokens: int) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        self.torch, self.device, self.tokens = torch, device, tokens
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
        self.model = torch.nn.Module.to(model, device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.inputs = self.tokenizer(PROMPTS[0], return_tensors="pt").to(device)

    def seconds(self) -> float:
        cuda = self.device.startswith("cuda")
        with self.torch.inference_mode():
            if cuda:
                self.torch.cuda.synchronize()
            start = time.perf_counter()
            self.model.generate(
                **self.inputs,
                max_new_tokens=self.tokens,
                min_new_tokens=self.tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.eos_token_id,
            )
            if cuda:
                self.torch.cuda.synchronize()
        return time.perf_counter() - start


async def bench_bot(model_dir: Path, device: str, tokens: int, repeats: int) -> dict[str, Any]:
    async with started_bot(
        text_model=str(model_dir),
        device=device,
    ) as (app, outbox):
        line = '/generate prompt:"{}" max_new_tokens:{} seed:{}'
        # Warm up: start the worker, load the model.
        key, _ = await _submit(app, line.format(PROMPTS[0], tokens, 0), "warmup")
        await outbox.wait({key})

        start = time.perf_counter()
        for i, prompt in enumerate(PROMPTS):
            key, _ = await _submit(app, line.format(prompt, tokens, i), f"seq{i}")
            await outbox.wait({key})
        sequential = time.perf_counter() - start

        start = time.perf_counter()
        submitted = await asyncio.gather(
            *(
                _submit(app, line.format(prompt, tokens, i), f"con{i}")
                for i, prompt in enumerate(PROMPTS)
            )
        )
        await outbox.wait({key for key, _ in submitted})
        concurrent = time.perf_counter() - start

        raw = RawGenerate(model_dir, device, tokens)
        greedy = f'/generate prompt:"{PROMPTS[0]}" max_new_tokens:{tokens}'

        async def end_to_end() -> float:
            # One student, known since the warm-up: a student's first command also creates
            # their user row (once a class).
            start = time.perf_counter()
            key, _ = await _submit(app, greedy, "warmup")
            await outbox.wait({key})
            return outbox.done[key] - start

        end_to_end_s, raw_s = await latency_medians(app, end_to_end, raw.seconds, repeats=repeats)
        del raw

        # Each student's first command also creates their user row: warm them first.
        await _acks(app, 200)
        acks: dict[str, Any] = {
            "idle_burst": await _measure(app, 0.0),
            "idle_paced_5ms": await _measure(app, 0.005),
        }
        busy_line = '/generate prompt:"busy" max_new_tokens:256 seed:{}'
        # Enough 224-token batches to keep the worker busy through all three measurements.
        busy = [await _submit(app, busy_line.format(i), f"busy{i}") for i in range(64)]
        await asyncio.sleep(0.3)  # the batch is running in the worker now
        acks["busy_loop_lag_no_commands_ms"] = round(await _quiet_lag(0.5) * 1000, 1)
        acks["busy_burst"] = await _measure(app, 0.0)
        acks["busy_paced_5ms"] = await _measure(app, 0.005)
        acks["worker_busy_throughout"] = not {k for k, _ in busy} <= outbox.done.keys()
        acks["goal"] = "p99 <= 20 ms"
        await outbox.wait({key for key, _ in busy})
    return {
        "tokens_per_job": tokens,
        "sequential_16_s": round(sequential, 3),
        "concurrent_16_s": round(concurrent, 3),
        "throughput_ratio": round(sequential / concurrent, 2),
        "throughput_goal": ">= 4",
        "end_to_end_s": round(end_to_end_s, 4),
        "raw_generate_s": round(raw_s, 4),
        "latency_ratio": round(end_to_end_s / raw_s, 3),
        "latency_goal": "<= 1.10",
        "acks": acks,
    }


def run(model_dir: Path, device: str, tokens: int, repeats: int) -> dict[str, Any]:
    return asyncio.run(bench_bot(model_dir, device, tokens, repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    from tests.support.tiny_models import build_text_model

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_text_model(Path(tmp) / "tiny-gpt-neo")
        result = {"model": "tiny GPT-Neo (165K parameters)", "device": "cpu"}
        result.update(run(model_dir, "cpu", args.tokens, args.repeats))
    print(json.dumps(result, indent=2))


# The worker is started with `spawn`, which re-imports this file: keep the work under main.
if __name__ == "__main__":
    main()
