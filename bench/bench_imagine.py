"""/imagine through the whole bot: router → prompt filter → guard → jobs table → worker process
→ relay → outbox. Prints JSON.

- overhead: end-to-end /imagine time (command typed → PNG delivered) ÷ a raw diffusers
  pipeline call in this process with the same model and settings (goal: ≤ 1.05);
- throughput: N /imagine commands from N students at once (the engine batches them into one
  pipeline call, one generator per image) vs the same N one after another.

    .venv/bin/python bench/bench_imagine.py [--size 256] [--steps 4] [--repeats 5] [--images 8]

Runs on the tiny random SD pipeline (tests/support/tiny_image_model.py) on CPU; 256×256 is
the largest size it makes in about a second. bench/bench_image_gpu.py measures the image core
on an SD-1.5-shaped pipeline on CUDA.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import job_key, started_bot  # noqa: E402
from bench.common import student as _actor  # noqa: E402

GUIDANCE = 7.5
PROMPTS = [
    "a red fox in the snow",
    "a castle on a hill at sunset",
    "a robot teacher in a classroom",
    "a blue whale under the sea",
    "a bowl of ramen, watercolor",
    "a lighthouse in a storm",
    "a cat astronaut",
    "a forest of giant mushrooms",
]


async def _submit(app: Any, line: str, user: str) -> str:
    """Run one /imagine; the key its result is delivered under."""
    replies = [r async for r in app.router.run_line(line, _actor(user))]
    return job_key(replies[-1].label)


def _together(caption: str) -> int:
    if " images together)" not in caption:
        return 1
    return int(caption.split(" images together)")[0].rsplit("(", 1)[1])


class RawPipeline:
    """diffusers' own pipeline call in this process: what /imagine wraps."""

    def __init__(self, model_dir: Path, size: int, steps: int) -> None:
        import torch
        from diffusers import AutoPipelineForText2Image

        self.torch, self.size, self.steps = torch, size, steps
        self.pipe = AutoPipelineForText2Image.from_pretrained(model_dir, use_safetensors=True)
        self.pipe.set_progress_bar_config(disable=True)

    def seconds(self, seed: int) -> float:
        start = time.perf_counter()
        self.pipe(
            prompt=PROMPTS[0],
            num_inference_steps=self.steps,
            guidance_scale=GUIDANCE,
            width=self.size,
            height=self.size,
            generator=self.torch.Generator("cpu").manual_seed(seed),
        )
        return time.perf_counter() - start


async def bench_bot(model_dir: Path, size: int, steps: int, repeats: int, images: int) -> Any:

    line = '/imagine prompt:"{}" steps:{} guidance:{} seed:{} size:{}'
    async with started_bot(
        image_model=str(model_dir),
        image_max_size=1024,
        device="cpu",
    ) as (app, outbox):
        # Warm up: start the worker, load the model, first-call allocations.
        for i in range(2):
            key = await _submit(app, line.format(PROMPTS[0], steps, GUIDANCE, i, size), "w")
            await outbox.wait({key})

        raw = RawPipeline(model_dir, size, steps)
        raw.seconds(0)
        # Interleaved, so both see the same machine load.
        e2e, direct = [], []
        for i in range(repeats):
            start = time.perf_counter()
            key = await _submit(app, line.format(PROMPTS[0], steps, GUIDANCE, i, size), "lat")
            await outbox.wait({key})
            e2e.append(outbox.done[key] - start)
            await app.wait_idle()  # its records are written: the next starts on a quiet bot
            direct.append(raw.seconds(i))
        del raw

        start = time.perf_counter()
        for i, prompt in enumerate(PROMPTS[:images]):
            key = await _submit(app, line.format(prompt, steps, GUIDANCE, i, size), f"s{i}")
            await outbox.wait({key})
        sequential = time.perf_counter() - start

        # A student's first command also creates their user row: do that beforehand,
        # as in a class where everyone has used the bot already.
        for i in range(images):
            [_ async for _ in app.router.run_line("/help", _actor(f"c{i}"))]
        start = time.perf_counter()
        keys = await asyncio.gather(
            *(
                _submit(app, line.format(prompt, steps, GUIDANCE, i, size), f"c{i}")
                for i, prompt in enumerate(PROMPTS[:images])
            )
        )
        await outbox.wait(set(keys))
        concurrent = time.perf_counter() - start
        # How many images shared each job's pipeline call (from the caption).
        together = sorted(_together(outbox.replies[k].caption) for k in keys)
    end_to_end, raw_s = statistics.median(e2e), statistics.median(direct)
    return {
        "size": size,
        "steps": steps,
        "guidance": GUIDANCE,
        "end_to_end_s": round(end_to_end, 4),
        "raw_pipeline_s": round(raw_s, 4),
        "latency_ratio": round(end_to_end / raw_s, 3),
        "latency_goal": "<= 1.05",
        "images": images,
        "one_by_one_s": round(sequential, 3),
        "batched_s": round(concurrent, 3),
        "one_by_one_images_per_s": round(images / sequential, 3),
        "batched_images_per_s": round(images / concurrent, 3),
        "throughput_ratio": round(sequential / concurrent, 2),
        "images_per_pipeline_call": together,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images", type=int, default=8)
    args = parser.parse_args()
    from tests.support.tiny_image_model import build_image_model

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_image_model(Path(tmp) / "tiny-sd")
        result = {"model": "tiny random SD pipeline", "device": "cpu"}
        result.update(
            asyncio.run(bench_bot(model_dir, args.size, args.steps, args.repeats, args.images))
        )
    print(json.dumps(result, indent=2))


# The worker is started with `spawn`, which re-imports this file: keep the work under main.
if __name__ == "__main__":
    main()
