"""TextModel on a tiny random GPT-Neo built locally (no download)."""

# The fixture is imported (no shared conftest yet), so its name is reused as a parameter.
# ruff: noqa: F811

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM

from bot.inference import text as text_module
from bot.inference.text import GenerationSettings, TextModel
from tests.support.model_fixtures import tiny_text_model  # noqa: F401  (pytest fixture)
from tests.support.tiny_models import build_text_model

PROMPTS = [
    "The cat sat on",
    "Once upon a time there was a little robot who lived in a classroom and",
    "Hi",
    "Tokens are pieces of words, and numbers like 42 are split",
]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    # A tiny model gains nothing from 2 threads, and on a busy shared CPU torch's spinning
    # worker threads made this module 6x slower (100 s vs 14 s at load 7 on 2 cores).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model(tiny_text_model: Path) -> TextModel:
    return TextModel.load(tiny_text_model)


def sampled(seed: int | None, **overrides: Any) -> GenerationSettings:
    values: dict[str, Any] = {
        "max_new_tokens": 24,
        "temperature": 0.9,
        "top_k": 40,
        "top_p": 0.95,
        "seed": seed,
    }
    values.update(overrides)
    return GenerationSettings(**values)


GREEDY = GenerationSettings(max_new_tokens=16, temperature=0.0)


# -- loading and size facts ------------------------------------------------------------------


def test_loads_through_real_loading_code(model: TextModel, tiny_text_model: Path) -> None:
    assert model.name == str(tiny_text_model)
    assert model.device == torch.device("cpu")
    assert model.context_length == 256
    assert 100_000 < model.num_parameters < 1_000_000
    # float32 parameters, plus GPT-Neo's causal-mask buffers.
    assert model.memory_bytes >= 4 * model.num_parameters
    assert model.memory_bytes < 4 * model.num_parameters + 2 * 256 * 256 + 10_000
    assert model.eos_token_ids == frozenset({0})


def test_load_asks_for_safetensors_and_no_remote_code(
    tiny_text_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    real = AutoModelForCausalLM.from_pretrained

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(text_module.AutoModelForCausalLM, "from_pretrained", spy)
    TextModel.load(tiny_text_model)
    assert seen["use_safetensors"] is True
    assert seen["trust_remote_code"] is False
    assert seen["dtype"] == torch.float32


def test_fixture_is_reproducible(tmp_path: Path, tiny_text_model: Path) -> None:
    again = build_text_model(tmp_path / "again")
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (again / name).read_bytes() == (tiny_text_model / name).read_bytes()


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"max_new_tokens": 0},
        {"max_new_tokens": 257},
        {"temperature": -0.1},
        {"top_p": 0.0},
        {"top_p": 1.5},
        {"top_k": -1},
        {"repetition_penalty": 0.0},
        {"seed": -1},
    ],
)
def test_settings_validation(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        GenerationSettings(**bad)


def test_do_sample() -> None:
    assert GenerationSettings().do_sample
    assert not GenerationSettings(temperature=0).do_sample
    assert not GenerationSettings(temperature=0.8, greedy=True).do_sample


# -- decoding --------------------------------------------------------------------------------


def test_greedy_is_deterministic_and_matches_transformers(model: TextModel) -> None:
    first = model.generate(PROMPTS[0], GREEDY)
    again = model.generate(PROMPTS[0], GREEDY)
    assert dataclasses.replace(again, seconds=first.seconds) == first
    assert first.seed is None and first.settings == GREEDY
    assert first.finish_reason == "length" and first.tokens_generated == 16

    for penalty in (1.0, 1.3):
        mine = model.generate(PROMPTS[1], GenerationSettings(16, 0.0, repetition_penalty=penalty))
        enc = model._tokenizer(PROMPTS[1], return_tensors="pt")
        ref = model._model.generate(
            **enc, max_new_tokens=16, do_sample=False, repetition_penalty=penalty, pad_token_id=0
        )
        assert list(mine.token_ids) == ref[0, enc["input_ids"].shape[1] :].tolist()
        assert mine.text == model._tokenizer.decode(list(mine.token_ids))


@pytest.mark.parametrize("seed", [0, 1, 7, 42, 2024])
def test_same_seed_same_text_alone_or_batched(model: TextModel, seed: int) -> None:
    requests = [
        (PROMPTS[0], sampled(seed)),
        (PROMPTS[1], sampled(seed + 1, temperature=1.4, top_k=0, repetition_penalty=1.2)),
        (PROMPTS[2], GenerationSettings(max_new_tokens=9, temperature=0.0)),
        (PROMPTS[3], sampled(seed + 2, max_new_tokens=31, temperature=0.6, top_p=0.7)),
    ]
    batched = model.generate_batch(requests)
    # Same request again, in a different batch position and with different neighbours.
    reordered = model.generate_batch([requests[2], requests[0]])
    for (prompt, settings), together in zip(requests, batched, strict=True):
        alone = model.generate(prompt, settings)
        assert alone.token_ids == together.token_ids
        assert alone.text == together.text
        assert alone.finish_reason == together.finish_reason
    assert reordered[1].token_ids == batched[0].token_ids
    assert reordered[0].token_ids == batched[2].token_ids


def test_different_seeds_differ(model: TextModel) -> None:
    texts = {model.generate(PROMPTS[1], sampled(seed)).text for seed in range(5)}
    assert len(texts) == 5


def test_random_seed_is_reported_and_reproduces(model: TextModel) -> None:
    first = model.generate(PROMPTS[0], sampled(None))
    assert isinstance(first.seed, int)
    assert first.settings.seed == first.seed
    again = model.generate(PROMPTS[0], first.settings)
    assert again.token_ids == first.token_ids


def test_top_k_one_and_tiny_top_p_are_greedy(model: TextModel) -> None:
    greedy = model.generate(PROMPTS[1], GREEDY)
    for settings in (sampled(3, top_k=1, max_new_tokens=16), sampled(3, top_p=1e-6, top_k=0)):
        picked = model.generate(PROMPTS[1], settings)
        assert picked.token_ids[:16] == greedy.token_ids


def test_max_new_tokens_respected_in_a_mixed_batch(model: TextModel) -> None:
    sizes = [1, 5, 17, 3]
    requests = [
        (p, sampled(i, max_new_tokens=n))
        for i, (p, n) in enumerate(zip(PROMPTS, sizes, strict=True))
    ]
    steps: list[tuple[int, int]] = []
    results = model.generate_batch(requests, on_step=lambda s, t: steps.append((s, t)))
    for n, result in zip(sizes, results, strict=True):
        assert result.tokens_generated == len(result.token_ids) <= n
        if result.finish_reason == "length":
            assert result.tokens_generated == n
        assert result.seconds > 0
    assert steps == [(s, 17) for s in range(1, len(steps) + 1)]
    assert len(steps) <= 17


def test_eos_stops_the_row(tiny_text_model: Path) -> None:
    model = TextModel.load(tiny_text_model)  # own instance: the test edits its config
    before = model.generate(PROMPTS[0], GREEDY)
    # Declare the first token that differs from the opening one a stop token (as a list:
    # generation_config may name several), so the row must stop after a few tokens.
    stop_token = next(t for t in before.token_ids if t != before.token_ids[0])
    first_hit = before.token_ids.index(stop_token)
    assert first_hit > 0
    model._model.generation_config.eos_token_id = [0, stop_token]
    after = model.generate_batch([(PROMPTS[0], GREEDY), (PROMPTS[1], sampled(5))])
    assert after[0].finish_reason == "eos"
    assert after[0].token_ids == before.token_ids[:first_hit]
    assert stop_token not in after[1].token_ids or after[1].finish_reason == "eos"


def test_should_stop_cancels_within_one_step(model: TextModel) -> None:
    requests = [(p, sampled(i, max_new_tokens=20)) for i, p in enumerate(PROMPTS)]
    steps: list[int] = []

    def stop(row: int) -> bool:
        # Row 1 is cancelled after 3 steps, the whole batch after 6.
        done = len(steps)
        return done >= 6 or (row == 1 and done >= 3)

    results = model.generate_batch(requests, should_stop=stop, on_step=lambda s, t: steps.append(s))
    assert steps == [1, 2, 3, 4, 5, 6]
    assert results[1].finish_reason == "cancelled" and results[1].tokens_generated == 3
    for result in (results[0], results[2], results[3]):
        assert result.finish_reason in ("cancelled", "eos")
        assert result.tokens_generated <= 6
    full = model.generate_batch(requests)
    assert results[0].token_ids == full[0].token_ids[: results[0].tokens_generated]


def test_cancelled_before_start(model: TextModel) -> None:
    result = model.generate(PROMPTS[0], GREEDY, should_stop=lambda _row: True)
    assert result.finish_reason == "cancelled"
    assert result.text == "" and result.tokens_generated == 0


def test_empty_prompt_and_long_prompt(model: TextModel) -> None:
    empty = model.generate("", GREEDY)
    assert empty.prompt_tokens == 1 and empty.tokens_generated > 0

    long_prompt = "the robot said hello to the students " * 60
    long_settings = GenerationSettings(max_new_tokens=20, temperature=0.0)
    alone = model.generate(long_prompt, long_settings)
    assert alone.prompt_truncated and alone.prompt_tokens == 256 - 20
    # Long prompt + a short prompt asking for many tokens cannot share one padded batch.
    many = sampled(9, max_new_tokens=200)
    both = model.generate_batch([(long_prompt, long_settings), (PROMPTS[2], many)])
    assert both[0].token_ids == alone.token_ids
    assert both[1].token_ids == model.generate(PROMPTS[2], many).token_ids


def test_asking_for_the_whole_context_keeps_one_prompt_token(model: TextModel) -> None:
    # The tiny model's window is 256 tokens; /generate allows max_new_tokens up to 256.
    result = model.generate("Hello there", GenerationSettings(max_new_tokens=256, temperature=0.0))
    assert result.prompt_tokens == 1 and result.prompt_truncated
    assert result.settings.max_new_tokens == 255
    assert 0 < result.tokens_generated <= 255


def test_tokenizer_with_pad_token_gives_the_same_texts(tmp_path: Path, model: TextModel) -> None:
    padded = TextModel.load(build_text_model(tmp_path / "pad", with_pad_token=True))
    requests = [(p, sampled(i)) for i, p in enumerate(PROMPTS)]
    assert [r.token_ids for r in padded.generate_batch(requests)] == [
        r.token_ids for r in model.generate_batch(requests)
    ]


def test_empty_batch(model: TextModel) -> None:
    assert model.generate_batch([]) == []
