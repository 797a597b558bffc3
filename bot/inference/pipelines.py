"""What the model guard and the model manager know about diffusers pipelines (for /imagine).

No torch and no diffusers import here: the guard runs in the bot process. A pipeline folder
(or Hub repo) is `model_index.json` plus one subfolder per component (unet/, vae/,
text_encoder/, ...), each with its config and safetensors weights.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

# Pipelines /imagine can drive (bot/inference/image.py calls them with a prompt, a negative
# prompt, guidance, per-image generators and a step callback, and reads a UNet or
# transformer's sample size). Image-to-image, inpainting, ControlNet and video pipelines need
# inputs a chat prompt does not give, so they are refused.
TEXT_TO_IMAGE_PIPELINES = frozenset(
    {
        "StableDiffusionPipeline",
        "StableDiffusionXLPipeline",
        "StableDiffusion3Pipeline",
        "StableDiffusionPAGPipeline",
        "StableDiffusionXLPAGPipeline",
    }
)
# Component classes come from these libraries or from one of diffusers' own pipeline
# packages (the SD safety checker is ["stable_diffusion", "StableDiffusionSafetyChecker"]);
# any other module name is the repo's own code, or some other installed package.
_COMPONENT_LIBRARIES = {"diffusers", "transformers"}
# Weights that ImageModel.num_parameters does not count (the safety checker is kept and run,
# but it is not "the model" a student picked).
_UNCOUNTED = {"safety_checker", "feature_extractor", "image_encoder"}
# Variant copies of the same weights: the bot loads the full-precision files only.
VARIANTS = ("fp16", "non_ema", "ema", "bf16")

# What the worker downloads for a Hub pipeline: the component folders, not the repo's
# single-file checkpoints at its root (SD 1.5 has 11 GB of those) nor the variant copies.
DOWNLOAD_PATTERNS = ["model_index.json", "*/*.json", "*/*.txt", "*/*.model", "*/*.safetensors"]
DOWNLOAD_IGNORE = [f"*.{variant}.*" for variant in VARIANTS]


def pipeline_problem(config: Mapping[str, Any]) -> str | None:
    """Why a model_index.json is not a pipeline /imagine runs (None if it is)."""
    name = config.get("_class_name")
    if isinstance(name, list):  # ["module", "Class"]: a custom pipeline file in the repo
        return "custom code"
    if name not in TEXT_TO_IMAGE_PIPELINES:
        return f"a {name or 'unnamed'} pipeline"
    for component, value in config.items():
        if component.startswith("_") or not isinstance(value, list) or len(value) != 2:
            continue
        library = value[0]
        if library is not None and not _known_library(str(library)):
            return "custom code"
    return None


@cache
def _known_library(name: str) -> bool:
    if name in _COMPONENT_LIBRARIES:
        return True
    # A diffusers pipeline package, found on disk: importing diffusers here would pull
    # torch into the bot process.
    spec = importlib.util.find_spec("diffusers")
    places = spec.submodule_search_locations if spec is not None else None
    return name.isidentifier() and any(
        (Path(place) / "pipelines" / name / "__init__.py").is_file() for place in places or []
    )


def _variant(filename: str) -> str | None:
    parts = filename.rsplit("/", 1)[-1].split(".")
    return parts[-2] if len(parts) >= 3 and parts[-2] in VARIANTS else None


def counted_weights(paths: Iterable[str]) -> list[str]:
    """The weight files (repo-relative, "unet/diffusion_pytorch_model.safetensors") that make
    up the pipeline's parameters: one per component, full precision when there is one."""
    by_folder: dict[str, list[str]] = {}
    for path in paths:
        if not path.endswith(".safetensors") or path.count("/") != 1:
            continue
        folder = path.split("/", 1)[0]
        if folder not in _UNCOUNTED:
            by_folder.setdefault(folder, []).append(path)
    chosen: list[str] = []
    for files in by_folder.values():
        full = [f for f in files if _variant(f) is None]
        chosen.extend(full or [f for f in files if _variant(f) == "fp16"])
    return sorted(chosen)


def params_from_sizes(sizes: Mapping[str, int]) -> int:
    """About how many parameters a Hub pipeline has, from its weight files' sizes (diffusers
    repos list no parameter count): 4 bytes per parameter, 2 in an fp16 variant."""
    total = 0
    for path in counted_weights(sizes):
        total += sizes[path] // (2 if _variant(path) == "fp16" else 4)
    return total
