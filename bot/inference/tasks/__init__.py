"""The text tasks /run can do: what the bot process knows about them (no torch here).

Each task is keyed by the Hub's `pipeline_tag`. Transformers 5 dropped several of these from
`pipeline()` (summarization, translation, text2text-generation, question-answering), so the
worker runs every task with the model's own forward pass or `generate`
(bot/inference/tasks/runners.py): the tag says what the student wants, not which pipeline runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class TextTask:
    tag: str  # the Hub's pipeline_tag
    title: str  # how the reply names it
    # Class-name endings a local folder's config.json "architectures" must have.
    architectures: tuple[str, ...]
    # Libraries whose repos load with transformers' Auto classes.
    libraries: tuple[str, ...] = ("transformers",)
    example: str = ""


_SEQ2SEQ = ("ForConditionalGeneration", "ForSeq2SeqLM")
_ENCODER = ("Model", "ForMaskedLM", "ForPreTraining")

TEXT_TASKS: dict[str, TextTask] = {
    t.tag: t
    for t in (
        TextTask(
            "text-classification",
            "text classification",
            ("ForSequenceClassification",),
            example='/run task:text-classification "I loved this film"',
        ),
        TextTask(
            "token-classification",
            "named entities",
            ("ForTokenClassification",),
            example='/run task:token-classification "Ada lives in Paris"',
        ),
        TextTask(
            "fill-mask",
            "fill the mask",
            ("ForMaskedLM",),
            example='/run task:fill-mask "Paris is the [MASK] of France"',
        ),
        TextTask(
            "question-answering",
            "question answering",
            ("ForQuestionAnswering",),
            example='/run task:question-answering "Where does Ada live?" context:"Ada lives in '
            'Paris."',
        ),
        TextTask(
            "summarization",
            "summarization",
            _SEQ2SEQ,
            example='/run task:summarization "A long article…"',
        ),
        TextTask(
            "translation",
            "translation",
            _SEQ2SEQ,
            example='/run task:translation "Good morning" source:en target:fr',
        ),
        TextTask(
            "text2text-generation",
            "text to text",
            _SEQ2SEQ,
            example='/run task:text2text-generation "Answer: what is the capital of France?"',
        ),
        TextTask(
            "zero-shot-classification",
            "zero-shot classification",
            ("ForSequenceClassification",),
            example='/run task:zero-shot-classification "I need a new phone" '
            "labels:shopping,sport,cooking",
        ),
        TextTask(
            "sentence-similarity",
            "sentence similarity",
            _ENCODER,
            libraries=("transformers", "sentence-transformers"),
            example='/run task:sentence-similarity "A cat sits" sentences:"A cat is sitting|'
            'Dogs bark"',
        ),
    )
}

SEQ2SEQ_TASKS = frozenset({"summarization", "translation", "text2text-generation"})
# Tasks other commands run: /run hands these over.
HANDED_OVER: dict[str, Literal["/generate", "/imagine"]] = {
    "text-generation": "/generate",
    "text-to-image": "/imagine",
}


def supported_list() -> str:
    return ", ".join(TEXT_TASKS)


def setting_name(task: str) -> str:
    """The Settings field holding the class's default model for a task."""
    return task.replace("-", "_").replace("2", "_to_") + "_model"


def task_from_config(config: Mapping[str, Any]) -> str | None:
    """The task a local folder's config.json says its model does, from its architecture
    (the Hub's own guess works the same way when a card names no pipeline_tag)."""
    architectures = [str(a) for a in config.get("architectures") or []]
    labels = {str(k).lower() for k in (config.get("label2id") or {})}
    for name in architectures:
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
