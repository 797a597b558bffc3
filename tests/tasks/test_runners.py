"""The worker-side runners on the tiny models, in this process (no bot, no job engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bot.inference.tasks.runners import Row, TaskRunner


def test_a_multi_label_model_scores_each_label_on_its_own(task_models: dict[str, Path]) -> None:
    runner = TaskRunner.load(task_models["text-classification"], "text-classification")
    (single,) = runner.run([Row(text="I loved it")])
    assert abs(sum(score for _, score in single.scores) - 1) < 1e-4
    runner.model.config.problem_type = "multi_label_classification"
    (multi,) = runner.run([Row(text="I loved it")])
    encoded = runner.tokenizer(["I loved it"], return_tensors="pt")
    with torch.inference_mode():
        logits = runner.model(**encoded).logits[0]
    labels = runner.model.config.id2label
    expected = {labels[i]: float(torch.sigmoid(v)) for i, v in enumerate(logits)}
    assert {label: round(score, 4) for label, score in multi.scores} == {
        label: round(score, 4) for label, score in expected.items()
    }


def test_a_batch_gives_each_row_its_answer_alone(task_models: dict[str, Path]) -> None:
    runner = TaskRunner.load(task_models["token-classification"], "token-classification")
    texts = ["Ada lives in Paris", "the cat sat on the mat with alan in london today"]
    together = runner.run([Row(text=t) for t in texts])
    for text, batched in zip(texts, together, strict=True):
        (alone,) = runner.run([Row(text=text)])
        assert [(s[0], s[1], s[2]) for s in batched.spans] == [
            (s[0], s[1], s[2]) for s in alone.spans
        ]


def test_a_model_without_an_entailment_label_refuses_every_row(
    task_models: dict[str, Path],
) -> None:
    runner = TaskRunner.load(task_models["text-classification"], "zero-shot-classification")
    rows = [Row(text=t, labels=("sport", "politics")) for t in ("Goal!", "Vote today")]
    answers = runner.run(rows)
    assert len(answers) == 2
    assert all(a.error.endswith("is not an NLI model (no entailment label).") for a in answers)


def test_a_mask_cut_off_by_the_length_is_named(task_models: dict[str, Path]) -> None:
    runner = TaskRunner.load(task_models["fill-mask"], "fill-mask")
    late = " ".join(["the cat sat"] * 30) + " [MASK]"
    early, cut = runner.run([Row(text="the [MASK] sat"), Row(text=late)])
    assert early.error is None and len(early.scores) == 5
    assert (cut.error, cut.todo) == (
        "The mask is past the model's length.",
        "Put it earlier, or shorten the text.",
    )


def test_a_many_to_many_translator_gets_its_language_tokens(nllb_model: Path) -> None:
    runner = TaskRunner.load(nllb_model, "translation")
    tokens = runner.tokenizer.convert_tokens_to_ids(["eng_Latn", "fra_Latn", "deu_Latn"])
    english, french, german = tokens
    calls: list[tuple[torch.Tensor, int, torch.Tensor]] = []
    generate = runner.model.generate

    def watched(**kwargs: Any) -> torch.Tensor:
        out: torch.Tensor = generate(**kwargs)
        calls.append((kwargs["input_ids"], kwargs["forced_bos_token_id"], out))
        return out

    runner.model.generate = watched
    rows = [
        Row(text="good morning", target="fr", max_new_tokens=4),
        Row(text="bonjour", source="fra_latn", target="deu", max_new_tokens=4),
        Row(text="hello", target="fr", max_new_tokens=4),
        Row(text="hello", target="ro", max_new_tokens=4),
    ]
    answers = runner.run(rows)
    assert answers[3].error == (
        "tiny-nllb does not know ro; it knows: eng_Latn, fra_Latn, deu_Latn."
    )
    assert all(a.error is None and isinstance(a.text, str) for a in answers[:3])
    # One generate per language pair: the source token starts each input, the target token
    # starts each answer (after the decoder's start token).
    (into_french, into_german) = calls
    assert into_french[1] == french and into_german[1] == german
    assert into_french[0][:, 0].tolist() == [english, english]
    assert into_german[0][:, 0].tolist() == [french]
    assert into_french[2][:, 1].tolist() == [french, french]
    assert into_german[2][:, 1].tolist() == [german]


def test_the_cut_note_matches_the_tokenizer_at_every_length(task_models: dict[str, Path]) -> None:
    """Short ASCII texts skip the second tokenization; the note must not change for it."""
    runner = TaskRunner.load(task_models["text-classification"], "text-classification")
    for word in ("a", "cat", "ﷺ", "été"):
        for n in range(1, runner.max_tokens + 4):
            text = " ".join([word] * n)
            (answer,) = runner.run([Row(text=text)])
            tokens = len(runner.tokenizer(text)["input_ids"])
            assert answer.truncated == (tokens > runner.max_tokens), (word, n, tokens)


def test_a_t5_prompt_follows_the_source_given_without_a_target(
    task_models: dict[str, Path],
) -> None:
    runner = TaskRunner.load(task_models["text2text-generation"], "translation")
    runner.model.config.task_specific_params = {
        "translation_en_to_de": {"prefix": "translate English to German: "},
        "translation_de_to_en": {"prefix": "translate German to English: "},
    }
    assert runner._prompt(Row(text="Hallo", source="de")) == "translate German to English: Hallo"
    assert runner._prompt(Row(text="Hi")) == "translate English to German: Hi"
    assert runner._prompt(Row(text="Hi", target="de")) == "translate English to German: Hi"
