"""Text-to-image inference core for `/imagine`: load a diffusers pipeline, run a batch.

This module is pure library code: no chat, no queue. The job queue groups requests that
can share one pipeline call (`ImageSettings.batch_key`) and calls `ImageModel.generate`
from a worker thread; `generate` blocks.

Reproducibility contract: a request's seed alone decides its image, whether it runs alone
or batched with other requests. That needs three things (see `generate`):
one CPU `torch.Generator` per image, a VAE that decodes one image at a time, and never a
UNet batch of one (CPU conv kernels take a different, not bit-identical path at batch 1).
"""

from __future__ import annotations

import io
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from PIL.PngImagePlugin import PngInfo

# The limits live torch-free so that /imagine (in the bot process) reads them without torch.
from bot.inference.image_limits import (
    MAX_GUIDANCE,
    MAX_PROMPT_CHARS,
    MAX_SEED,
    MAX_SIZE,
    MAX_STEPS,
    MIN_GUIDANCE,
    MIN_SIZE,
    MIN_STEPS,
    SIZE_STEP,
)

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]


@dataclass(frozen=True)
class ImageSettings:
    """One student's request. Validated on creation: a bad value never reaches the GPU."""

    prompt: str
    negative_prompt: str = ""
    steps: int = 25
    guidance: float = 7.5
    seed: int | None = None  # None: generate() draws one and reports it in the result
    width: int = 512
    height: int = 512

    def __post_init__(self) -> None:
        if not self.prompt.strip():
            raise ValueError("prompt is empty")
        if len(self.prompt) > MAX_PROMPT_CHARS or len(self.negative_prompt) > MAX_PROMPT_CHARS:
            raise ValueError(f"prompts are limited to {MAX_PROMPT_CHARS} characters")
        # bool is an int subclass: reject it so `steps=True` is not one step.
        if isinstance(self.steps, bool) or not MIN_STEPS <= self.steps <= MAX_STEPS:
            raise ValueError(f"steps must be {MIN_STEPS}..{MAX_STEPS}")
        if not math.isfinite(self.guidance) or not MIN_GUIDANCE <= self.guidance <= MAX_GUIDANCE:
            raise ValueError(f"guidance must be {MIN_GUIDANCE:g}..{MAX_GUIDANCE:g}")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not 0 <= self.seed <= MAX_SEED
        ):
            raise ValueError(f"seed must be 0..{MAX_SEED}")
        if self.width != self.height:
            raise ValueError("images are square: width must equal height")
        if not MIN_SIZE <= self.width <= MAX_SIZE or self.width % SIZE_STEP:
            raise ValueError(f"size must be a multiple of {SIZE_STEP} in {MIN_SIZE}..{MAX_SIZE}")

    @property
    def batch_key(self) -> tuple[int, int, int, float]:
        """Requests with equal keys can share one pipeline call (prompts and seeds may differ)."""
        return (self.width, self.height, self.steps, float(self.guidance))


@dataclass(frozen=True)
class ImageResult:
    """What came out for one request. `png` is None when cancelled or flagged."""

    settings: ImageSettings
    seed: int  # the seed actually used (drawn when settings.seed was None)
    png: bytes | None
    seconds: float  # wall time of the whole pipeline call this request was part of
    steps_done: int
    steps: int
    width: int
    height: int
    cancelled: bool = False
    flagged: bool = False  # the model's safety checker flagged it; pixels were dropped


class _StepTracker:
    """`callback_on_step_end` that turns pipeline callbacks into student-facing progress.

    Progress comes from the position in the scheduler's timestep list, not from counting
    callbacks: multi-stage schedulers (PNDM's PRK warm-up) call back more often than
    `num_inference_steps`, and counting calls would overshoot N/N.
    """

    def __init__(self, total: int, on_progress: ProgressFn | None, should_cancel: CancelFn | None):
        self.total = total
        self.done = 0
        self.cancelled = False
        self._on_progress = on_progress
        self._should_cancel = should_cancel

    def __call__(self, pipe: Any, index: int, timestep: Any, tensors: dict[str, Any]) -> Any:
        num_timesteps = getattr(pipe, "_num_timesteps", None) or len(pipe.scheduler.timesteps)
        done = min(self.total, (index + 1) * self.total // num_timesteps)
        if done > self.done:  # strictly increasing; several PNDM calls may map to one step
            self.done = done
            if self._on_progress is not None:
                try:
                    self._on_progress(done, self.total)
                except Exception:
                    # Progress is cosmetic (a chat edit that failed): never lose the image
                    # over it. A failing should_cancel, by contrast, propagates.
                    logger.exception("image progress callback failed")
        if not self.cancelled and self._should_cancel is not None and self._should_cancel():
            self.cancelled = True
            # diffusers' documented interrupt flag: later loop iterations are skipped.
            pipe._interrupt = True
        return tensors


def _random_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


def _png_bytes(image: Image.Image, settings: ImageSettings, seed: int, model: str) -> bytes:
    # Text chunks make a saved image self-describing: a student can re-create it later.
    # No timings in here, so the same seed gives the same bytes.
    info = PngInfo()
    info.add_text("prompt", settings.prompt)
    if settings.negative_prompt:
        info.add_text("negative_prompt", settings.negative_prompt)
    info.add_text("seed", str(seed))
    info.add_text("steps", str(settings.steps))
    info.add_text("guidance", f"{settings.guidance:g}")
    info.add_text("model", model)
    info.add_text("Software", "classbot")
    buffer = io.BytesIO()
    # zlib level 1: measured on a smooth 512² image, 36 ms and 185 KiB vs 164 ms and
    # 138 KiB at Pillow's default 6; a sixth of the 0.6 s/image GPU budget, for 35% more
    # bytes (far under Discord's 10 MiB).
    image.save(buffer, format="PNG", pnginfo=info, compress_level=1)
    return buffer.getvalue()


def _dtype_kwarg(dtype: torch.dtype) -> dict[str, torch.dtype]:
    # diffusers 0.42 renamed from_pretrained's `torch_dtype` to `dtype` (the old name now
    # warns); older releases only know `torch_dtype`.
    major, minor = (int(part) for part in version("diffusers").split(".")[:2])
    return {"dtype": dtype} if (major, minor) >= (0, 42) else {"torch_dtype": dtype}


def _count(module: Any, *, with_bytes: bool) -> int:
    if not isinstance(module, torch.nn.Module):
        return 0
    tensors = [*module.parameters(), *(module.buffers() if with_bytes else ())]
    if with_bytes:
        return sum(t.numel() * t.element_size() for t in tensors)
    return sum(t.numel() for t in tensors)


class ImageModel:
    """A loaded text-to-image pipeline. One `generate` runs at a time (pipeline state is shared)."""

    def __init__(self, pipe: Any, name: str) -> None:
        self._pipe = pipe
        self.name = name
        self._lock = threading.Lock()
        pipe.set_progress_bar_config(disable=True)
        vae = getattr(pipe, "vae", None)
        if vae is not None and hasattr(vae, "enable_slicing"):
            # Decode one image at a time: batched VAE convs are not bit-identical to batch 1
            # on CPU, which would break "same seed, same image" (and it caps VAE memory).
            vae.enable_slicing()

    @classmethod
    def load(
        cls,
        source: str | Path,
        device: str = "cpu",
        dtype: torch.dtype | None = None,
        *,
        name: str | None = None,
    ) -> ImageModel:
        """Load a Hub id or local folder with safetensors weights only.

        No remote code: `trust_remote_code=False` is passed explicitly so a model repo
        cannot run its own Python here. A model's own safety checker is kept as shipped.
        """
        from diffusers import AutoPipelineForText2Image

        if dtype is None:
            dtype = torch.float16 if device.startswith("cuda") else torch.float32
        # diffusers ships py.typed but leaves from_pretrained unannotated: go through Any.
        auto: Any = AutoPipelineForText2Image
        pipe = auto.from_pretrained(
            source, use_safetensors=True, trust_remote_code=False, **_dtype_kwarg(dtype)
        )
        pipe = pipe.to(device)
        if name is None:
            # A local folder's name, not its full path: PNG text and chat show this.
            name = Path(source).name if Path(source).exists() else str(source)
        return cls(pipe, name)

    @property
    def pipeline(self) -> Any:
        return self._pipe

    @property
    def num_parameters(self) -> int:
        names = ("unet", "transformer", "vae", "text_encoder", "text_encoder_2", "text_encoder_3")
        return sum(_count(getattr(self._pipe, n, None), with_bytes=False) for n in names)

    @property
    def memory_bytes(self) -> int:
        """Bytes of all weights and buffers, the safety checker included."""
        modules = self._pipe.components.values()
        return sum(_count(m, with_bytes=True) for m in modules)

    @property
    def default_size(self) -> int:
        denoiser = getattr(self._pipe, "unet", None) or getattr(self._pipe, "transformer", None)
        sample_size = denoiser.config.sample_size if denoiser is not None else 64
        if isinstance(sample_size, (list, tuple)):
            sample_size = sample_size[0]
        return int(sample_size) * int(self._pipe.vae_scale_factor)

    def generate(
        self,
        batch: Sequence[ImageSettings],
        on_progress: ProgressFn | None = None,
        should_cancel: CancelFn | None = None,
    ) -> list[ImageResult]:
        """Run `batch` as one pipeline call; results come back in the same order.

        Progress and cancel are per call: `on_progress(done, total)` reports denoising
        steps, `should_cancel()` stops the whole call within one step (each result then
        says cancelled and carries no image). Both run on the calling thread, between
        denoising steps: keep them cheap, and hop to the event loop from there.
        After a cancel diffusers still decodes the half-done latents once (one VAE pass);
        those pixels are thrown away.
        """
        if not batch:
            return []
        first = batch[0]
        if any(s.batch_key != first.batch_key for s in batch):
            raise ValueError("a batch must share size, steps and guidance")
        seeds = [s.seed if s.seed is not None else _random_seed() for s in batch]

        if should_cancel is not None and should_cancel():
            return [
                self._result(s, seed, None, 0.0, 0, cancelled=True)
                for s, seed in zip(batch, seeds, strict=True)
            ]

        rows = list(zip(batch, seeds, strict=True))
        # Without classifier-free guidance the UNet batch equals the image count; a batch
        # of one takes other CPU conv kernels than two or more. Pad with a copy (dropped
        # below) so a lone image is bit-identical to the same seed in a batch (on some CPUs
        # a pixel or two may still land one level apart: tests/inference/test_image.py).
        if len(rows) == 1 and not self._uses_cfg(first.guidance):
            rows.append(rows[0])
        # CPU generators: the same seed gives the same starting noise on any device.
        generators = [torch.Generator(device="cpu").manual_seed(seed) for _, seed in rows]
        tracker = _StepTracker(first.steps, on_progress, should_cancel)

        with self._lock:
            started = time.perf_counter()
            output = self._pipe(
                prompt=[s.prompt for s, _ in rows],
                negative_prompt=[s.negative_prompt for s, _ in rows],
                num_inference_steps=first.steps,
                guidance_scale=first.guidance,
                width=first.width,
                height=first.height,
                generator=generators,
                callback_on_step_end=tracker,
                callback_on_step_end_tensor_inputs=[],
                output_type="pil",
            )
            seconds = time.perf_counter() - started

        images: list[Image.Image] = list(output.images)
        # Pipelines without a checker (or SDXL, which has none) report None.
        nsfw: list[bool] | None = getattr(output, "nsfw_content_detected", None)
        results: list[ImageResult] = []
        for i, (settings, seed) in enumerate(zip(batch, seeds, strict=True)):
            if tracker.cancelled:
                results.append(
                    self._result(settings, seed, None, seconds, tracker.done, cancelled=True)
                )
            elif nsfw is not None and nsfw[i]:
                # Never encode flagged pixels (the checker blacks them out, but a checker
                # that only flags must not leak them either).
                results.append(
                    self._result(settings, seed, None, seconds, tracker.done, flagged=True)
                )
            else:
                png = _png_bytes(images[i], settings, seed, self.name)
                results.append(self._result(settings, seed, png, seconds, tracker.done))
        return results

    def _uses_cfg(self, guidance: float) -> bool:
        # diffusers' rule: CFG runs when guidance > 1, except for guidance-embedded (LCM) UNets.
        unet = getattr(self._pipe, "unet", None)
        embedded = unet is not None and unet.config.get("time_cond_proj_dim") is not None
        return guidance > 1.0 and not embedded

    @staticmethod
    def _result(
        settings: ImageSettings,
        seed: int,
        png: bytes | None,
        seconds: float,
        steps_done: int,
        *,
        cancelled: bool = False,
        flagged: bool = False,
    ) -> ImageResult:
        return ImageResult(
            settings=settings,
            seed=seed,
            png=png,
            seconds=seconds,
            steps_done=steps_done,
            steps=settings.steps,
            width=settings.width,
            height=settings.height,
            cancelled=cancelled,
            flagged=flagged,
        )
