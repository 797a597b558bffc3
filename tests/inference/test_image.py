"""ImageModel on a tiny random Stable Diffusion pipeline (CPU, offline, ~0.05 s per image)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from diffusers import (
    AutoPipelineForText2Image,
    DDIMScheduler,
    PNDMScheduler,
    StableDiffusionPipeline,
)
from PIL import Image

from bot.inference.image import ImageModel, ImageResult, ImageSettings
from tests.support import image_fixtures
from tests.support.tiny_image_model import build_image_model

# Fixtures by assignment, not import: an imported fixture shadowed by a test's argument
# trips ruff's F811.
tiny_image_model = image_fixtures.tiny_image_model
tiny_image_model_flagging = image_fixtures.tiny_image_model_flagging


def settings(prompt: str = "a red cat", **kw: Any) -> ImageSettings:
    values: dict[str, Any] = {"steps": 4, "guidance": 7.5, "seed": 1, "width": 64, "height": 64}
    values.update(kw)
    return ImageSettings(prompt=prompt, **values)


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and on a busy CI box torch's spinning
    OpenMP threads make a 0.05 s image take a second. Restored for other modules."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model(tiny_image_model: Path) -> ImageModel:
    return ImageModel.load(tiny_image_model, device="cpu")


@pytest.fixture
def fresh_model(tiny_image_model: Path) -> ImageModel:
    """A model a test may change (scheduler, safety checker) without touching others."""
    return ImageModel.load(tiny_image_model, device="cpu")


def only(results: list[ImageResult]) -> ImageResult:
    assert len(results) == 1
    return results[0]


def test_tiny_model_is_deterministic_and_loads_both_ways(
    tiny_image_model: Path, tmp_path: Path
) -> None:
    again = build_image_model(tmp_path / "again")
    for part in ("unet", "vae", "text_encoder"):
        (weights,) = (tiny_image_model / part).glob("*.safetensors")
        assert weights.read_bytes() == (again / part / weights.name).read_bytes()
    pipe = StableDiffusionPipeline.from_pretrained(tiny_image_model, use_safetensors=True)
    auto = AutoPipelineForText2Image.from_pretrained(tiny_image_model, use_safetensors=True)
    assert type(pipe) is type(auto) is StableDiffusionPipeline
    assert pipe.safety_checker is None and pipe.vae_scale_factor == 2


def test_load_reports_size_and_parameters(model: ImageModel) -> None:
    pipe = model.pipeline
    assert model.default_size == 64  # unet sample_size 32 × vae scale 2
    expected = sum(
        p.numel() for m in (pipe.unet, pipe.vae, pipe.text_encoder) for p in m.parameters()
    )
    assert model.num_parameters == expected
    assert model.memory_bytes >= 4 * expected  # fp32 on CPU
    assert model.name == "tiny-sd"  # folder name, not the server's path
    assert pipe.unet.dtype == torch.float32


def test_an_image_comes_back_as_png_with_metadata(model: ImageModel) -> None:
    result = only(model.generate([settings("a blue dog", negative_prompt="blurry", seed=42)]))
    assert result.png is not None
    assert not result.cancelled and not result.flagged
    assert (result.steps_done, result.steps, result.seed) == (4, 4, 42)
    assert result.seconds > 0
    image = Image.open(io.BytesIO(result.png))
    assert image.format == "PNG"
    assert image.size == (64, 64) == (result.width, result.height)
    assert image.mode == "RGB"
    text = image.text  # type: ignore[attr-defined]
    assert text["prompt"] == "a blue dog"
    assert text["negative_prompt"] == "blurry"
    assert (text["seed"], text["steps"], text["model"]) == ("42", "4", "tiny-sd")


def test_a_256_image_has_the_asked_size(model: ImageModel) -> None:
    result = only(model.generate([settings(width=256, height=256, steps=2)]))
    assert result.png is not None
    assert Image.open(io.BytesIO(result.png)).size == (256, 256)


def test_no_seed_gets_a_random_one_that_reproduces(model: ImageModel) -> None:
    first = only(model.generate([settings(seed=None)]))
    again = only(model.generate([settings(seed=first.seed)]))
    assert first.png is not None
    # The metadata says which seed; with it the image is the same but the text chunk too.
    assert first.png == again.png


def test_progress_arrives_in_order_and_ends_at_n_of_n(model: ImageModel) -> None:
    events: list[tuple[int, int]] = []
    model.generate([settings(steps=6)], on_progress=lambda d, t: events.append((d, t)))
    assert events == [(i, 6) for i in range(1, 7)]


@pytest.mark.parametrize("scheduler_cls", [PNDMScheduler, DDIMScheduler])
def test_progress_with_other_schedulers(fresh_model: ImageModel, scheduler_cls: Any) -> None:
    pipe = fresh_model.pipeline
    pipe.scheduler = scheduler_cls.from_config(pipe.scheduler.config)
    calls = 0
    events: list[tuple[int, int]] = []

    def should_cancel() -> bool:  # called once per pipeline callback: counts them
        nonlocal calls
        calls += 1
        return False

    result = only(
        fresh_model.generate(
            [settings(steps=4)],
            on_progress=lambda d, t: events.append((d, t)),
            should_cancel=should_cancel,
        )
    )
    done = [d for d, _ in events]
    assert done == sorted(set(done)), "strictly increasing"
    assert events[-1] == (4, 4)
    assert all(t == 4 for _, t in events)
    assert result.steps_done == 4 and result.png is not None
    if scheduler_cls is PNDMScheduler:
        assert calls > 4  # PRK warm-up: more callbacks than steps (13 for 4 steps)


def test_a_failing_progress_callback_does_not_lose_the_image(model: ImageModel) -> None:
    def broken(done: int, total: int) -> None:
        raise RuntimeError("chat edit failed")

    result = only(model.generate([settings()], on_progress=broken))
    assert result.png is not None and result.steps_done == 4


def test_cancel_after_step_two_of_eight_stops_early(model: ImageModel) -> None:
    progress: list[int] = []
    unet_calls = 0
    unet = model.pipeline.unet
    original_forward = unet.forward

    def counting_forward(*args: Any, **kwargs: Any) -> Any:
        nonlocal unet_calls
        unet_calls += 1
        return original_forward(*args, **kwargs)

    unet.forward = counting_forward
    try:
        result = only(
            model.generate(
                [settings(steps=8)],
                on_progress=lambda d, t: progress.append(d),
                should_cancel=lambda: bool(progress) and progress[-1] >= 2,
            )
        )
    finally:
        del unet.forward  # back to the class's forward
    assert result.cancelled
    assert result.png is None
    assert result.steps_done == 2 < 8
    assert unet_calls == 2  # the interrupt skipped every later denoising step
    assert progress == [1, 2]


def test_cancel_before_start_runs_nothing(model: ImageModel) -> None:
    results = model.generate([settings(seed=1), settings(seed=2)], should_cancel=lambda: True)
    assert [(r.cancelled, r.steps_done, r.png) for r in results] == [(True, 0, None)] * 2


def test_cancel_applies_to_the_whole_batch(model: ImageModel) -> None:
    progress: list[int] = []
    results = model.generate(
        [settings(seed=s, steps=8) for s in (1, 2, 3)],
        on_progress=lambda d, t: progress.append(d),
        should_cancel=lambda: bool(progress) and progress[-1] >= 3,
    )
    assert all(r.cancelled and r.png is None and r.steps_done == 3 for r in results)


# With and without classifier-free guidance. Seeds picked by measurement (1 CPU thread):
# without the VAE decoding one image at a time, seed 14 gave different PNG bytes alone
# vs batched at 64² and 128² (about 1 seed in 7 at 64², 1 in 3 at 128²); without the
# no-CFG padding, seed 2 did at 64² (about 1 seed in 13).
@pytest.mark.parametrize(
    ("guidance", "size", "seed"), [(7.5, 64, 14), (7.5, 128, 14), (1.0, 64, 2)]
)
def test_same_seed_same_png_alone_or_batched(
    model: ImageModel, guidance: float, size: int, seed: int
) -> None:
    def ask(prompt: str, seed: int) -> ImageSettings:
        return settings(prompt, seed=seed, guidance=guidance, width=size, height=size)

    alone = only(model.generate([ask("a red cat", seed)]))
    batch = model.generate(
        [ask("a horse in space", 7), ask("a red cat", seed), ask("a castle at night", 99)]
    )
    assert [r.seed for r in batch] == [7, seed, 99]
    assert alone.png is not None
    assert_same_picture(batch[1].png, alone.png)
    # Position in the batch does not matter either.
    last = model.generate([ask("a dog", 5), ask("a red cat", seed)])
    assert_same_picture(last[1].png, alone.png)


def assert_same_picture(png: bytes | None, expected: bytes) -> None:
    """The same image: identical bytes on the CPUs the seeds above were measured on. On
    others (an AMD EPYC) the CPU's matrix kernels add up a UNet batch of 6 rows in another
    order than one of 2, and a pixel or two of 128² lands one level apart (measured: at
    most 2 values of 49,152, by 1). Anything more is a real difference."""
    assert png is not None
    if png == expected:
        return
    got, want = (
        np.asarray(Image.open(io.BytesIO(p)).convert("RGB"), dtype=int) for p in (png, expected)
    )
    apart = np.abs(got - want)
    assert apart.max() <= 1 and np.count_nonzero(apart) <= 0.001 * apart.size, (
        f"{np.count_nonzero(apart)} values apart, by up to {apart.max()}"
    )


def test_a_lone_image_without_guidance_never_runs_a_unet_batch_of_one(
    model: ImageModel,
) -> None:
    # CPU convs take another code path at batch 1 (measured: up to 5e-7 apart, enough to
    # change PNG bytes at 256²), so generate() pads a lone no-CFG image with a copy.
    batch_sizes: list[int] = []
    unet = model.pipeline.unet
    original_forward = unet.forward

    def spy(sample: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        batch_sizes.append(sample.shape[0])
        return original_forward(sample, *args, **kwargs)

    unet.forward = spy
    try:
        no_cfg = only(model.generate([settings(guidance=1.0, steps=2)]))
        cfg = only(model.generate([settings(guidance=7.5, steps=2)]))
    finally:
        del unet.forward
    assert batch_sizes == [2, 2, 2, 2]
    assert no_cfg.png is not None and cfg.png is not None
    assert model.pipeline.vae.use_slicing  # the VAE half of the same fix


def test_different_seeds_differ(model: ImageModel) -> None:
    a, b = model.generate([settings(seed=1), settings(seed=2)])
    assert a.png is not None and b.png is not None
    assert a.png != b.png
    pixels_a = Image.open(io.BytesIO(a.png)).tobytes()
    pixels_b = Image.open(io.BytesIO(b.png)).tobytes()
    assert pixels_a != pixels_b


def test_batch_must_share_size_steps_guidance(model: ImageModel) -> None:
    with pytest.raises(ValueError, match="share"):
        model.generate([settings(steps=4), settings(steps=5)])
    assert model.generate([]) == []


class FlagEverything(torch.nn.Module):
    """Stands in for StableDiffusionSafetyChecker: same call shape, flags every image.

    diffusers' `run_safety_checker` calls `feature_extractor(pil_images, return_tensors="pt")
    .to(device)` and then `safety_checker(images=..., clip_input=....pixel_values)`, which
    returns the (possibly blacked-out) images and one bool per image. This stub leaves the
    pixels untouched, so a leak would show.
    """

    @property
    def device(self) -> torch.device:  # DiffusionPipeline.device asks every module
        return torch.device("cpu")

    def forward(self, images: Any, clip_input: torch.Tensor) -> tuple[Any, list[bool]]:
        return images, [True] * len(images)


class StubFeatures:
    pixel_values = torch.zeros(1, 3, 8, 8)

    def to(self, device: Any) -> StubFeatures:
        return self


def test_flagged_images_are_never_returned(fresh_model: ImageModel) -> None:
    pipe = fresh_model.pipeline
    pipe.safety_checker = FlagEverything()
    pipe.feature_extractor = lambda images, return_tensors: StubFeatures()
    results = fresh_model.generate([settings(seed=1), settings(seed=2)])
    assert [(r.flagged, r.png, r.cancelled) for r in results] == [(True, None, False)] * 2
    assert all(r.steps_done == 4 for r in results)


def test_load_keeps_a_shipped_safety_checker(tiny_image_model_flagging: Path) -> None:
    model = ImageModel.load(tiny_image_model_flagging, device="cpu")
    assert model.pipeline.safety_checker is not None
    assert type(model.pipeline.safety_checker).__name__ == "StableDiffusionSafetyChecker"
    result = only(model.generate([settings()]))
    assert result.flagged and result.png is None


@pytest.mark.parametrize(
    "bad",
    [
        {"prompt": "   "},
        {"steps": 0},
        {"steps": 51},
        {"steps": True},
        {"guidance": -0.5},
        {"guidance": 20.5},
        {"guidance": float("nan")},
        {"seed": -1},
        {"seed": 2**32},
        {"width": 512, "height": 256},
        {"width": 500, "height": 500},
        {"width": 2048, "height": 2048},
        {"prompt": "x" * 1001},
    ],
)
def test_settings_are_validated(bad: dict[str, Any]) -> None:
    values: dict[str, Any] = {"prompt": "a cat"} | bad
    with pytest.raises(ValueError):
        ImageSettings(**values)


def test_settings_accept_the_class_sizes() -> None:
    for size in (256, 384, 512, 768):
        assert ImageSettings("a cat", width=size, height=size).batch_key == (size, size, 25, 7.5)
