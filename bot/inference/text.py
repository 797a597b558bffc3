"""Text generation core: load a causal LM once, generate for several prompts in one batch.

Why not `model.generate`? It draws every sampled token of the whole batch from one global RNG,
so a student's seeded prompt would give a different text depending on which other prompts
happened to share its batch. Here each row has its own `torch.Generator`, its own settings
(temperature, top-k, top-p, repetition penalty, max_new_tokens) and its own stop condition,
so the same prompt + settings + seed gives the same text alone or batched (see
`generate_batch` for the one floating-point caveat).
"""

from __future__ import annotations

import dataclasses
import inspect
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

__all__ = [
    "MAX_NEW_TOKENS",
    "FinishReason",
    "GenerationResult",
    "GenerationSettings",
    "TextModel",
]

FinishReason = Literal["eos", "length", "cancelled"]

# Limits the chat commands show to students; the core enforces them (Discord does not).
MAX_NEW_TOKENS = 256
MAX_TEMPERATURE = 5.0
REPETITION_PENALTY_RANGE = (0.5, 3.0)
MAX_SEED = 2**63 - 1
# Seeds we pick ourselves stay short, so a student can type them back in.
_RANDOM_SEED_BOUND = 2**31


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """How to pick the next token. `temperature == 0` or `greedy=True` means greedy decoding."""

    max_new_tokens: int = 50
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 50  # 0 = no top-k filter (transformers' default is also 50)
    repetition_penalty: float = 1.0  # 1.0 = off; > 1 discourages tokens already seen
    seed: int | None = None  # None: a random seed is picked and reported in the result
    greedy: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            raise ValueError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}")
        if not 0.0 <= self.temperature <= MAX_TEMPERATURE:
            raise ValueError(f"temperature must be between 0 and {MAX_TEMPERATURE}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError("top_p must be greater than 0 and at most 1")
        if self.top_k < 0:
            raise ValueError("top_k must be 0 (off) or a positive number")
        low, high = REPETITION_PENALTY_RANGE
        if not low <= self.repetition_penalty <= high:
            raise ValueError(f"repetition_penalty must be between {low} and {high}")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be between 0 and {MAX_SEED}")

    @property
    def do_sample(self) -> bool:
        return not self.greedy and self.temperature > 0.0


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """One prompt's outcome. `text` holds only the new text, never the prompt."""

    text: str
    token_ids: tuple[int, ...]  # new tokens, without the eos token
    tokens_generated: int
    finish_reason: FinishReason
    seconds: float  # from the start of the batch until this row finished
    settings: GenerationSettings  # as used: `seed` filled in when it was picked at random
    seed: int | None  # None for greedy decoding (no randomness to reproduce)
    prompt_tokens: int  # tokens of the prompt actually fed (after truncation)
    prompt_truncated: bool  # the prompt's start was cut to fit the context window


@dataclass(eq=False)
class _Row:
    """Mutable per-request state inside one generate_batch call."""

    index: int
    settings: GenerationSettings
    seed: int | None
    generator: torch.Generator | None
    prompt_ids: list[int]
    truncated: bool
    new_ids: list[int] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    finish: FinishReason | None = None
    seconds: float = 0.0


class TextModel:
    """A causal LM + tokenizer, ready for batched, reproducible generation.

    Not thread-safe: one generate call at a time (the worker owns the model).
    """

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, *, name: str
    ) -> None:
        # train(False) is eval(); transformers' eval override is untyped.
        self._model = model.train(False)
        self._tokenizer = tokenizer
        self.name = name
        forward_params = inspect.signature(model.forward).parameters
        # transformers 5 renamed `past_key_values` to `cache`; 4.x only knows the old name.
        self._cache_kwarg = "cache" if "cache" in forward_params else "past_key_values"
        # Only the last position's logits are needed: skips a (batch, prompt, vocab) tensor.
        self._logits_kwargs: dict[str, int] = (
            {"logits_to_keep": 1} if "logits_to_keep" in forward_params else {}
        )

    @classmethod
    def load(
        cls,
        name_or_path: str | Path,
        *,
        device: str = "cpu",
        revision: str | None = None,
        local_files_only: bool = False,
    ) -> TextModel:
        """Load from a local folder or a Hub repo id; safetensors only, never remote code."""
        torch_device = torch.device(device)
        # fp16 halves memory and is fast on CUDA; CPU fp16 matmuls are slow or unsupported.
        dtype = torch.float16 if torch_device.type == "cuda" else torch.float32
        source = str(name_or_path)
        model = AutoModelForCausalLM.from_pretrained(
            source,
            revision=revision,
            local_files_only=local_files_only,
            trust_remote_code=False,
            use_safetensors=True,
            dtype=dtype,
        )
        tokenizer = AutoTokenizer.from_pretrained(
            source, revision=revision, local_files_only=local_files_only, trust_remote_code=False
        )
        # Module.to called unbound: transformers wraps `to` in a decorator that hides its types.
        model = torch.nn.Module.to(model, torch_device)
        return cls(model, tokenizer, name=source)

    # -- facts for the lesson ("how big is this model?") ------------------------------------

    @property
    def device(self) -> torch.device:
        device: torch.device = next(self._model.parameters()).device
        return device

    @property
    def num_parameters(self) -> int:
        # parameters() yields tied weights (embeddings = lm_head) once, like the model card.
        return sum(p.numel() for p in self._model.parameters())

    @property
    def memory_bytes(self) -> int:
        tensors = [*self._model.parameters(), *self._model.buffers()]
        return sum(t.numel() * t.element_size() for t in tensors)

    @property
    def context_length(self) -> int | None:
        n = getattr(self._model.config, "max_position_embeddings", None)
        return n if isinstance(n, int) and n > 0 else None

    @property
    def eos_token_ids(self) -> frozenset[int]:
        # generation_config may list several stop tokens; read it per call so edits apply.
        eos: Any = self._model.generation_config.eos_token_id
        if eos is None:
            eos = self._tokenizer.eos_token_id
        if eos is None:
            return frozenset()
        return frozenset([eos] if isinstance(eos, int) else (int(e) for e in eos))

    # -- generation -------------------------------------------------------------------------

    def generate(
        self,
        prompt: str,
        settings: GenerationSettings | None = None,
        *,
        should_stop: Callable[[int], bool] | None = None,
        on_step: Callable[[int, int], None] | None = None,
    ) -> GenerationResult:
        requests = [(prompt, settings or GenerationSettings())]
        return self.generate_batch(requests, should_stop=should_stop, on_step=on_step)[0]

    def generate_batch(
        self,
        requests: Sequence[tuple[str, GenerationSettings]],
        *,
        should_stop: Callable[[int], bool] | None = None,
        on_step: Callable[[int, int], None] | None = None,
    ) -> list[GenerationResult]:
        """Generate for all requests in one left-padded batch; results keep the input order.

        `should_stop(i)` is asked before every step for each unfinished row `i` (its index in
        `requests`); True ends that row with finish_reason "cancelled" within one step. It is
        called rows x steps times, so it should only read a flag (no I/O).
        `on_step(step, total)` is called after each decoding step; `total` is the largest
        max_new_tokens in the batch (rows may finish earlier).

        Determinism: position ids come from the attention mask and each row samples with its
        own generator on CPU, so padding and neighbours do not change a row's choices. The
        caveat: a batched matmul may sum in a different order than a single-row one, so logits
        can differ in the last float bits; a sampled or greedy token flips only when two
        candidates are that close (not seen in the tests; more likely in fp16 on CUDA).
        """
        if not requests:
            return []
        start = time.perf_counter()
        rows = [self._make_row(i, prompt, s) for i, (prompt, s) in enumerate(requests)]
        longest = max(len(r.prompt_ids) for r in rows)
        steps = max(r.settings.max_new_tokens for r in rows)
        context = self.context_length
        if context is not None and len(rows) > 1 and longest + steps > context:
            # Padded length would run past the position table: each row alone still fits.
            for row in rows:
                self._decode([row], start, should_stop, on_step)
        else:
            self._decode(rows, start, should_stop, on_step)
        return [self._result(r) for r in rows]

    def _make_row(self, index: int, prompt: str, settings: GenerationSettings) -> _Row:
        ids: list[int] = list(self._tokenizer(prompt)["input_ids"])
        if not ids:
            # An empty prompt still needs one token to condition on: start-of-text, as HF does.
            start_id = self._tokenizer.bos_token_id
            if start_id is None:
                start_id = min(self.eos_token_ids, default=0)
            ids = [int(start_id)]
        truncated = False
        context = self.context_length
        if context is not None and settings.max_new_tokens >= context:
            # The window must hold at least one prompt token: generate fewer tokens instead.
            settings = dataclasses.replace(settings, max_new_tokens=context - 1)
        if context is not None and len(ids) + settings.max_new_tokens > context:
            ids = ids[len(ids) + settings.max_new_tokens - context :]
            truncated = True
        seed: int | None = None
        generator: torch.Generator | None = None
        if settings.do_sample:
            seed = (
                settings.seed
                if settings.seed is not None
                else secrets.randbelow(_RANDOM_SEED_BOUND)
            )
            # A CPU generator per row: same stream on every device and in every batch.
            generator = torch.Generator(device="cpu").manual_seed(seed)
            settings = dataclasses.replace(settings, seed=seed)
        return _Row(index, settings, seed, generator, ids, truncated, seen=set(ids))

    def _pad_id(self) -> int:
        pad = self._tokenizer.pad_token_id
        if pad is None:  # GPT-Neo/GPT-2 have no pad token; padded slots are masked anyway.
            pad = min(self.eos_token_ids, default=0)
        return int(pad)

    @torch.inference_mode()
    def _decode(
        self,
        rows: list[_Row],
        start: float,
        should_stop: Callable[[int], bool] | None,
        on_step: Callable[[int, int], None] | None,
    ) -> None:
        device = self.device
        eos = self.eos_token_ids
        width = max(len(r.prompt_ids) for r in rows)
        input_ids = torch.full((len(rows), width), self._pad_id(), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, row in enumerate(rows):
            n = len(row.prompt_ids)
            input_ids[j, width - n :] = torch.tensor(row.prompt_ids, dtype=torch.long)
            mask[j, width - n :] = 1
        input_ids, mask = input_ids.to(device), mask.to(device)
        # Left padding shifts tokens right; positions must count real tokens only, or a padded
        # row would see different position embeddings than the same prompt alone.
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        active = list(rows)
        cache: Any = None
        total = max(r.settings.max_new_tokens for r in rows)

        for step in range(total):
            if should_stop is not None:
                for row in active:
                    if should_stop(row.index):
                        self._finish(row, "cancelled", start)
            keep = [j for j, r in enumerate(active) if r.finish is None]
            if not keep:
                break
            if len(keep) < len(active):
                # Drop finished rows so short requests do not cost compute for long ones.
                index = torch.tensor(keep, device=device)
                if cache is not None:
                    cache.batch_select_indices(index)
                input_ids, mask, positions = input_ids[index], mask[index], positions[index]
                active = [active[j] for j in keep]

            kwargs: dict[str, Any] = {self._cache_kwarg: cache, **self._logits_kwargs}
            out = self._model(
                input_ids=input_ids,
                attention_mask=mask,
                position_ids=positions,
                use_cache=True,
                **kwargs,
            )
            cache = out[self._cache_kwarg]
            # Pick tokens on CPU in float32: the same code path whatever the device or dtype.
            logits = out.logits[:, -1, :].float().cpu()
            chosen = [self._choose(row, logits[j]) for j, row in enumerate(active)]
            for row, token in zip(active, chosen, strict=True):
                if token in eos:
                    self._finish(row, "eos", start)
                    continue
                row.new_ids.append(token)
                row.seen.add(token)
                if len(row.new_ids) >= row.settings.max_new_tokens:
                    self._finish(row, "length", start)
            if on_step is not None:
                on_step(step + 1, total)
            input_ids = torch.tensor(chosen, dtype=torch.long, device=device).unsqueeze(-1)
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
            positions = mask.sum(-1, keepdim=True) - 1

    @staticmethod
    def _finish(row: _Row, reason: FinishReason, start: float) -> None:
        row.finish = reason
        row.seconds = time.perf_counter() - start

    @staticmethod
    def _choose(row: _Row, logits: torch.Tensor) -> int:
        """Next token for one row from its 1-D float32 CPU logits (transformers' semantics)."""
        s = row.settings
        scores = logits
        if s.repetition_penalty != 1.0 and row.seen:
            # As RepetitionPenaltyLogitsProcessor, but over this row's real tokens only: the
            # batched processor would also penalise the pad id of left-padded rows.
            seen = torch.tensor(sorted(row.seen), dtype=torch.long)
            seen = seen[seen < scores.shape[0]]
            picked = scores[seen]
            scores = scores.clone()
            scores[seen] = torch.where(
                picked < 0, picked * s.repetition_penalty, picked / s.repetition_penalty
            )
        if row.generator is None:
            return int(scores.argmax())
        scores = scores / s.temperature
        vocab = scores.shape[0]
        if s.top_k >= vocab or s.top_k == 0:
            if s.top_p >= 1.0:
                probs = torch.softmax(scores, dim=-1)
                return int(torch.multinomial(probs, 1, generator=row.generator))
            values, ids = torch.sort(scores, descending=True, stable=True)
        else:
            values, ids = torch.topk(scores, s.top_k)  # sorted, largest first
        if s.top_p < 1.0:
            probs = torch.softmax(values, dim=-1)
            # Keep the smallest prefix whose mass reaches top_p (at least one token).
            mass_before = torch.cumsum(probs, dim=-1) - probs
            n_keep = max(1, int((mass_before < s.top_p).sum()))
            values, ids = values[:n_keep], ids[:n_keep]
        probs = torch.softmax(values, dim=-1)
        return int(ids[torch.multinomial(probs, 1, generator=row.generator)])

    def _result(self, row: _Row) -> GenerationResult:
        text = self._tokenizer.decode(
            row.new_ids, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        if not isinstance(text, str):  # decode() is typed str | list[str]: a flat list gives str
            raise TypeError(f"tokenizer.decode returned {type(text).__name__}")
        return GenerationResult(
            text=text,
            token_ids=tuple(row.new_ids),
            tokens_generated=len(row.new_ids),
            finish_reason=row.finish or "length",
            seconds=row.seconds,
            settings=row.settings,
            seed=row.seed,
            prompt_tokens=len(row.prompt_ids),
            prompt_truncated=row.truncated,
        )
