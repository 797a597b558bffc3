"""A tiny, random, offline Stable Diffusion pipeline for tests and CPU benches.

`build_image_model(path)` writes a complete `StableDiffusionPipeline` folder (safetensors
weights, `model_index.json`, a hand-written CLIP BPE tokenizer) that loads with both
`StableDiffusionPipeline.from_pretrained(path, use_safetensors=True)` and
`AutoPipelineForText2Image.from_pretrained(path, use_safetensors=True)`. Nothing is
downloaded; weights come from a fixed torch seed, so two builds are identical.

What the tiny model supports (measured on the 2-core dev box, torch 2.13 CPU, 1 torch
thread, 4 Euler steps, guidance 7.5 so the UNet runs a batch of 2 per image; "busy" is the
same box at load ~5 from other jobs):

- VAE scale factor 2 (two VAE blocks), UNet `sample_size` 32, so the default (native)
  output is 64×64: ~0.05 s per image (0.15 s busy).
- Height and width must be multiples of 8 (diffusers' `check_inputs` rule; the tiny UNet
  itself only needs an even latent). Square and non-square both work.
- 128×128: ~0.12 s (0.35 s busy).
- 256×256 works (latent 128×128): ~1.0-1.3 s (2.7 s busy). The one cross-attention block
  then runs self-attention over 64×64 = 4,096 tokens, which is most of the cost; the UNet
  uses 2 heads (`attention_head_dim` is the head *count* in diffusers' UNet config).
  The VAE has no mid-block attention (`mid_block_add_attention=False`): with it, 256×256
  would also run self-attention over all 16,384 latent pixels.
- 512×512 works but is impractical: ~27 s busy (16,384 attention tokens).
Keep tests at 64 (128 or 256 only where the size itself is under test).

The images are noise-like (random weights): tests may compare them for determinism,
never for content.

`with_safety_checker=True` also ships a tiny random `StableDiffusionSafetyChecker` plus a
`CLIPImageProcessor`, so loaders can be tested for keeping a model's own checker.
`flag_everything=True` makes that checker flag every image (its concept thresholds are set
below any possible cosine similarity), which exercises the real NSFW path of the pipeline.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
from transformers import (
    CLIPConfig,
    CLIPImageProcessor,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTokenizer,
)

SEED = 0
TEXT_HIDDEN = 16
MAX_TOKENS = 77  # CLIP's context; the SD pipeline pads every prompt to model_max_length
BOS = "<|startoftext|>"
EOS = "<|endoftext|>"

# Words that get their own whole-word token; anything else still tokenizes (every byte and
# byte + "</w>" is in the vocabulary), just into more pieces.
WORDS = [
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "at",
    "with",
    "and",
    "or",
    "to",
    "by",
    "for",
    "from",
    "is",
    "are",
    "under",
    "over",
    "near",
    "cat",
    "cats",
    "dog",
    "dogs",
    "horse",
    "bird",
    "fish",
    "robot",
    "astronaut",
    "teacher",
    "student",
    "students",
    "class",
    "red",
    "green",
    "blue",
    "yellow",
    "orange",
    "purple",
    "black",
    "white",
    "gray",
    "pink",
    "brown",
    "gold",
    "silver",
    "photo",
    "painting",
    "drawing",
    "sketch",
    "cartoon",
    "watercolor",
    "oil",
    "pixel",
    "art",
    "style",
    "portrait",
    "city",
    "forest",
    "mountain",
    "mountains",
    "sea",
    "ocean",
    "river",
    "lake",
    "beach",
    "desert",
    "space",
    "moon",
    "sun",
    "star",
    "stars",
    "sky",
    "cloud",
    "clouds",
    "rain",
    "snow",
    "night",
    "day",
    "sunset",
    "sunrise",
    "castle",
    "house",
    "school",
    "tree",
    "trees",
    "flower",
    "flowers",
    "garden",
    "car",
    "train",
    "boat",
    "rocket",
    "planet",
    "galaxy",
    "dragon",
    "cute",
    "happy",
    "big",
    "small",
    "old",
    "new",
    "riding",
    "flying",
    "sitting",
    "reading",
    "book",
    "hat",
    "glasses",
    "blurry",
    "ugly",
    "low",
    "quality",
    "detailed",
    "high",
    "resolution",
    "bright",
    "dark",
    "light",
    "colorful",
]


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte-level mapping: every byte gets a printable stand-in character."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


def write_tokenizer_files(folder: Path) -> tuple[Path, Path]:
    """Write a CLIP-style `vocab.json` + `merges.txt` and return their paths.

    Merges build each word of WORDS left to right ("c a", "ca t</w>"), the same shape as
    CLIP's real merges, so common prompt words become one token each.
    """
    folder.mkdir(parents=True, exist_ok=True)
    base = list(_bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for token in [*base, *(c + "</w>" for c in base)]:
        vocab.setdefault(token, len(vocab))
    merges: list[str] = []
    seen: set[str] = set()
    for word in WORDS:
        pieces = list(word)
        pieces[-1] += "</w>"
        left = pieces[0]
        for right in pieces[1:]:
            merge = f"{left} {right}"
            left += right
            if merge not in seen:
                seen.add(merge)
                merges.append(merge)
            vocab.setdefault(left, len(vocab))
    vocab[BOS] = len(vocab)
    vocab[EOS] = len(vocab)
    vocab_path = folder / "vocab.json"
    merges_path = folder / "merges.txt"
    vocab_path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges_path.write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return vocab_path, merges_path


def build_tokenizer() -> CLIPTokenizer:
    """A CLIPTokenizer from the hand-written files (no tokenizer.json, nothing downloaded)."""
    with tempfile.TemporaryDirectory() as tmp:
        write_tokenizer_files(Path(tmp))
        return CLIPTokenizer.from_pretrained(tmp, model_max_length=MAX_TOKENS)


def _tiny_safety_checker(flag_everything: bool) -> StableDiffusionSafetyChecker:
    config = CLIPConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "vocab_size": 100,
            # Unused by the checker (vision tower only); ids inside the tiny vocabulary
            # keep transformers from warning about CLIP's defaults (49406/49407).
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=8,
    )
    checker = StableDiffusionSafetyChecker(config).eval()
    with torch.no_grad():
        # Score = cosine - threshold; cosine >= -1, so a threshold of -2 flags everything
        # and +2 flags nothing (a random checker would otherwise flag at random).
        threshold = -2.0 if flag_everything else 2.0
        checker.concept_embeds_weights.fill_(threshold)
        checker.special_care_embeds_weights.fill_(2.0)
    return checker


def sd15_scheduler() -> EulerDiscreteScheduler:
    """Euler with Stable Diffusion 1.5's scheduler_config.json noise schedule."""
    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        timestep_spacing="leading",
        steps_offset=1,
    )


def build_pipeline(
    *,
    with_safety_checker: bool = False,
    flag_everything: bool = False,
) -> StableDiffusionPipeline:
    """Build the tiny pipeline in memory (deterministic: fixed seed before each module)."""
    torch.manual_seed(SEED)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_HIDDEN,
        norm_num_groups=4,  # divides 8 and 16
        attention_head_dim=2,
    )
    torch.manual_seed(SEED)
    vae = AutoencoderKL(
        block_out_channels=(8, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=64,
        # See module docstring: mid-block attention at full latent size dominates at 256².
        mid_block_add_attention=False,
    )
    tokenizer = build_tokenizer()
    torch.manual_seed(SEED)
    text_config = CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=TEXT_HIDDEN,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=MAX_TOKENS,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    text_encoder = CLIPTextModel(text_config).eval()
    scheduler = sd15_scheduler()
    safety_checker = None
    feature_extractor = None
    if with_safety_checker:
        torch.manual_seed(SEED)
        safety_checker = _tiny_safety_checker(flag_everything)
        feature_extractor = CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=safety_checker,
        feature_extractor=feature_extractor,
        requires_safety_checker=with_safety_checker,
    )


def build_image_model(
    path: Path,
    *,
    with_safety_checker: bool = False,
    flag_everything: bool = False,
) -> Path:
    """Save the tiny pipeline to `path` (safetensors) and return `path`."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    pipe = build_pipeline(
        with_safety_checker=with_safety_checker,
        flag_everything=flag_everything,
    )
    pipe.save_pretrained(path, safe_serialization=True)
    return path
