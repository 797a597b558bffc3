"""The tasks /run can do: what the bot process knows about them (no torch here).

Each task is keyed by the Hub's `pipeline_tag`. Transformers 5 dropped several of these from
`pipeline()` (summarization, translation, text2text-generation, question-answering), so the
worker runs every task with the model's own forward pass or `generate`
(bot/inference/tasks/runners.py): the tag says what the student wants, not which pipeline runs.
The audio and image tasks take an attached file (`media`) and run in
bot/inference/tasks/media_runners.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Media = Literal["audio", "image"]


@dataclass(frozen=True)
class Task:
    tag: str  # the Hub's pipeline_tag
    title: str  # how the reply names it
    # Class-name endings a local folder's config.json "architectures" must have.
    architectures: tuple[str, ...]
    # Libraries whose repos load with transformers' Auto classes.
    libraries: tuple[str, ...] = ("transformers",)
    example: str = ""
    # The attached file the task runs on; None for a text task.
    media: Media | None = None


_SEQ2SEQ = ("ForConditionalGeneration", "ForSeq2SeqLM")
_ENCODER = ("Model", "ForMaskedLM", "ForPreTraining")

TEXT_TASKS: dict[str, Task] = {
    t.tag: t
    for t in (
        Task(
            "text-classification",
            "text classification",
            ("ForSequenceClassification",),
            example='/run task:text-classification "I loved this film"',
        ),
        Task(
            "token-classification",
            "named entities",
            ("ForTokenClassification",),
            example='/run task:token-classification "Ada lives in Paris"',
        ),
        Task(
            "fill-mask",
            "fill the mask",
            ("ForMaskedLM",),
            example='/run task:fill-mask "Paris is the [MASK] of France"',
        ),
        Task(
            "question-answering",
            "question answering",
            ("ForQuestionAnswering",),
            example='/run task:question-answering "Where does Ada live?" context:"Ada lives in '
            'Paris."',
        ),
        Task(
            "summarization",
            "summarization",
            _SEQ2SEQ,
            example='/run task:summarization "A long article…"',
        ),
        Task(
            "translation",
            "translation",
            _SEQ2SEQ,
            example='/run task:translation "Good morning" source:en target:fr',
        ),
        Task(
            "text2text-generation",
            "text to text",
            _SEQ2SEQ,
            example='/run task:text2text-generation "Answer: what is the capital of France?"',
        ),
        Task(
            "zero-shot-classification",
            "zero-shot classification",
            ("ForSequenceClassification",),
            example='/run task:zero-shot-classification "I need a new phone" '
            "labels:shopping,sport,cooking",
        ),
        Task(
            "sentence-similarity",
            "sentence similarity",
            _ENCODER,
            libraries=("transformers", "sentence-transformers"),
            example='/run task:sentence-similarity "A cat sits" sentences:"A cat is sitting|'
            'Dogs bark"',
        ),
    )
}

# Config keys only speech models have (wav2vec2's feature encoder, Whisper's and AST's mel
# bins): a ...ForSequenceClassification with them classifies audio, not text.
_AUDIO_KEYS = ("conv_dim", "num_mel_bins", "feat_extract_norm")

MEDIA_TASKS: dict[str, Task] = {
    t.tag: t
    for t in (
        Task(
            "automatic-speech-recognition",
            "speech recognition",
            ("ForCTC", "ForSpeechSeq2Seq"),
            media="audio",
            example="/run task:automatic-speech-recognition file:<clip.ogg>",
        ),
        Task(
            "audio-classification",
            "audio classification",
            # Wav2Vec2-style ...ForSequenceClassification too: told apart by _AUDIO_KEYS.
            ("ForAudioClassification",),
            media="audio",
            example="/run task:audio-classification file:<clip.wav>",
        ),
        Task(
            "image-classification",
            "image classification",
            ("ForImageClassification", "ForImageClassificationWithTeacher"),
            media="image",
            example="/run task:image-classification file:<cat.jpg>",
        ),
        Task(
            "object-detection",
            "object detection",
            ("ForObjectDetection",),
            media="image",
            example="/run task:object-detection file:<street.jpg>",
        ),
        Task(
            "image-to-text",
            "image to text",
            ("VisionEncoderDecoderModel", "ForVision2Seq", "ForImageTextToText"),
            media="image",
            example="/run task:image-to-text file:<photo.png>",
        ),
    )
}
# Every task /run runs itself, text first.
TASKS: dict[str, Task] = {**TEXT_TASKS, **MEDIA_TASKS}

SEQ2SEQ_TASKS = frozenset({"summarization", "translation", "text2text-generation"})
# Tasks other commands run: /run hands these over.
HANDED_OVER: dict[str, Literal["/generate", "/imagine"]] = {
    "text-generation": "/generate",
    "text-to-image": "/imagine",
}


def supported_list() -> str:
    return ", ".join(TASKS)


def media_of(task: str) -> Media | None:
    """What file the task runs on (None: a text task)."""
    spec = TASKS.get(task)
    return spec.media if spec is not None else None


def setting_name(task: str) -> str:
    """The Settings field holding the class's default model for a task."""
    return task.replace("-", "_").replace("2", "_to_") + "_model"


def task_from_config(config: Mapping[str, Any]) -> str | None:
    """The task a local folder's config.json says its model does, from its architecture
    (the Hub's own guess works the same way when a card names no pipeline_tag)."""
    architectures = [str(a) for a in config.get("architectures") or []]
    labels = {str(k).lower() for k in (config.get("label2id") or {})}
    audio = any(key in config for key in _AUDIO_KEYS)
    for name in architectures:
        if audio and name.endswith("ForSequenceClassification"):
            return "audio-classification"
        if audio and name.endswith("ForConditionalGeneration"):  # Whisper, Speech2Text
            return "automatic-speech-recognition"
        # Before the text tasks: "VisionEncoderDecoderModel" also ends like a bare encoder.
        for task in MEDIA_TASKS.values():
            if name.endswith(task.architectures):
                return task.tag
        if name.endswith("ForSequenceClassification"):
            nli = any(label.startswith("entail") for label in labels)
            return "zero-shot-classification" if nli else "text-classification"
        if name.endswith(("ForCausalLM", "LMHeadModel")):
            return "text-generation"
        for task in TEXT_TASKS.values():
            if task.tag not in ("zero-shot-classification", "sentence-similarity") and (
                name.endswith(task.architectures)
            ):
                return "text2text-generation" if task.tag in SEQ2SEQ_TASKS else task.tag
        if name.endswith(_ENCODER):
            return "sentence-similarity"
    return None


def fits(task: str, config: Mapping[str, Any]) -> bool:
    """Whether a local folder's model can do `task` (a seq2seq model can summarize, translate
    or rewrite; an NLI classifier can also classify)."""
    found = task_from_config(config)
    if found is None:
        return False
    if task in SEQ2SEQ_TASKS:
        return found in SEQ2SEQ_TASKS
    if task == "text-classification":
        return found in ("text-classification", "zero-shot-classification")
    if task == "sentence-similarity":
        return found in ("sentence-similarity", "fill-mask")
    return found == task
