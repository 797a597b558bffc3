"""/run's guard: the task comes from the Hub's pipeline_tag (through the real huggingface_hub
client and the Hub stand-in) or from a local folder's config, then the usual checks apply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.errors import UsageError
from bot.inference.guard import ModelGuard, ModelRefused
from bot.inference.tasks import TEXT_TASKS, task_from_config
from bot.inference.tasks.vetting import HandOver, TaskModel, check_task
from tests.support.hub_stub import HUBDATA_DIR


def guard(**values: Any) -> ModelGuard:
    values.setdefault("device", "cpu")
    return ModelGuard(Settings(_env_file=None, **values))  # type: ignore[call-arg]


async def test_hub_models_get_their_task_from_the_pipeline_tag() -> None:
    g = guard()
    sst2 = await check_task(g, "distilbert/distilbert-base-uncased-finetuned-sst-2-english", None)
    assert isinstance(sst2, TaskModel) and sst2.task == "text-classification"
    assert sst2.model.params == 66_955_010 and sst2.license == "apache-2.0"
    body = json.loads(
        (HUBDATA_DIR / "model_info" / "model_info_google-bert_bert-base-uncased.json").read_text()
    )["body"]
    bert = await check_task(g, "bert-base-uncased", None)  # renamed: followed
    assert isinstance(bert, TaskModel) and bert.task == "fill-mask"
    assert bert.model.id == "google-bert/bert-base-uncased"
    assert bert.mask_token == body["mask_token"] == "[MASK]"
    squad = await check_task(g, "deepset/roberta-base-squad2", None)
    assert isinstance(squad, TaskModel) and squad.task == "question-answering"
    # A sentence-transformers repo holds a transformers model: allowed for this task.
    albert = await check_task(g, "sentence-transformers/paraphrase-albert-small-v2", None)
    assert isinstance(albert, TaskModel) and albert.task == "sentence-similarity"


async def test_generation_models_are_handed_over() -> None:
    g = guard()
    assert await check_task(g, "gpt2", None) == HandOver("/generate", "gpt2")
    image = await check_task(g, "stabilityai/stable-diffusion-2-1", None)
    assert image == HandOver("/imagine", "stabilityai/stable-diffusion-2-1")


async def test_refusals_say_why_and_list_the_supported_tasks() -> None:
    g = guard()
    with pytest.raises(ModelRefused) as caught:
        await check_task(g, "nvidia/segformer-b0-finetuned-ade-512-512", None)
    error = caught.value.error
    assert "does image-segmentation, which /run can't do yet" in error.what
    assert all(task in error.todo for task in TEXT_TASKS)
    # The task asked for must be the model's.
    with pytest.raises(ModelRefused) as wrong:
        await check_task(g, "deepset/roberta-base-squad2", "fill-mask")
    assert "does question-answering, not fill-mask" in wrong.value.error.what
    # 2023 records list no safetensors: refused before anything is downloaded.
    with pytest.raises(ModelRefused) as pickles:
        await check_task(g, "sshleifer/distilbart-cnn-6-6", None)
    assert "no safetensors" in pickles.value.error.what
    with pytest.raises(ModelRefused) as big:
        await check_task(guard(max_model_params=1000), "deepset/roberta-base-squad2", None)
    assert "the limit here is 1K" in big.value.error.what
    with pytest.raises(UsageError):
        await check_task(g, None, None)


async def test_a_model_off_the_list_is_offered_the_class_models_of_run_not_of_generate() -> None:
    # /run model:<id> has no task until the Hub is asked, and the lists come first: the
    # way on is task:<task> (each task has its own model), never /generate's text model.
    g = guard(model_allowlist="deepset/*", model_denylist="google-bert/*")
    other = "cardiffnlp/twitter-roberta-base-sentiment-latest"
    with pytest.raises(ModelRefused) as off_list:
        await check_task(g, other, None)
    todo = off_list.value.error.todo
    assert todo == "You can use: the class's model for your task (task:<task>), deepset/*."
    with pytest.raises(ModelRefused) as blocked:
        await check_task(g, "google-bert/bert-base-uncased", None)
    assert "leave model: out to use the class's model for your task" in blocked.value.error.todo
    # With the task named, the offer is that task's own model.
    with pytest.raises(ModelRefused) as named:
        await check_task(g, other, "text-classification")
    default = str(Settings(_env_file=None).text_classification_model)  # type: ignore[call-arg]
    assert named.value.error.todo.startswith(f"You can use: {default}")
    assert g.settings.text_model not in named.value.error.todo + todo


def test_local_folders_get_their_task_from_the_architecture() -> None:
    def config(arch: str, **extra: Any) -> dict[str, Any]:
        return {"architectures": [arch], **extra}

    assert task_from_config(config("BertForTokenClassification")) == "token-classification"
    assert task_from_config(config("T5ForConditionalGeneration")) == "text2text-generation"
    assert task_from_config(config("GPTNeoForCausalLM")) == "text-generation"
    nli = config("BertForSequenceClassification", label2id={"ENTAILMENT": 0, "neutral": 1})
    assert task_from_config(nli) == "zero-shot-classification"
    assert task_from_config(config("BertModel")) == "sentence-similarity"
    assert task_from_config(config("SegformerForSemanticSegmentation")) is None


async def test_local_folders_need_the_instructor_and_a_fitting_model(
    task_models: dict[str, Path], tiny_model_dir: Path, tmp_path: Path
) -> None:
    ner = task_models["token-classification"]
    with pytest.raises(ModelRefused) as closed:
        await check_task(guard(), str(ner), None)
    assert "chosen by the instructor" in closed.value.error.what
    g = guard(model_allowlist=f"{ner},{task_models['text2text-generation']},{tiny_model_dir}")
    found = await check_task(g, str(ner), None)
    assert isinstance(found, TaskModel) and found.task == "token-classification"
    # One seq2seq folder does every seq2seq task it is asked for.
    t5 = str(task_models["text2text-generation"])
    for task in ("summarization", "translation", "text2text-generation"):
        approved = await check_task(g, t5, task)
        assert isinstance(approved, TaskModel) and approved.task == task
    with pytest.raises(ModelRefused) as misfit:
        await check_task(g, str(ner), "fill-mask")
    assert "does not do fill-mask" in misfit.value.error.what
    assert await check_task(g, str(tiny_model_dir), None) == HandOver(
        "/generate", str(tiny_model_dir)
    )
    # Never remote code.
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "config.json").write_text(
        json.dumps({"architectures": ["BertForMaskedLM"], "auto_map": {"AutoModel": "x.Y"}})
    )
    with pytest.raises(ModelRefused) as remote:
        await check_task(guard(model_allowlist=str(custom)), str(custom), None)
    assert "trust_remote_code" in remote.value.error.what


async def test_off_the_list_a_folder_default_says_how_to_use_it(
    task_models: dict[str, Path],
) -> None:
    g = guard(translation_model=str(task_models["text2text-generation"]), model_allowlist="x/*")
    with pytest.raises(ModelRefused) as refused:
        await check_task(g, "google-t5/t5-small", "translation")
    assert refused.value.error.todo == (
        "You can use: the class's default model (leave model: out), x/*."
    )
    assert str(task_models["text2text-generation"]) not in refused.value.error.todo


async def test_a_class_default_folder_is_allowed_however_it_is_spelled(
    task_models: dict[str, Path],
) -> None:
    ner = task_models["token-classification"]
    g = guard(token_classification_model=str(ner))
    for name in (None, str(ner), f"{ner}/", f"{ner.parent}/./{ner.name}"):
        found = await check_task(g, name, "token-classification")
        assert isinstance(found, TaskModel) and found.task == "token-classification"
    # Its neighbours are still the instructor's to open.
    with pytest.raises(ModelRefused) as closed:
        await check_task(g, str(task_models["fill-mask"]), None)
    assert "chosen by the instructor" in closed.value.error.what


async def test_asking_a_task_of_another_kind_of_model(tmp_path: Path) -> None:
    g = guard()
    assert await check_task(g, "gpt2", "text-generation") == HandOver("/generate", "gpt2")
    with pytest.raises(ModelRefused) as caught:
        await check_task(
            g, "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "text-generation"
        )
    assert "does text-classification, not text-generation" in caught.value.error.what
    missing = tmp_path / "gone"
    with pytest.raises(ModelRefused) as nothing:
        await check_task(guard(model_allowlist=str(missing)), str(missing), None)
    assert "There is no model folder" in nothing.value.error.what
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ModelRefused) as damaged:
        await check_task(guard(model_allowlist=str(broken)), str(broken), None)
    assert "could not read" in damaged.value.error.what


async def test_a_folder_changed_in_place_is_read_again(tmp_path: Path) -> None:
    """The folder's files are kept between commands, but an instructor who swaps the model
    in the folder is not answered from the old one."""
    folder = tmp_path / "swapped"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["BertForMaskedLM"]}))
    (folder / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    g = guard(model_allowlist=str(folder))
    first = await check_task(g, str(folder), None)
    assert isinstance(first, TaskModel) and first.task == "fill-mask"
    (folder / "config.json").write_text(
        json.dumps({"architectures": ["BertForTokenClassification"], "id2label": {}})
    )
    second = await check_task(g, str(folder), None)
    assert isinstance(second, TaskModel) and second.task == "token-classification"
    (folder / "config.json").unlink()
    with pytest.raises(ModelRefused):
        await check_task(g, str(folder), None)
