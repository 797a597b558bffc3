"""The worker's model manager: load once, least recently used out under a memory budget,
and the Hub download path (against the stand-in, which serves no weights)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from bot.inference.guard import ApprovedModel
from bot.inference.manager import ModelManager, ModelUnavailable
from tests.support.hub_stub import HubStub, closed_url, point_huggingface_hub_at, restore_hf


def spec(path: Path) -> dict[str, object]:
    return ApprovedModel(str(path), "local", 164_736).to_json()


def test_models_load_once_and_the_least_recently_used_leaves_first(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    second, third = tmp_path / "second", tmp_path / "third"
    shutil.copytree(tiny_model_dir, second)
    shutil.copytree(tiny_model_dir, third)
    manager = ModelManager(torch.device("cpu"), budget_bytes=10**9)
    seen: list[str] = []

    def report(label: str, fraction: float | None) -> None:
        seen.append(label)

    first = manager.text_model(spec(tiny_model_dir), report)
    assert manager.text_model(spec(tiny_model_dir), report) is first  # loaded once
    assert seen == ["loading the model"]
    size = first.memory_bytes  # weights and buffers, about 0.8 MB
    manager.budget = int(size * 2.5)  # room for two
    manager.text_model(spec(second), report)
    manager.text_model(spec(tiny_model_dir), report)  # used again: now the most recent
    manager.text_model(spec(third), report)  # over budget: `second` goes
    assert [key.split("@")[0].rsplit("/", 1)[-1] for key in manager.loaded] == [
        tiny_model_dir.name,
        "third",
    ]
    assert manager.used_bytes == 2 * size <= manager.budget


def test_a_model_bigger_than_the_budget_still_loads_alone(tiny_model_dir: Path) -> None:
    manager = ModelManager(torch.device("cpu"), budget_bytes=1000)
    model = manager.text_model(spec(tiny_model_dir), lambda *_: None)
    assert model.num_parameters == 164_736
    assert len(manager.loaded) == 1


def test_a_failed_download_is_a_plain_message(tmp_path: Path) -> None:
    # The stand-in knows gpt2 but serves none of its weight files.
    manager = ModelManager(torch.device("cpu"), budget_bytes=10**9)
    seen: list[str] = []
    with pytest.raises(ModelUnavailable, match="Downloading gpt2 failed"):
        manager.fetch(
            {"id": "gpt2", "source": "hub", "params": 1, "rev": None},
            lambda label, _: seen.append(label),
        )
    assert seen[0] == "downloading 0%"


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("unreachable", "I could not reach the Hugging Face Hub"),
        ("503", "The Hugging Face Hub had a problem (error 503)"),
        ("html", "sent an answer I could not read"),
        ("missing", "There is no public model called nobody/nothing"),
    ],
)
def test_hub_faults_on_the_download_path_use_the_shared_words(
    fresh_hub_stub: HubStub, tmp_path: Path, fault: str, words: str
) -> None:
    manager = ModelManager(torch.device("cpu"), budget_bytes=10**9)
    repo = "nobody/nothing" if fault == "missing" else "gpt2"
    url = closed_url() if fault == "unreachable" else fresh_hub_stub.url
    if fault == "503":
        fresh_hub_stub.inject("/api/models/gpt2", status=503, times=10)
    if fault == "html":
        fresh_hub_stub.inject("/api/models/gpt2", mode="html", times=10)
    saved = point_huggingface_hub_at(url, tmp_path / "hf-cache")
    try:
        with pytest.raises(ModelUnavailable) as caught:
            manager.fetch({"id": repo, "source": "hub", "params": 1, "rev": None}, print)
    finally:
        restore_hf(saved)
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"Downloading {repo} failed.")
