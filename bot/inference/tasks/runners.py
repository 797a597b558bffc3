"""The worker side of /run: load a model for a text task and run a batch of inputs through it.

Every task is the model's own forward pass (or `generate` for seq2seq), batched: the inputs
of one batch are padded together and run as one call. Inputs longer than the model takes are
cut to its length, and the output says so (`truncated`). Imported in worker processes only.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
)

from bot.inference.tasks import SEQ2SEQ_TASKS
from bot.inference.tasks.languages import (
    Languages,
    check,
    code_of,
    direction,
    from_task_params,
    language_tokens,
)

_AUTO: dict[str, Any] = {
    "text-classification": AutoModelForSequenceClassification,
    "zero-shot-classification": AutoModelForSequenceClassification,
    "token-classification": AutoModelForTokenClassification,
    "fill-mask": AutoModelForMaskedLM,
    "question-answering": AutoModelForQuestionAnswering,
    "sentence-similarity": AutoModel,
    **dict.fromkeys(SEQ2SEQ_TASKS, AutoModelForSeq2SeqLM),
}
# Inputs longer than this are cut even when the model claims a longer (or no) limit.
_MAX_TOKENS = 512
_TOP_FILLS = 5
_MAX_ANSWER_TOKENS = 30
# No tokenizer makes more than two tokens of one ASCII character (SentencePiece at worst: a
# bare "▁" before a one-letter word), plus a few special tokens. (Other text can grow when
# normalized: NFKC makes 18 characters of "ﷺ".)
_TOKENS_PER_CHAR, _SPECIAL_TOKENS = 2, 8


class TaskInputError(ValueError):
    """The input does not fit this model (mask token, language pair); for the student."""

    def __init__(self, what: str, todo: str) -> None:
        super().__init__(what)
        self.what, self.todo = what, todo


@dataclass(frozen=True)
class Row:
    """One job's input, as the runner needs it (bot.jobs.kinds.run.TaskInput)."""

    text: str
    context: str = ""
    labels: tuple[str, ...] = ()
    sentences: tuple[str, ...] = ()
    source: str = ""
    target: str = ""
    max_new_tokens: int = 60
    data: bytes = b""  # the audio and image tasks: the attached file


@dataclass
class Answer:
    scores: list[tuple[str, float]] = field(default_factory=list)
    spans: list[tuple[int, int, str, float]] = field(default_factory=list)
    text: str = ""
    # object-detection: (label, score, x0, y0, x1, y1) in the image's pixels
    boxes: list[tuple[str, float, float, float, float, float]] = field(default_factory=list)
    truncated: bool = False
    error: str | None = None  # the row does not fit the model: what is wrong,
    todo: str = ""  # and what the student can do about it
    seconds: float = 0.0


class LoadedModel:
    """What the worker's LRU and the job's answer need of any loaded /run model: `model`
    (a torch module) and `name` (its repo id or folder)."""

    model: Any
    name: str

    @property
    def short_name(self) -> str:
        """The repo's or folder's last part: messages never show a server's folders."""
        return self.name.rstrip("/").rsplit("/", 1)[-1]

    @functools.cached_property
    def num_parameters(self) -> int:
        # Every answer shows it; a loaded model's weights never change shape.
        return sum(p.numel() for p in self.model.parameters())

    @property
    def memory_bytes(self) -> int:
        tensors = [*self.model.parameters(), *self.model.buffers()]
        return sum(t.numel() * t.element_size() for t in tensors)

    @property
    def device(self) -> torch.device:
        device: torch.device = next(self.model.parameters()).device
        return device


class TaskRunner(LoadedModel):
    """A loaded model + tokenizer for one text task. One call at a time (the worker owns it)."""

    def __init__(self, task: str, model: Any, tokenizer: Any, name: str) -> None:
        self.task, self.model, self.tokenizer, self.name = task, model.train(False), tokenizer, name

    @classmethod
    def load(cls, path: str | Path, task: str, *, device: str = "cpu") -> TaskRunner:
        """Safetensors only, never remote code."""
        torch_device = torch.device(device)
        dtype = torch.float16 if torch_device.type == "cuda" else torch.float32
        model = _AUTO[task].from_pretrained(
            str(path), trust_remote_code=False, use_safetensors=True, dtype=dtype
        )
        tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
        model = torch.nn.Module.to(model, torch_device)
        return cls(task, model, tokenizer, str(path))

    @property
    def max_tokens(self) -> int:
        limits = [_MAX_TOKENS, int(getattr(self.tokenizer, "model_max_length", _MAX_TOKENS))]
        n = getattr(self.model.config, "max_position_embeddings", None)
        if isinstance(n, int) and n > 0:
            # RoBERTa-style position tables keep two slots for the padding offset.
            limits.append(n - 2 if getattr(self.model.config, "pad_token_id", None) == 1 else n)
        return max(8, min(limits))

    # -- running -----------------------------------------------------------------------------

    @torch.inference_mode()
    def run(self, rows: Sequence[Row]) -> list[Answer]:
        """One answer per row, in order; a row that does not fit the model gets `error`."""
        start = time.perf_counter()
        handler = {
            "text-classification": self._classify,
            "zero-shot-classification": self._zero_shot,
            "token-classification": self._entities,
            "fill-mask": self._fill_mask,
            "question-answering": self._answer,
            "sentence-similarity": self._similarity,
        }.get(self.task, self._seq2seq)
        answers = handler(list(rows))
        seconds = time.perf_counter() - start
        for answer in answers:
            answer.seconds = seconds
        return answers

    def _encode(self, first: list[str], second: list[str] | None = None, **extra: Any) -> Any:
        kwargs: dict[str, Any] = {
            "padding": True,
            # Pairs (QA's question + context, NLI's text + hypothesis) cut the longer part
            # first: "only_second" fails outright when the first part alone is too long.
            "truncation": "longest_first" if second is not None else True,
            "max_length": self.max_tokens,
            "return_tensors": "pt",
            **extra,
        }
        if second is None:
            encoded = self.tokenizer(first, **kwargs)
        else:
            encoded = self.tokenizer(first, second, **kwargs)
        return encoded

    def _was_cut(self, first: str, second: str | None = None) -> bool:
        text = first + (second or "")
        if text.isascii() and _TOKENS_PER_CHAR * len(text) + _SPECIAL_TOKENS <= self.max_tokens:
            return False  # too short to be cut: no second tokenization (80 µs a sentence)
        ids = (
            self.tokenizer(first)["input_ids"]
            if second is None
            else self.tokenizer(first, second)["input_ids"]
        )
        return len(ids) > self.max_tokens

    def _forward(self, encoded: Any) -> Any:
        inputs = {k: v.to(self.device) for k, v in encoded.items() if k != "offset_mapping"}
        return self.model(**inputs)

    def _labels(self) -> dict[int, str]:
        return {int(k): str(v) for k, v in (self.model.config.id2label or {}).items()}

    def _classify(self, rows: list[Row]) -> list[Answer]:
        encoded = self._encode([r.text for r in rows])
        logits = self._forward(encoded).logits.float().cpu()
        # A multi-label model (e.g. emotions, toxicity) scores each label on its own.
        multi = getattr(self.model.config, "problem_type", None) == "multi_label_classification"
        probs = logits.sigmoid() if multi else logits.softmax(-1)
        labels = self._labels()
        answers = []
        for row, p in zip(rows, probs, strict=True):
            ranked = sorted(
                ((labels.get(i, f"LABEL_{i}"), float(v)) for i, v in enumerate(p)),
                key=lambda x: -x[1],
            )
            answers.append(Answer(scores=ranked[:10], truncated=self._was_cut(row.text)))
        return answers

    def _zero_shot(self, rows: list[Row]) -> list[Answer]:
        label2id = {str(k).lower(): int(v) for k, v in self.model.config.label2id.items()}
        entail = next((v for k, v in label2id.items() if k.startswith("entail")), None)
        if entail is None:
            refused = Answer(
                error=f"{self.short_name} is not an NLI model (no entailment label).",
                todo="Pick one made for it: /search task:zero-shot-classification.",
            )
            return [refused] * len(rows)  # an answer for every job of the batch
        premises, hypotheses = [], []
        for row in rows:
            for label in row.labels:
                premises.append(row.text)
                hypotheses.append(f"This example is {label}.")
        encoded = self._encode(premises, hypotheses)
        logits = self._forward(encoded).logits.float().cpu()[:, entail]
        answers, at = [], 0
        for row in rows:
            mine = logits[at : at + len(row.labels)].softmax(-1)
            at += len(row.labels)
            ranked = sorted(zip(row.labels, map(float, mine), strict=True), key=lambda x: -x[1])
            answers.append(Answer(scores=ranked, truncated=self._was_cut(row.text)))
        return answers

    def _entities(self, rows: list[Row]) -> list[Answer]:
        encoded = self._encode([r.text for r in rows], return_offsets_mapping=True)
        probs = self._forward(encoded).logits.float().softmax(-1).cpu()
        labels = self._labels()
        answers = []
        for j, row in enumerate(rows):
            spans: list[tuple[int, int, str, float]] = []
            scores: list[float] = []
            current: list[Any] | None = None  # [start, end, type]
            for (lo, hi), p in zip(encoded["offset_mapping"][j].tolist(), probs[j], strict=True):
                if hi <= lo:  # special and padding tokens
                    continue
                best = int(p.argmax())
                tag = labels.get(best, "O")
                kind = tag.split("-", 1)[-1]
                follows = current is not None and (
                    lo <= current[1] + 1 and kind == current[2] and not tag.startswith("B-")
                )
                if tag == "O" or not follows:
                    if current is not None:
                        spans.append(
                            (current[0], current[1], current[2], sum(scores) / len(scores))
                        )
                        current, scores = None, []
                    if tag != "O":
                        current, scores = [lo, hi, kind], [float(p[best])]
                    continue
                assert current is not None
                current[1] = hi
                scores.append(float(p[best]))
            if current is not None:
                spans.append((current[0], current[1], current[2], sum(scores) / len(scores)))
            answers.append(Answer(spans=spans, truncated=self._was_cut(row.text)))
        return answers

    def _fill_mask(self, rows: list[Row]) -> list[Answer]:
        mask = self.tokenizer.mask_token
        answers: list[Answer] = [Answer() for _ in rows]
        live = []
        for row, answer in zip(rows, answers, strict=True):
            if mask is None or row.text.count(mask) != 1:
                answer.error = f"The text needs the mask token {mask} once."
                answer.todo = f"Put {mask} where the missing word goes."
            else:
                live.append((row, answer))
        if not live:
            return answers
        encoded = self._encode([r.text for r, _ in live])
        logits = self._forward(encoded).logits.float().cpu()
        mask_id = self.tokenizer.mask_token_id
        for j, (row, answer) in enumerate(live):
            where = (encoded["input_ids"][j] == mask_id).nonzero()
            if len(where) == 0:  # the mask fell in the part cut off
                answer.error = "The mask is past the model's length."
                answer.todo = "Put it earlier, or shorten the text."
                continue
            probs = logits[j, int(where[0])].softmax(-1)
            top = probs.topk(_TOP_FILLS)
            answer.scores = [
                (self.tokenizer.decode([int(i)]).strip(), float(v))
                for v, i in zip(top.values, top.indices, strict=True)
            ]
            answer.truncated = self._was_cut(row.text)
        return answers

    def _answer(self, rows: list[Row]) -> list[Answer]:
        encoded = self._encode(
            [r.text for r in rows], [r.context for r in rows], return_offsets_mapping=True
        )
        out = self._forward(encoded)
        starts, ends = out.start_logits.float().cpu(), out.end_logits.float().cpu()
        answers = []
        for j, row in enumerate(rows):
            in_context = torch.tensor([s == 1 for s in encoded.sequence_ids(j)])
            start_p = starts[j].masked_fill(~in_context, -1e9).softmax(-1)
            end_p = ends[j].masked_fill(~in_context, -1e9).softmax(-1)
            pairs = torch.triu(start_p[:, None] * end_p[None, :])
            pairs = torch.tril(pairs, _MAX_ANSWER_TOKENS - 1)
            best = int(pairs.argmax())
            s, e = divmod(best, pairs.shape[1])
            offsets = encoded["offset_mapping"][j].tolist()
            lo, hi = offsets[s][0], offsets[e][1]
            cut = self._was_cut(row.text, row.context)
            spans = [(lo, hi, "answer", float(pairs[s, e]))] if hi > lo else []
            answers.append(Answer(spans=spans, truncated=cut))
        return answers

    def _similarity(self, rows: list[Row]) -> list[Answer]:
        texts = [t for r in rows for t in (r.text, *r.sentences)]
        encoded = self._encode(texts)
        hidden = self._forward(encoded).last_hidden_state.float().cpu()
        mask = encoded["attention_mask"].unsqueeze(-1).float()
        # Mean pooling over real tokens, as sentence-transformers models are trained.
        vectors = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
        answers, at = [], 0
        for row in rows:
            first, others = vectors[at], vectors[at + 1 : at + 1 + len(row.sentences)]
            at += 1 + len(row.sentences)
            sims = [float(v) for v in others @ first]
            ranked = sorted(zip(row.sentences, sims, strict=True), key=lambda x: -x[1])
            cut = any(self._was_cut(t) for t in (row.text, *row.sentences))
            answers.append(Answer(scores=ranked, truncated=cut))
        return answers

    # -- seq2seq ----------------------------------------------------------------------------

    def _prompt(self, row: Row) -> str:
        params = getattr(self.model.config, "task_specific_params", None) or {}
        if self.task == "summarization":
            prefix = str((params.get("summarization") or {}).get("prefix") or "")
            return prefix + row.text
        if self.task == "translation":
            known = Languages(directions=from_task_params({"task_specific_params": params}))
            if not known:  # one language pair (e.g. Marian opus-mt): nothing to choose
                return row.text
            chosen = direction(known, row.source, row.target)
            if chosen is None:
                why = check(known, row.source, row.target)
                raise TaskInputError(f"{self.short_name} {why}.", "Use one of those.")
            source, target = chosen
            return str(params[f"translation_{source}_to_{target}"].get("prefix") or "") + row.text
        return row.text

    def _language_pair(self, row: Row) -> tuple[str, str] | None:
        """A many-to-many model's (source, target) tokens for the row (e.g. NLLB's
        eng_Latn, fra_Latn); None for a model with no language tokens."""
        known = Languages(tokens=language_tokens(self.tokenizer.all_special_tokens))
        if self.task != "translation" or not known.tokens:
            return None
        source, target = known.find(row.source or "en"), known.find(row.target)
        if source is None or target is None:
            missing = row.target if source is not None else (row.source or "en")
            what = f"does not know {missing}" if missing else "needs target:"
            raise TaskInputError(
                f"{self.short_name} {what}; it knows: {known.shown()}.",
                "Give source: and target: from those codes.",
            )
        return source, target

    def _seq2seq(self, rows: list[Row]) -> list[Answer]:
        answers: list[Answer] = [Answer() for _ in rows]
        # Rows with one language pair generate together: the target is one start token for
        # the whole call, and the source is the tokenizer's setting.
        groups: dict[tuple[str, str] | None, list[tuple[str, Row, Answer]]] = {}
        for row, answer in zip(rows, answers, strict=True):
            try:
                pair, prompt = self._language_pair(row), self._prompt(row)
                groups.setdefault(pair, []).append((prompt, row, answer))
            except TaskInputError as error:
                answer.error, answer.todo = error.what, error.todo
        for pair, live in groups.items():
            self._generate(live, pair)
        return answers

    def _generate(self, live: list[tuple[str, Row, Answer]], pair: tuple[str, str] | None) -> None:
        extra: dict[str, Any] = {}
        prompts = [p for p, _, _ in live]
        if pair is not None:
            source, target = pair
            if hasattr(self.tokenizer, "src_lang"):  # NLLB, M2M100, mBART: they place it
                self.tokenizer.src_lang = code_of(source)
            else:  # a plain tokenizer: the source token before the text, as those models read
                prompts = [f"{source} {p}" for p in prompts]
            extra["forced_bos_token_id"] = self.tokenizer.convert_tokens_to_ids(target)
        encoded = self._encode(prompts)
        inputs = {k: v.to(self.device) for k, v in encoded.items()}
        steps = max(r.max_new_tokens for _, r, _ in live)
        generated = self.model.generate(**inputs, max_new_tokens=steps, do_sample=False, **extra)
        for (prompt, row, answer), ids in zip(live, generated.cpu(), strict=True):
            ids = ids[1 : 1 + row.max_new_tokens]  # after the decoder's start token
            answer.text = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
            answer.truncated = self._was_cut(prompt)
