"""CPU bench of the image core on the tiny offline model; prints one JSON object.

    .venv/bin/python bench/bench_image.py [--repeats 5] [--threads 1] [--sizes 64,256]

For each size, 4 Euler steps, guidance 7.5:
- overhead: median seconds of a raw `pipe(...)` call vs `ImageModel.generate` with the
  same settings (generate adds generators, the step callback and PNG encoding);
- batching: one generate() call of 4 requests vs 4 generate() calls of one.

Runs on 1 torch thread by default: the tiny model gains nothing from more, and on a shared
box spinning OpenMP threads make timings swing by 10x.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.inference.image import ImageModel, ImageSettings  # noqa: E402
from tests.support.tiny_image_model import build_image_model  # noqa: E402

STEPS = 4
GUIDANCE = 7.5


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each fn, timed in turn within each round so that load drifting on
    a shared box hits every variant alike."""
    for fn in fns.values():
        fn()  # warm-up: first calls pay for allocator growth and kernel selection
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def bench_size(model: ImageModel, size: int, repeats: int) -> dict[str, float]:
    pipe = model.pipeline
    one = ImageSettings(
        "a red cat", steps=STEPS, guidance=GUIDANCE, seed=1, width=size, height=size
    )
    four = [
        ImageSettings(p, steps=STEPS, guidance=GUIDANCE, seed=s, width=size, height=size)
        for s, p in enumerate(["a red cat", "a blue dog", "a castle", "a rocket"], start=1)
    ]

    def raw() -> object:
        return pipe(
            prompt=["a red cat"],
            negative_prompt=[""],
            num_inference_steps=STEPS,
            guidance_scale=GUIDANCE,
            width=size,
            height=size,
            generator=[torch.Generator().manual_seed(1)],
            output_type="pil",
        )

    m = interleaved_medians(
        {
            "raw": raw,
            "generate": lambda: model.generate([one]),
            "batch": lambda: model.generate(four),
            "sequential": lambda: [model.generate([s]) for s in four],
        },
        repeats,
    )
    raw_s, generate_s = m["raw"], m["generate"]
    batch_s, sequential_s = m["batch"], m["sequential"]
    return {
        "raw_pipe_s": round(raw_s, 4),
        "generate_s": round(generate_s, 4),
        "overhead_ratio": round(generate_s / raw_s, 3),
        "batch4_s": round(batch_s, 4),
        "one_by_one4_s": round(sequential_s, 4),
        "batch4_images_per_s": round(4 / batch_s, 2),
        "one_by_one_images_per_s": round(4 / sequential_s, 2),
        "batch_throughput_ratio": round(sequential_s / batch_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", default="64,256")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        path = build_image_model(Path(tmp) / "tiny-sd")
        model = ImageModel.load(path, device="cpu")
        load_s = time.perf_counter() - started
        report: dict[str, object] = {
            "model": "tiny random SD (tests/support/tiny_image_model.py)",
            "device": "cpu",
            "torch_threads": torch.get_num_threads(),
            "steps": STEPS,
            "guidance": GUIDANCE,
            "repeats": args.repeats,
            "statistic": "median",
            "build_and_load_s": round(load_s, 3),
            "num_parameters": model.num_parameters,
        }
        for size in (int(s) for s in args.sizes.split(",")):
            report[f"{size}x{size}"] = bench_size(model, size, args.repeats)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
