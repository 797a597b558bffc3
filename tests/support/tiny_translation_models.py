"""A tiny many-to-many translator shaped like facebook/nllb-200: an M2M100 model and a real
NllbTokenizer (a character-level BPE vocabulary, three language tokens), saved with
`save_pretrained` so the production loading code reads it unchanged.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

SEED = 2024
LANGUAGES = ["eng_Latn", "fra_Latn", "deu_Latn"]
CHARACTERS = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'")


def nllb_tokenizer() -> NllbTokenizer:
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    pieces = [*specials, "▁", *CHARACTERS, *(f"▁{c}" for c in CHARACTERS)]
    vocab = {piece: i for i, piece in enumerate(pieces)}
    merges = [("▁", c) for c in CHARACTERS]
    return NllbTokenizer(
        vocab=vocab,
        merges=merges,
        extra_special_tokens=LANGUAGES,
        src_lang="eng_Latn",
        model_max_length=64,
    )


def build_nllb(folder: Path) -> Path:
    tokenizer = nllb_tokenizer()
    config = M2M100Config(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    folder.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = M2M100ForConditionalGeneration(config)
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
