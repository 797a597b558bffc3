"""The guard for /run's audio and image tasks: the Hub's pipeline_tag or a local folder's
architecture names the task, then the usual rules apply (transformers, safetensors, size)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.inference.guard import ModelRefused
from bot.inference.tasks import MEDIA_TASKS, task_from_config
from bot.inference.tasks.vetting import TaskModel, check_task
from tests.tasks.test_task_guard import guard


def test_architectures_name_the_media_tasks() -> None:
    cases = {
        "Wav2Vec2ForCTC": "automatic-speech-recognition",
        "HubertForCTC": "automatic-speech-recognition",
        "ASTForAudioClassification": "audio-classification",
        "ViTForImageClassification": "image-classification",
        "DeiTForImageClassificationWithTeacher": "image-classification",
        "YolosForObjectDetection": "object-detection",
        "DetrForObjectDetection": "object-detection",
        "VisionEncoderDecoderModel": "image-to-text",
        "LlavaForImageTextToText": "image-to-text",
    }
    for architecture, task in cases.items():
        assert task_from_config({"architectures": [architecture]}) == task, architecture
    # Whisper's class ends like a text seq2seq model's: its mel bins tell it apart.
    whisper = {"architectures": ["WhisperForConditionalGeneration"], "num_mel_bins": 80}
    assert task_from_config(whisper) == "automatic-speech-recognition"
    t5 = {"architectures": ["T5ForConditionalGeneration"]}
    assert task_from_config(t5) == "text2text-generation"
    # The same head class on a speech model classifies sounds, on a text model sentences.
    speech = {"architectures": ["Wav2Vec2ForSequenceClassification"], "conv_dim": [512]}
    assert task_from_config(speech) == "audio-classification"
    text = {"architectures": ["BertForSequenceClassification"]}
    assert task_from_config(text) == "text-classification"
    assert task_from_config({"architectures": ["SegformerForSemanticSegmentation"]}) is None


async def test_hub_media_models_are_vetted_like_text_models() -> None:
    g = guard()
    # 2023 records list no safetensors: the task is known, and the model is still refused
    # before anything is downloaded.
    for name in ("hustvl/yolos-tiny", "google/vit-base-patch16-224", "openai/whisper-large-v2"):
        with pytest.raises(ModelRefused) as caught:
            await check_task(g, name, None)
        assert "no safetensors" in caught.value.error.what, caught.value.error.what
    # A speechbrain model does audio-classification, but not with transformers.
    with pytest.raises(ModelRefused) as other:
        await check_task(g, "speechbrain/emotion-recognition-wav2vec2-IEMOCAP", None)
    assert "speechbrain" in other.value.error.what, other.value.error.what


async def test_local_media_models_and_the_refusal_list(media_models: dict[str, Path]) -> None:
    folder = media_models["object-detection"]
    found = await check_task(guard(model_allowlist=[str(folder)]), str(folder), None)
    assert isinstance(found, TaskModel) and found.task == "object-detection"
    with pytest.raises(ModelRefused) as caught:
        await check_task(guard(), "nvidia/segformer-b0-finetuned-ade-512-512", None)
    assert all(task in caught.value.error.todo for task in MEDIA_TASKS)
