"""GPU bench of the image core on an SD-1.5-shaped pipeline with random weights.

    python bench/bench_image_gpu.py [--repeats 5] [--compile] [--no-safety-checker]

Prints one JSON object; `{"skipped": "no CUDA"}` (exit 0) where there is no GPU.

Shapes are the real SD 1.5 ones (UNet 320/640/1280/1280, cross-attention 768, 2 layers per
block, 8 heads, latent 64×64; the SD 1.5 VAE; a CLIP-L text encoder; a CLIP-L/14 vision
safety checker, as SD 1.5 ships one and ImageModel keeps it), in fp16 on CUDA, with random
weights: nothing is downloaded, and the cost of a step does not depend on the weights.
The tokenizer is the tiny hand-written one from tests/support (its ids fit CLIP-L's
vocabulary; the text encoder always sees 77 positions).

Goal on one H100: ≤ 0.6 s per 512² image at 25 steps (batch 1), ≥ 6 images/s at batch 4.
Timed through `ImageModel.generate` (what the bot runs) and a raw `pipe(...)` call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZE = 512
STEPS = 25
GUIDANCE = 7.5
GOAL_S_PER_IMAGE_BATCH1 = 0.6
GOAL_IMAGES_PER_S_BATCH4 = 6.0


def build_sd15_shaped(with_safety_checker: bool, device: str = "cuda") -> Any:
    """The pipeline in fp16 on `device` ("meta" builds shapes only, for a dry check)."""
    from diffusers import (
        AutoencoderKL,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from diffusers.pipelines.stable_diffusion.safety_checker import (
        StableDiffusionSafetyChecker,
    )
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPTextConfig, CLIPTextModel

    from tests.support.tiny_image_model import build_tokenizer, sd15_scheduler

    torch.manual_seed(0)
    # Parameters are created on the GPU directly: random init of ~1.2 B parameters on the
    # CPU would take longer than the bench.
    with torch.device(device):
        unet = UNet2DConditionModel(  # runwayml/stable-diffusion-v1-5 unet/config.json
            sample_size=64,
            in_channels=4,
            out_channels=4,
            layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280),
            down_block_types=(
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "CrossAttnDownBlock2D",
                "DownBlock2D",
            ),
            up_block_types=(
                "UpBlock2D",
                "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D",
            ),
            cross_attention_dim=768,
            attention_head_dim=8,
            norm_num_groups=32,
        )
        vae = AutoencoderKL(  # SD 1.5 vae/config.json
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(128, 256, 512, 512),
            layers_per_block=2,
            latent_channels=4,
            norm_num_groups=32,
            sample_size=512,
            scaling_factor=0.18215,
        )
        text_encoder = CLIPTextModel(  # CLIP ViT-L/14 text tower
            CLIPTextConfig(
                vocab_size=49408,
                hidden_size=768,
                intermediate_size=3072,
                num_hidden_layers=12,
                num_attention_heads=12,
                max_position_embeddings=77,
                hidden_act="quick_gelu",
                projection_dim=768,
            )
        )
        safety_checker = None
        feature_extractor = None
        if with_safety_checker:
            clip_l = CLIPConfig(
                text_config={"hidden_size": 768, "num_hidden_layers": 1},
                vision_config={
                    "hidden_size": 1024,
                    "intermediate_size": 4096,
                    "num_hidden_layers": 24,
                    "num_attention_heads": 16,
                    "image_size": 224,
                    "patch_size": 14,
                    "hidden_act": "quick_gelu",
                },
                projection_dim=768,
            )
            safety_checker = StableDiffusionSafetyChecker(clip_l)
            with torch.no_grad():  # random weights would flag at random: flag nothing
                safety_checker.concept_embeds_weights.fill_(2.0)
                safety_checker.special_care_embeds_weights.fill_(2.0)
            feature_extractor = CLIPImageProcessor(
                size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}
            )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=build_tokenizer(),
        unet=unet,
        scheduler=sd15_scheduler(),
        safety_checker=safety_checker,
        feature_extractor=feature_extractor,
        requires_safety_checker=with_safety_checker,
    )
    return pipe if device == "meta" else pipe.to(device, torch.float16)


def timed(fn: Callable[[], object], repeats: int, warmups: int) -> list[float]:
    for _ in range(warmups):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description="SD-1.5-shaped GPU bench")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="torch.compile the UNet")
    parser.add_argument("--no-safety-checker", action="store_true")
    args = parser.parse_args()

    if not torch.cuda.is_available():
        print(json.dumps({"skipped": "no CUDA"}))
        return

    import diffusers

    from bot.inference.image import ImageModel, ImageSettings

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    started = time.perf_counter()
    pipe = build_sd15_shaped(with_safety_checker=not args.no_safety_checker)
    pipe.unet.to(memory_format=torch.channels_last)
    if args.compile:
        pipe.unet = torch.compile(pipe.unet, mode="max-autotune-no-cudagraphs")
    model = ImageModel(pipe, name="sd15-shaped-random")
    build_s = time.perf_counter() - started

    def ask(seed: int) -> ImageSettings:
        return ImageSettings(
            "a watercolor painting of a red fox under an old oak tree",
            negative_prompt="blurry, low quality",
            steps=STEPS,
            guidance=GUIDANCE,
            seed=seed,
            width=SIZE,
            height=SIZE,
        )

    def raw() -> object:
        return pipe(
            prompt=[ask(1).prompt],
            negative_prompt=[ask(1).negative_prompt],
            num_inference_steps=STEPS,
            guidance_scale=GUIDANCE,
            width=SIZE,
            height=SIZE,
            generator=[torch.Generator().manual_seed(1)],
        )

    warmups = 3 if args.compile else 2
    torch.cuda.reset_peak_memory_stats()
    raw_times = timed(raw, args.repeats, warmups)
    batch1 = timed(lambda: model.generate([ask(1)]), args.repeats, 1)
    batch4 = timed(lambda: model.generate([ask(s) for s in range(4)]), max(3, args.repeats // 2), 1)
    s_per_image = statistics.median(batch1)
    images_per_s_4 = 4 / statistics.median(batch4)
    print(
        json.dumps(
            {
                "device": torch.cuda.get_device_name(0),
                "torch": torch.__version__,
                "diffusers": diffusers.__version__,
                "dtype": "float16",
                "compile": args.compile,
                "safety_checker": not args.no_safety_checker,
                "size": SIZE,
                "steps": STEPS,
                "guidance": GUIDANCE,
                "num_parameters": model.num_parameters,
                "memory_bytes": model.memory_bytes,
                "build_s": round(build_s, 2),
                "raw_pipe_batch1_s": round(statistics.median(raw_times), 4),
                "generate_batch1_s_per_image": round(s_per_image, 4),
                "generate_batch4_s": round(statistics.median(batch4), 4),
                "generate_batch4_images_per_s": round(images_per_s_4, 2),
                "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
                "goal_batch1_met": s_per_image <= GOAL_S_PER_IMAGE_BATCH1,
                "goal_batch4_met": images_per_s_4 >= GOAL_IMAGES_PER_S_BATCH4,
            }
        )
    )


if __name__ == "__main__":
    main()
