"""The model guard's text-to-image rule (/imagine): diffusers text-to-image pipelines only,
local folders read from disk (model_index.json), Hub repos sized from their weight files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import ModelInfo

from bot.config import Settings
from bot.inference.guard import TEXT_TO_IMAGE, ModelGuard, ModelRefused, count_safetensors_params
from bot.inference.pipelines import counted_weights, params_from_sizes
from tests.support import image_fixtures
from tests.support.hub_stub import HUBDATA_DIR

tiny_image_model = image_fixtures.tiny_image_model
tiny_image_model_flagging = image_fixtures.tiny_image_model_flagging

SD14 = "CompVis/stable-diffusion-v1-4"
# Byte sizes of SD 1.x's full-precision component files; the recorded model_info has none
# (the Hub lists sizes only when asked for files_metadata).
SIZES = {
    "unet/diffusion_pytorch_model.safetensors": 3_438_167_536,
    "text_encoder/model.safetensors": 492_265_168,
    "vae/diffusion_pytorch_model.safetensors": 334_643_268,
    "safety_checker/model.safetensors": 1_215_981_830,
}


def settings(**values: Any) -> Settings:
    values.setdefault("device", "cpu")
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def refusal(guard: ModelGuard, name: str) -> str:
    with pytest.raises(ModelRefused) as caught:
        await guard.check(name, TEXT_TO_IMAGE)
    error = caught.value.error
    assert error.todo, "every refusal says what to try instead"
    return f"{error.what} {error.todo}"


def sd14(**changes: Any) -> dict[str, Any]:
    path = HUBDATA_DIR / "model_info" / "model_info_CompVis_stable-diffusion-v1-4.json"
    body: dict[str, Any] = json.loads(path.read_text())["body"]
    for sibling in body["siblings"]:
        sibling["size"] = SIZES.get(sibling["rfilename"], 1000)
    body.update(changes)
    return body


def hub_guard(body: dict[str, Any], **values: Any) -> ModelGuard:
    info = ModelInfo(**body)
    return ModelGuard(settings(**values), model_info=lambda _: info, files_info=lambda _: info)


async def test_a_local_pipeline_folder_is_sized_from_its_components(
    tiny_image_model: Path, tiny_image_model_flagging: Path
) -> None:
    guard = ModelGuard(settings(image_model=str(tiny_image_model)))
    approved = await guard.check(str(tiny_image_model), TEXT_TO_IMAGE)
    parts = ("unet/diffusion_pytorch_model", "vae/diffusion_pytorch_model", "text_encoder/model")
    expected = sum(count_safetensors_params(tiny_image_model / f"{p}.safetensors") for p in parts)
    assert approved.source == "local" and approved.params == expected
    # A shipped safety checker is allowed (diffusers' own module) and not counted.
    checked = ModelGuard(settings(image_model=str(tiny_image_model_flagging)))
    assert (await checked.check(str(tiny_image_model_flagging), TEXT_TO_IMAGE)).params == expected


async def test_local_folders_that_do_not_make_images_from_text_are_refused(
    tmp_path: Path, tiny_image_model: Path, tiny_model_dir: Path
) -> None:
    def variant(name: str, **index: Any) -> str:
        folder = tmp_path / name
        shutil.copytree(tiny_image_model, folder)
        data = json.loads((folder / "model_index.json").read_text())
        (folder / "model_index.json").write_text(json.dumps({**data, **index}))
        return str(folder)

    guard = ModelGuard(
        settings(model_allowlist=f"{tmp_path.resolve()}/*", text_model=str(tiny_model_dir))
    )
    img2img = variant("img2img", _class_name="StableDiffusionImg2ImgPipeline")
    assert "holds a StableDiffusionImg2ImgPipeline pipeline, which does not make images" in (
        await refusal(guard, img2img)
    )
    custom = variant("custom", _class_name=["pipeline", "MyPipeline"])
    assert "trust_remote_code" in await refusal(guard, custom)
    own_unet = variant("own-unet", unet=["my_unet", "MyUNet"])
    assert "trust_remote_code" in await refusal(guard, own_unet)
    other_package = variant("other-package", unet=["os", "system"])
    assert "trust_remote_code" in await refusal(guard, other_package)
    assert "has no model_index.json, so it is not a diffusers model folder" in await refusal(
        guard, str(tiny_model_dir)
    )
    small = ModelGuard(settings(image_model=str(tiny_image_model), max_model_params=1000))
    assert "the limit here is 1K" in await refusal(small, str(tiny_image_model))


async def test_a_hub_pipeline_is_sized_from_its_weight_files() -> None:
    approved = await hub_guard(sd14()).check(SD14, TEXT_TO_IMAGE)
    unet, text, vae, _ = SIZES.values()
    assert approved.params == (unet + text + vae) // 4  # about 1.07B, the checker excluded
    assert approved.revision == sd14()["sha"]
    # SD-sized pipelines fit the CPU default for images (1.5B), not the text one (400M).
    assert "the limit here is 1B" in await refusal(
        hub_guard(sd14(), max_model_params=1_000_000_000), SD14
    )


async def test_hub_repos_that_are_not_whole_text_to_image_pipelines_are_refused() -> None:
    lora = sd14(siblings=[{"rfilename": "pytorch_lora_weights.safetensors", "size": 10}])
    assert "no model_index.json" in await refusal(hub_guard(lora), SD14)
    img2img = sd14(pipeline_tag="image-to-image")
    assert "does image-to-image, not text-to-image" in await refusal(hub_guard(img2img), SD14)
    custom = sd14(tags=[*sd14()["tags"], "custom_code"])
    text = await refusal(hub_guard(custom), SD14)
    assert "trust_remote_code" in text and "stabilityai/sd-turbo" in text  # /imagine's default


def test_variant_copies_and_the_safety_checker_do_not_count() -> None:
    files = [s["rfilename"] for s in sd14()["siblings"]]
    assert counted_weights(files) == [
        "text_encoder/model.safetensors",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
    ]
    fp16_only = {"unet/diffusion_pytorch_model.fp16.safetensors": 2000, "model.safetensors": 8}
    assert params_from_sizes(fp16_only) == 1000  # 2 bytes each; root files are not loaded
