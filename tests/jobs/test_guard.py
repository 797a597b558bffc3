"""The model guard: every refusal, through the real huggingface_hub client against the Hub
stand-in (tests/support/hub_stub.py), and local folders read from disk."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import ModelInfo

from bot.config import Settings
from bot.hub.client import HubClient
from bot.inference.devices import param_cap
from bot.inference.guard import (
    TEXT_TO_IMAGE,
    ApprovedModel,
    ModelGuard,
    ModelRefused,
    count_safetensors_params,
    folder_pattern,
    format_params,
)
from tests.support.hub_stub import HUBDATA_DIR, HubStub, closed_url


def settings(**values: Any) -> Settings:
    values.setdefault("device", "cpu")
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def refusal(guard: ModelGuard, name: str) -> str:
    with pytest.raises(ModelRefused) as caught:
        await guard.check(name)
    error = caught.value.error
    assert error.todo, "every refusal says what to try instead"
    return f"{error.what} {error.todo}"


def write_safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    """A real .safetensors file (header + zero bytes) without torch."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes.items():
        size = 4
        for dim in shape:
            size *= dim
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + bytes(offset))


def model_folder(path: Path, *, arch: str = "GPT2LMHeadModel", **config: Any) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"architectures": [arch], **config}))
    write_safetensors(path / "model.safetensors", {"wte": [100, 8], "h.0.w": [8, 8]})
    return path


async def test_an_open_text_generation_model_is_approved_with_its_commit() -> None:
    approved = await ModelGuard(settings()).check("gpt2")
    body = json.loads((HUBDATA_DIR / "model_info" / "model_info_gpt2.json").read_text())["body"]
    assert approved == ApprovedModel("gpt2", "hub", 137_022_720, revision=body["sha"])
    assert approved.short_name == "gpt2"


async def test_a_renamed_repo_is_followed_and_judged_under_its_new_name() -> None:
    text = await refusal(ModelGuard(settings()), "bert-base-uncased")
    assert "google-bert/bert-base-uncased does fill-mask, not text-generation" in text


async def test_missing_deleted_and_malformed_ids() -> None:
    guard = ModelGuard(settings())
    assert "can't find the model runwayml/stable-diffusion-v1-5" in await refusal(
        guard, "runwayml/stable-diffusion-v1-5"
    )
    assert "is not a model id" in await refusal(guard, "no//such id")


async def test_a_model_for_another_library_points_to_the_right_command() -> None:
    text = await refusal(ModelGuard(settings()), "CompVis/stable-diffusion-v1-4")
    assert "is a diffusers model, not a transformers one" in text
    assert "/imagine" in text


async def test_a_gated_model_needs_a_token_and_then_must_still_fit() -> None:
    llama = "meta-llama/Llama-3.1-8B-Instruct"
    assert "is gated" in await refusal(ModelGuard(settings()), llama)
    with_token = ModelGuard(settings(HF_TOKEN="hf_test"))
    assert "has 8B parameters; the limit here is 400M" in await refusal(with_token, llama)


async def test_the_parameter_cap_follows_the_setting_or_the_device() -> None:
    text = await refusal(ModelGuard(settings(max_model_params=100_000_000)), "gpt2")
    assert "gpt2 has 137M parameters; the limit here is 100M" in text
    assert param_cap(0, "cpu") == 400_000_000
    assert param_cap(0, "cuda") == 1_500_000_000
    assert param_cap(5, "cuda") == 5


async def test_a_repo_without_safetensors_is_refused() -> None:
    # The stand-in lists distilgpt2 with README.md alone: no weights it could load safely.
    assert "has no safetensors weights" in await refusal(ModelGuard(settings()), "distilgpt2")


async def test_remote_code_is_never_run() -> None:
    body = json.loads((HUBDATA_DIR / "model_info" / "model_info_gpt2.json").read_text())["body"]
    body["tags"] = [*body["tags"], "custom_code"]
    guard = ModelGuard(settings(), model_info=lambda _: ModelInfo(**body))
    assert "trust_remote_code" in await refusal(guard, "gpt2")


async def test_deny_list_wins_and_allow_list_limits() -> None:
    denied = ModelGuard(settings(model_denylist="openai-community/*, GPT2"))
    assert "gpt2 is blocked in this class" in await refusal(denied, "gpt2")
    allowed = ModelGuard(settings(model_allowlist="EleutherAI/*", text_model="distilgpt2"))
    assert "not on this class's list" in await refusal(allowed, "gpt2")
    # The default model stays allowed (and is then judged like any other).
    assert "no safetensors" in await refusal(allowed, "distilgpt2")
    assert (await ModelGuard(settings(model_allowlist="gpt*")).check("gpt2")).id == "gpt2"


async def test_hub_answers_are_cached_and_shared(fresh_hub_stub: HubStub) -> None:
    guard = ModelGuard(settings())
    await asyncio.gather(*(guard.check("gpt2") for _ in range(5)))
    await guard.check("gpt2")
    assert fresh_hub_stub.count("/api/models/gpt2") == 1
    await refusal(guard, "nosuch/model")
    await refusal(guard, "nosuch/model")
    assert fresh_hub_stub.count("/api/models/nosuch") == 1


async def test_a_hub_outage_is_explained_and_not_cached(fresh_hub_stub: HubStub) -> None:
    guard = ModelGuard(settings())
    fresh_hub_stub.inject("/api/models/gpt2", status=503, times=10)
    text = await refusal(guard, "gpt2")
    # The Hub client's words for the fault (bot/hub/faults.py), and a way on.
    assert "The Hugging Face Hub had a problem (error 503)" in text
    assert "leave model: out to use EleutherAI/gpt-neo-125m" in text
    fresh_hub_stub.reset()
    assert (await guard.check("gpt2")).id == "gpt2"


async def test_local_folders_are_read_from_disk(tmp_path: Path) -> None:
    ok = model_folder(tmp_path / "ok")
    assert count_safetensors_params(ok / "model.safetensors") == 100 * 8 + 8 * 8
    guard = ModelGuard(settings(text_model=str(ok)))
    approved = await guard.check(str(ok))
    assert approved == ApprovedModel(str(ok.resolve()), "local", 864)
    assert format_params(approved.params) == "864"

    other = model_folder(tmp_path / "other")
    assert "chosen by the instructor" in await refusal(guard, str(other))

    allow = f"{tmp_path.resolve()}/*"
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text('{"architectures": ["GPT2LMHeadModel"]}')
    (pickled / "pytorch_model.bin").write_bytes(b"not safe")
    remote = model_folder(tmp_path / "remote", auto_map={"AutoModel": "x.Model"})
    masked = model_folder(tmp_path / "masked", arch="BertForMaskedLM")
    empty = tmp_path / "empty"
    empty.mkdir()
    big = model_folder(tmp_path / "big")
    write_safetensors(big / "model.safetensors", {"w": [1000, 1000]})
    guard = ModelGuard(settings(model_allowlist=allow, max_model_params=10_000))
    assert "has no safetensors weights" in await refusal(guard, str(pickled))
    assert "trust_remote_code" in await refusal(guard, str(remote))
    assert "BertForMaskedLM model, which does not generate text" in await refusal(
        guard, str(masked)
    )
    assert "has no config.json" in await refusal(guard, str(empty))
    assert "has 1M parameters; the limit here is 10K" in await refusal(guard, str(big))
    assert "There is no model folder" in await refusal(guard, str(tmp_path / "gone"))


async def test_an_unreachable_hub_is_a_plain_refusal(tmp_path: Path) -> None:
    values = settings(hub_timeout_seconds=2)
    hub = HubClient(values, endpoint=closed_url())
    try:
        text = await refusal(ModelGuard(values, hub), "gpt2")
    finally:
        await hub.aclose()
    assert "I could not reach the Hugging Face Hub" in text


async def test_a_vetted_model_does_not_wait_on_a_hanging_hub(fresh_hub_stub: HubStub) -> None:
    # Answers expire at once: every check after the first looks the model up again.
    values = settings(hub_cache_seconds=0, hub_timeout_seconds=5)
    hub = HubClient(values, endpoint=fresh_hub_stub.url)
    guard = ModelGuard(values, hub)
    try:
        first = await guard.check("gpt2")
        fresh_hub_stub.inject("/api/models/", mode="hang", times=100)
        started = time.perf_counter()
        assert await guard.check("gpt2") == first
        assert time.perf_counter() - started < 0.5
        # A model never vetted has nothing to fall back on: it waits for the Hub, then says so.
        hub.timeout = 0.3
        assert "did not answer in time" in await refusal(guard, "EleutherAI/gpt-neo-125M")
    finally:
        fresh_hub_stub.reset()
        await hub.aclose()


async def test_a_parameter_count_that_is_not_a_number_is_a_refusal() -> None:
    body = json.loads((HUBDATA_DIR / "model_info" / "model_info_gpt2.json").read_text())["body"]
    body["safetensors"] = {"parameters": {"F32": "lots"}, "total": "lots"}
    guard = ModelGuard(settings(), model_info=lambda _: ModelInfo(**body))
    assert "I can't tell how big gpt2 is" in await refusal(guard, "gpt2")
    body["safetensors"] = "not an object"
    broken = ModelGuard(settings(), model_info=lambda _: ModelInfo(**body))
    assert "could not read" in await refusal(broken, "gpt2")


@pytest.mark.parametrize("pattern", ["*", "*/*", "/*", "/t*", "**", "/?*"])
async def test_a_bare_wildcard_never_opens_the_servers_folders(
    tmp_path: Path, pattern: str
) -> None:
    folder = model_folder(tmp_path / "m")
    guard = ModelGuard(settings(model_allowlist=pattern))
    # The same answer for a folder that exists and one that does not: nothing is revealed.
    for name in (str(folder), str(tmp_path / "missing"), "/etc"):
        assert "Local model folders are chosen by the instructor" in await refusal(guard, name)
    assert folder_pattern(pattern) is None
    named = ModelGuard(settings(model_allowlist=f"{tmp_path}/*"))
    assert (await named.check(str(folder))).source == "local"


def test_folder_patterns_need_a_whole_folder_before_a_wildcard(tmp_path: Path) -> None:
    assert folder_pattern(f"{tmp_path}/*") == f"{tmp_path.resolve()}/*"
    assert folder_pattern(f"{tmp_path}/models-?") == f"{tmp_path.resolve()}/models-?"
    assert folder_pattern("EleutherAI/*") is None  # a Hub id pattern
    assert folder_pattern("/s*/models/*") is None


async def test_imagine_hints_name_the_image_model_and_never_a_server_path(
    tmp_path: Path,
) -> None:
    path = HUBDATA_DIR / "model_info" / "model_info_CompVis_stable-diffusion-v1-4.json"
    body = json.loads(path.read_text())["body"]
    body["gated"] = "manual"
    info = ModelInfo(**body)
    local = str(model_folder(tmp_path / "secret-models" / "sd"))
    for image_model in ("stabilityai/sd-turbo", local):
        guard = ModelGuard(
            settings(image_model=image_model), model_info=lambda _: info, files_info=lambda _: info
        )
        with pytest.raises(ModelRefused) as caught:
            await guard.check("CompVis/stable-diffusion-v1-4", TEXT_TO_IMAGE)
        text = f"{caught.value.error.what} {caught.value.error.todo}"
        assert "is gated" in text and "gpt-neo" not in text and "secret-models" not in text
        expected = "the class's default model" if image_model == local else image_model
        assert expected in text


async def test_a_damaged_instructor_folder_is_a_plain_refusal(tmp_path: Path) -> None:
    broken_config = model_folder(tmp_path / "config")
    (broken_config / "config.json").write_text("{not json")
    broken_weights = model_folder(tmp_path / "weights")
    (broken_weights / "model.safetensors").write_bytes(b"\x01\x02")
    guard = ModelGuard(settings(model_allowlist=f"{tmp_path}/*"))
    assert "could not read (JSONDecodeError)" in await refusal(guard, str(broken_config))
    assert "could not read (a file is cut off)" in await refusal(guard, str(broken_weights))
