"""Is one left-padded batch faster than one call per prompt? Prints one JSON object.

For the tiny test model and for a gpt-neo-125m-sized *random* model (built in memory, nothing
downloaded): 16 prompts x 32 new tokens, sequential `TextModel.generate` calls vs one
`TextModel.generate_batch`; and raw `model.generate` vs `TextModel.generate` for one prompt (the
cost of our own decoding loop). Medians of a few repeats, the two ways
alternated so background load hits both.

    .venv/bin/python bench/bench_text_batching.py [--repeats 3] [--skip-large] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import AutoTokenizer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import TEXT_PROMPTS as PROMPTS  # noqa: E402
from bot.inference.text import GenerationSettings, TextModel  # noqa: E402
from tests.support.tiny_models import build_text_model, gpt_neo_125m_shaped  # noqa: E402

NEW_TOKENS = 32


def settings(i: int) -> GenerationSettings:
    # The classroom default: sampled, each student with their own seed.
    return GenerationSettings(max_new_tokens=NEW_TOKENS, temperature=0.8, top_k=50, seed=i)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def median(times: list[float]) -> float:
    return round(statistics.median(times), 4)


def bench(model: TextModel, repeats: int, seq_repeats: int) -> dict[str, Any]:
    requests = [(p, settings(i)) for i, p in enumerate(PROMPTS)]
    model.generate_batch(requests[:2])  # warm-up: first calls allocate and pick kernels

    # Alternate the two ways so that load from other processes hits both alike.
    seq_times: list[float] = []
    batch_times: list[float] = []
    alone: Any = None
    batched: Any = None
    for i in range(max(repeats, seq_repeats)):
        if i < seq_repeats:
            t, alone = timed(lambda: [model.generate(p, s) for p, s in requests])
            seq_times.append(t)
        if i < repeats:
            t, batched = timed(lambda: model.generate_batch(requests))
            batch_times.append(t)
    same = sum(a.token_ids == b.token_ids for a, b in zip(alone, batched, strict=True))

    # One prompt: transformers' own loop vs ours, same sampling settings.
    hf_model, tok = model._model, model._tokenizer
    enc = tok(PROMPTS[1], return_tensors="pt")
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    raw_times: list[float] = []
    ours_times: list[float] = []
    for _ in range(repeats):
        t, _out = timed(
            lambda: hf_model.generate(
                **enc, max_new_tokens=NEW_TOKENS, do_sample=True, temperature=0.8, top_k=50,
                pad_token_id=pad,
            )
        )  # fmt: skip
        raw_times.append(t)
        ours_times.append(timed(lambda: model.generate(*requests[1]))[0])
    seq_s, batch_s = median(seq_times), median(batch_times)
    raw_s, ours_s = median(raw_times), median(ours_times)
    return {
        "parameters": model.num_parameters,
        "memory_mb": round(model.memory_bytes / 2**20, 1),
        "tokens_generated": sum(r.tokens_generated for r in batched),
        "alone_equals_batched_rows": f"{same}/{len(requests)}",
        "sequential_s": seq_s,
        "sequential_runs": len(seq_times),
        "batched_s": batch_s,
        "batched_runs": len(batch_times),
        "batched_speedup": round(seq_s / batch_s, 2),
        "single_prompt": {
            "hf_generate_s": raw_s,
            "text_model_s": ours_s,
            "overhead_ratio": round(ours_s / raw_s, 2),
        },
    }


def large_random_model(tokenizer_dir: Path) -> TextModel:
    """gpt-neo-125m's shape with random weights and the tiny tokenizer."""
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    model = gpt_neo_125m_shaped(tokenizer.eos_token_id)
    return TextModel(model, tokenizer, name="gpt-neo-125m-shaped-random")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    # 16 sequential prompts on the 125M model take ~30-70 s on 2 cores: once by default.
    parser.add_argument("--large-seq-repeats", type=int, default=1)
    parser.add_argument("--skip-large", action="store_true")
    # 1 by default: on this shared 2-core box, torch's 2 spinning threads under other load made
    # the 125M sequential run 318 s instead of 59 s. Pass 0 for torch's default.
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: default)")
    args = parser.parse_args()
    transformers.logging.set_verbosity_error()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    out: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "device": "cpu",
            "load_avg_1min_at_start": round(os.getloadavg()[0], 2),
        },
        "prompts": len(PROMPTS),
        "new_tokens": NEW_TOKENS,
        "repeats": args.repeats,
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        tiny_dir = build_text_model(Path(tmp) / "tiny")
        out["models"]["tiny"] = bench(TextModel.load(tiny_dir), args.repeats, args.repeats)
        if not args.skip_large:
            large = large_random_model(tiny_dir)
            out["models"]["gpt-neo-125m-random"] = bench(
                large, args.repeats, args.large_seq_repeats
            )
    out["machine"]["load_avg_1min_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
