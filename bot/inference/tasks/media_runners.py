"""The worker side of /run's audio and image tasks: a model with its own feature extractor or
image processor, run on a batch of attached files in one call.

Speech recognition decodes CTC logits greedily (Wav2Vec2, HuBERT) or runs `generate` for
sequence-to-sequence speech models (Whisper); audio and image classification are the
model's logits; object detection goes through the processor's
`post_process_object_detection`; image-to-text is `generate` on the pixels. The clip arrives
as 16 kHz WAV (bot/inference/tasks/media.py) and is resampled here with PyAV to the rate the
model's feature extractor asks for. Imported in worker processes only.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch
from PIL import Image
from transformers import (
    AutoFeatureExtractor,
    AutoImageProcessor,
    AutoModelForAudioClassification,
    AutoModelForCTC,
    AutoModelForImageClassification,
    AutoModelForImageTextToText,
    AutoModelForObjectDetection,
    AutoModelForSpeechSeq2Seq,
    AutoTokenizer,
)

from bot.inference.tasks.boxes import DETECTION_THRESHOLD, Box, open_image, visible
from bot.inference.tasks.runners import Answer, LoadedModel, Row

_AUTO: dict[str, Any] = {
    "audio-classification": AutoModelForAudioClassification,
    "image-classification": AutoModelForImageClassification,
    "object-detection": AutoModelForObjectDetection,
    "image-to-text": AutoModelForImageTextToText,
}
_AUDIO = frozenset({"automatic-speech-recognition", "audio-classification"})
_TOP_LABELS = 5
_CAPTION_TOKENS = 30


class MediaRunner(LoadedModel):
    """A loaded model and its preprocessor for one audio or image task (the worker owns it;
    the same interface as bot.inference.tasks.runners.TaskRunner)."""

    def __init__(self, task: str, model: Any, preprocessor: Any, tokenizer: Any, name: str) -> None:
        self.task, self.model, self.name = task, model.train(False), name
        self.preprocessor, self.tokenizer = preprocessor, tokenizer

    @classmethod
    def load(cls, path: str | Path, task: str, *, device: str = "cpu") -> MediaRunner:
        """Safetensors only, never remote code."""
        torch_device = torch.device(device)
        dtype = torch.float16 if torch_device.type == "cuda" else torch.float32
        folder = str(path)
        safe: dict[str, Any] = {"trust_remote_code": False}
        if task in _AUDIO:
            preprocessor = AutoFeatureExtractor.from_pretrained(folder, **safe)
        else:
            preprocessor = AutoImageProcessor.from_pretrained(folder, **safe)
        tokenizer = None
        if task in ("automatic-speech-recognition", "image-to-text"):
            tokenizer = AutoTokenizer.from_pretrained(folder, **safe)
        auto = _AUTO.get(task) or _speech_auto(folder)
        model = auto.from_pretrained(folder, use_safetensors=True, dtype=dtype, **safe)
        model = torch.nn.Module.to(model, torch_device)
        return cls(task, model, preprocessor, tokenizer, folder)

    @property
    def dtype(self) -> torch.dtype:
        dtype: torch.dtype = next(self.model.parameters()).dtype
        return dtype

    # -- running -----------------------------------------------------------------------------

    @torch.inference_mode()
    def run(self, rows: Sequence[Row]) -> list[Answer]:
        """One answer per row, in order: every row of the batch in one call."""
        start = time.perf_counter()
        handler = {
            "automatic-speech-recognition": self._transcribe,
            "audio-classification": self._classify_audio,
            "image-classification": self._classify_image,
            "object-detection": self._detect,
            "image-to-text": self._caption,
        }[self.task]
        answers = handler(list(rows))
        seconds = time.perf_counter() - start
        for answer in answers:
            answer.seconds = seconds
        return answers

    def _to_model(self, encoded: Any) -> dict[str, Any]:
        """Inputs on the model's device; float features in the model's dtype."""
        moved = {}
        for key, value in encoded.items():
            if isinstance(value, torch.Tensor):
                value = value.to(self.device)
                if value.is_floating_point():
                    value = value.to(self.dtype)
            moved[key] = value
        return moved

    def _labels(self) -> dict[int, str]:
        return {int(k): str(v) for k, v in (self.model.config.id2label or {}).items()}

    def _ranked(self, probs: torch.Tensor) -> list[tuple[str, float]]:
        labels = self._labels()
        ranked = sorted(
            ((labels.get(i, f"LABEL_{i}"), float(v)) for i, v in enumerate(probs)),
            key=lambda x: -x[1],
        )
        return ranked[:_TOP_LABELS]

    # -- audio --------------------------------------------------------------------------------

    def _waves(self, rows: list[Row]) -> list[np.ndarray[Any, Any]]:
        rate = int(getattr(self.preprocessor, "sampling_rate", 16_000))
        return [decode_audio(row.data, rate) for row in rows]

    def _audio_inputs(self, rows: list[Row]) -> dict[str, Any]:
        encoded = self.preprocessor(
            self._waves(rows),
            sampling_rate=int(getattr(self.preprocessor, "sampling_rate", 16_000)),
            padding=True,
            return_tensors="pt",
        )
        return self._to_model(encoded)

    def _transcribe(self, rows: list[Row]) -> list[Answer]:
        inputs = self._audio_inputs(rows)
        if self.model.config.is_encoder_decoder:  # Whisper-style: the decoder writes the text
            ids = self.model.generate(**inputs)
            texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        else:  # CTC: the likeliest character per frame, repeats and blanks collapsed
            ids = self.model(**inputs).logits.argmax(-1).cpu()
            texts = self.tokenizer.batch_decode(ids)
        return [Answer(text=" ".join(str(t).split())) for t in texts]

    def _classify_audio(self, rows: list[Row]) -> list[Answer]:
        logits = self.model(**self._audio_inputs(rows)).logits.float().cpu()
        return [Answer(scores=self._ranked(p)) for p in logits.softmax(-1)]

    # -- images -------------------------------------------------------------------------------

    def _images(self, rows: list[Row]) -> list[Image.Image]:
        return [open_image(row.data) for row in rows]

    def _classify_image(self, rows: list[Row]) -> list[Answer]:
        encoded = self.preprocessor(images=self._images(rows), return_tensors="pt")
        logits = self.model(**self._to_model(encoded)).logits.float().cpu()
        multi = getattr(self.model.config, "problem_type", None) == "multi_label_classification"
        probs = logits.sigmoid() if multi else logits.softmax(-1)
        return [Answer(scores=self._ranked(p)) for p in probs]

    def _detect(self, rows: list[Row]) -> list[Answer]:
        images = self._images(rows)
        encoded = self.preprocessor(images=images, return_tensors="pt")
        outputs = self.model(**self._to_model(encoded))
        outputs.logits = outputs.logits.float().cpu()
        outputs.pred_boxes = outputs.pred_boxes.float().cpu()
        found = self.preprocessor.post_process_object_detection(
            outputs,
            threshold=DETECTION_THRESHOLD,
            target_sizes=[(image.height, image.width) for image in images],
        )
        labels = self._labels()
        answers = []
        for image, result in zip(images, found, strict=True):
            boxes: list[Box] = []
            for score, label, corners in zip(
                result["scores"], result["labels"], result["boxes"], strict=True
            ):
                x0, y0, x1, y1 = (float(v) for v in corners)
                name = labels.get(int(label), f"LABEL_{int(label)}")
                boxes.append((name, float(score), x0, y0, x1, y1))
            answers.append(Answer(boxes=visible(boxes, image.width, image.height)))
        return answers

    def _caption(self, rows: list[Row]) -> list[Answer]:
        encoded = self.preprocessor(images=self._images(rows), return_tensors="pt")
        ids = self.model.generate(
            **self._to_model(encoded), max_new_tokens=_CAPTION_TOKENS, do_sample=False
        )
        texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        return [Answer(text=" ".join(str(t).split())) for t in texts]


def _speech_auto(folder: str) -> Any:
    """CTC (Wav2Vec2) or sequence-to-sequence (Whisper), as the config says."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
    return AutoModelForSpeechSeq2Seq if config.is_encoder_decoder else AutoModelForCTC


def decode_audio(data: bytes, rate: int) -> np.ndarray[Any, Any]:
    """Mono float32 samples at `rate` (PyAV's resampler)."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    parts: list[np.ndarray[Any, Any]] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        for frame in container.decode(audio=0):
            parts.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
    parts.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(1, np.float32)
