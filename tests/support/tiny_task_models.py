"""Tiny random models for every /run text task, built locally so tests never download weights.

BERT-shaped encoders with each task's head (sequence / token classification, masked LM,
question answering, an NLI classifier, a bare encoder for sentence embeddings) share one
WordPiece tokenizer made from a hand-written vocabulary; a tiny T5 with its own tokenizer
does the seq2seq tasks (summarization, translation, text2text). Each folder is what
`save_pretrained` writes, so the production loading code runs on it unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

SEED = 4321
# Short on purpose: the tests reach the length limit with a few dozen words.
MAX_TOKENS = 48

WORDS_TEXT = """the a an is are was of in on at to and or but not it this that with for from by
cat cats dog dogs sat sits sitting mat film movie loved hated great bad good terrible
paris france london ada alan lives live city capital where who what when why how
student students class model models hub hugging face text word words sentence question
answer summary translate english french german hello good morning thank you very much
i you he she we they my your his her our their love like eat run runs running bark barks
shopping sport cooking phone new need weather today sunny rain"""
WORDS = WORDS_TEXT.split()
LETTERS = list("abcdefghijklmnopqrstuvwxyz0123456789")
PUNCTUATION = list(".,!?;:'\"-()")

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
T5_SPECIALS = ["<pad>", "</s>", "<unk>"]

NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
NLI_LABELS = ["entailment", "neutral", "contradiction"]


def _vocab(specials: list[str]) -> dict[str, int]:
    tokens = [*specials, *WORDS, *LETTERS, *PUNCTUATION, *(f"##{c}" for c in LETTERS)]
    return {token: i for i, token in enumerate(dict.fromkeys(tokens))}


def bert_tokenizer(max_length: int = MAX_TOKENS) -> PreTrainedTokenizerFast:
    vocab = _vocab(BERT_SPECIALS)
    backend = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=max_length,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def t5_tokenizer() -> PreTrainedTokenizerFast:
    vocab = _vocab(T5_SPECIALS)
    backend = Tokenizer(models.WordPiece(vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    backend.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", vocab["</s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=MAX_TOKENS,
        unk_token="<unk>",
        pad_token="<pad>",
        eos_token="</s>",
    )


def _bert_config(**extra: Any) -> BertConfig:
    return BertConfig(
        vocab_size=len(_vocab(BERT_SPECIALS)),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=0,
        # Wider than BERT's 0.02, so random heads answer with clear preferences (not 50/50).
        initializer_range=0.3,
        **extra,
    )


def _labelled(labels: list[str]) -> dict[str, Any]:
    return {
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
    }


def _build(folder: Path, make: Any, tokenizer: PreTrainedTokenizerFast) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    # fork_rng: building a fixture must not move the global RNG other tests rely on.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = make()
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def build_task_models(root: str | Path) -> dict[str, Path]:
    """Write one folder per task under `root` (README's `b('models')` passes a string);
    {task: folder}."""
    root = Path(root)
    bert = bert_tokenizer()
    t5 = t5_tokenizer()
    t5_vocab = len(_vocab(T5_SPECIALS))
    t5_config = T5Config(
        vocab_size=t5_vocab,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=2,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        task_specific_params={
            "summarization": {"prefix": "summarize: "},
            "translation_en_to_fr": {"prefix": "translate English to French: "},
            "translation_en_to_de": {"prefix": "translate English to German: "},
        },
    )
    built = {
        "text-classification": _build(
            root / "tiny-sentiment",
            lambda: BertForSequenceClassification(
                _bert_config(**_labelled(["NEGATIVE", "POSITIVE"]))
            ),
            bert,
        ),
        "token-classification": _build(
            root / "tiny-ner",
            lambda: BertForTokenClassification(_bert_config(**_labelled(NER_LABELS))),
            bert,
        ),
        "fill-mask": _build(root / "tiny-fill-mask", lambda: BertForMaskedLM(_bert_config()), bert),
        "question-answering": _build(
            root / "tiny-qa", lambda: BertForQuestionAnswering(_bert_config()), bert
        ),
        "zero-shot-classification": _build(
            root / "tiny-nli",
            lambda: BertForSequenceClassification(_bert_config(**_labelled(NLI_LABELS))),
            bert,
        ),
        "sentence-similarity": _build(
            root / "tiny-embedder", lambda: BertModel(_bert_config()), bert
        ),
        "text2text-generation": _build(
            root / "tiny-t5", lambda: T5ForConditionalGeneration(t5_config), t5
        ),
    }
    # A second sentiment model for compare: (another seed, so it answers differently).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED + 1)
        other = BertForSequenceClassification(_bert_config(**_labelled(["NEGATIVE", "POSITIVE"])))
    other_folder = root / "tiny-sentiment-2"
    other.save_pretrained(other_folder, safe_serialization=True)
    bert.save_pretrained(other_folder)
    built["text-classification-2"] = other_folder
    return built


def distilbert_base_shaped(folder: Path) -> Path:
    """A sentiment classifier of DistilBERT-base's shape (66M parameters, random weights,
    512 tokens) with the tiny tokenizer's vocabulary, for benches that time a real size."""
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    config = DistilBertConfig(
        vocab_size=30522, max_position_embeddings=512, **_labelled(["NEGATIVE", "POSITIVE"])
    )
    return _build(folder, lambda: DistilBertForSequenceClassification(config), bert_tokenizer(512))
