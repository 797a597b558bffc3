"""bench/bench_generate.py on a GPU: a gpt-neo-125m-sized model with random weights, fp16 on
CUDA (nothing downloaded). Prints the same JSON, or {"skipped": "no CUDA"} without a GPU.

    .venv/bin/python bench/bench_generate_gpu.py [--tokens 50] [--repeats 5]
    .venv/bin/python bench/bench_generate_gpu.py --device cpu --tokens 8   # check the script
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def build_125m(folder: Path, dtype: object) -> Path:
    """EleutherAI/gpt-neo-125m's shape (125M parameters) with random weights, plus the tiny
    test tokenizer (ids it does not know decode to nothing; the text does not matter here)."""
    from tests.support.tiny_models import build_text_model, gpt_neo_125m_shaped

    build_text_model(folder)
    for old in folder.glob("model*.safetensors"):
        old.unlink()
    model = gpt_neo_125m_shaped(eos_token_id=0).to(dtype)  # the tiny tokenizer's eos is id 0
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    args = parser.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"skipped": "no CUDA"}))
        return
    from bench_generate import run

    cuda = args.device == "cuda"
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_125m(
            Path(tmp) / "gpt-neo-125m-random", torch.float16 if cuda else torch.float32
        )
        result: dict[str, object] = {
            "model": "random gpt-neo-125m-sized (125M parameters)",
            "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "dtype": "float16" if cuda else "float32",
        }
        result.update(run(folder, args.device, args.tokens, args.repeats))
    print(json.dumps(result, indent=2))


# The worker is started with `spawn`, which re-imports this file: keep the work under main.
if __name__ == "__main__":
    main()
