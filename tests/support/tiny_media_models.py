"""Tiny random models for /run's audio and image tasks, built locally (no download).

Each folder is what `save_pretrained` writes (safetensors weights, config, the feature
extractor or image processor, a tokenizer where the task writes text), so the production
loading code runs on it unchanged: a Wav2Vec2 CTC model with a character vocabulary, a
Wav2Vec2 audio classifier, a ViT image classifier (two, for compare), a YOLOS detector (no
timm backbone) and a ViT + GPT-2 vision-encoder-decoder captioner. Also a PNG that claims
more pixels than it holds; the other test media are in tests/support/media_files.py.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    VisionEncoderDecoderModel,
    ViTConfig,
    ViTForImageClassification,
    ViTImageProcessor,
    ViTModel,
    Wav2Vec2Config,
    Wav2Vec2CTCTokenizer,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
    Wav2Vec2ForSequenceClassification,
    YolosConfig,
    YolosForObjectDetection,
    YolosImageProcessor,
)

from tests.support.tiny_task_models import bert_tokenizer

SEED = 2468
CHARACTERS = list("abcdefghijklmnopqrstuvwxyz'")
SOUNDS = ["yes", "no", "music", "silence"]
ANIMALS = ["cat", "dog", "bird"]
OBJECTS = ["person", "car", "tree"]


def _labelled(labels: list[str]) -> dict[str, Any]:
    return {
        "id2label": dict(enumerate(labels)),
        "label2id": {label: i for i, label in enumerate(labels)},
    }


def _wav2vec2(**extra: Any) -> Wav2Vec2Config:
    return Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        # 320 samples per frame, as Wav2Vec2-base: 50 frames (letters at most) a second.
        conv_dim=(8, 8, 8),
        conv_stride=(5, 8, 8),
        conv_kernel=(10, 8, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        do_stable_layer_norm=True,
        feat_extract_norm="layer",
        initializer_range=0.5,
        **extra,
    )


def _vit(**extra: Any) -> ViTConfig:
    return ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        initializer_range=0.5,
        **extra,
    )


def _save(folder: Path, model: Any, *extras: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)
    for extra in extras:
        extra.save_pretrained(folder)
    return folder


def _seeded(seed: int, make: Any) -> Any:
    # fork_rng: building a fixture must not move the global RNG other tests rely on.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def _ctc_tokenizer(folder: Path) -> Wav2Vec2CTCTokenizer:
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4}
    for char in CHARACTERS:
        vocab[char] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vocab.json"
    path.write_text(json.dumps(vocab))
    return Wav2Vec2CTCTokenizer(str(path), word_delimiter_token="|")


def build_media_models(root: str | Path) -> dict[str, Path]:
    """Write one folder per task under `root` (README's `b('models')` passes a string);
    {task: folder}."""
    root = Path(root)
    features = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16_000, padding_value=0.0, return_attention_mask=True
    )
    asr_folder = root / "tiny-asr"
    tokenizer = _ctc_tokenizer(asr_folder)
    asr = _seeded(
        SEED,
        lambda: Wav2Vec2ForCTC(
            _wav2vec2(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
        ),
    )
    with torch.no_grad():
        # A random CTC head mostly predicts the blank; tilt it to letters so the transcript
        # of a tone is a non-empty string of the vocabulary's characters.
        asr.lm_head.bias[5:] += 1.0
    sound = _seeded(
        SEED + 1,
        lambda: Wav2Vec2ForSequenceClassification(
            _wav2vec2(classifier_proj_size=8, **_labelled(SOUNDS))
        ),
    )
    pixels = ViTImageProcessor(size={"height": 32, "width": 32})
    vit = _seeded(SEED + 2, lambda: ViTForImageClassification(_vit(**_labelled(ANIMALS))))
    vit2 = _seeded(SEED + 3, lambda: ViTForImageClassification(_vit(**_labelled(ANIMALS))))
    detector = _seeded(SEED + 4, _detector)
    boxes = YolosImageProcessor(size={"shortest_edge": 64, "longest_edge": 64})
    words = bert_tokenizer()
    captioner = _seeded(SEED + 5, lambda: _captioner(words))
    return {
        "automatic-speech-recognition": _save(asr_folder, asr, features, tokenizer),
        "audio-classification": _save(root / "tiny-sound", sound, features),
        "image-classification": _save(root / "tiny-vit", vit, pixels),
        "image-classification-2": _save(root / "tiny-vit-2", vit2, pixels),
        "object-detection": _save(root / "tiny-yolos", detector, boxes),
        "image-to-text": _save(root / "tiny-captioner", captioner, pixels, words),
    }


def _detector() -> YolosForObjectDetection:
    config = YolosConfig(
        image_size=[64, 64],
        patch_size=16,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_detection_tokens=4,
        **_labelled(OBJECTS),
    )
    model = YolosForObjectDetection(config)
    with torch.no_grad():
        # Untrained, YOLOS's four detection tokens start equal (zeros) and its box head
        # answers about 0 for each: four boxes on one spot, the whole image's middle.
        # Random tokens and a box head of some weight put each box somewhere else.
        model.vit.embeddings.detection_tokens.normal_(std=1.0)
        for layer in model.bbox_predictor.layers:
            layer.weight.normal_(std=1.0)
        # Random logits fall below the 50% threshold; make "car" sure of itself so boxes
        # are found and drawn (their places stay random).
        head = model.class_labels_classifier.layers[-1]
        head.bias.zero_()
        head.bias[OBJECTS.index("car")] = 6.0
    return model


def _captioner(words: Any) -> VisionEncoderDecoderModel:
    encoder = ViTModel(_vit())
    decoder = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=len(words),
            n_positions=64,
            n_embd=16,
            n_layer=1,
            n_head=2,
            add_cross_attention=True,
            is_decoder=True,
            bos_token_id=words.cls_token_id,
            eos_token_id=words.sep_token_id,
            pad_token_id=words.pad_token_id,
        )
    )
    model = VisionEncoderDecoderModel(encoder=encoder, decoder=decoder)
    model.config.decoder_start_token_id = words.cls_token_id
    model.config.pad_token_id = words.pad_token_id
    model.config.eos_token_id = words.sep_token_id
    model.generation_config.decoder_start_token_id = words.cls_token_id
    model.generation_config.pad_token_id = words.pad_token_id
    model.generation_config.eos_token_id = words.sep_token_id
    return model


# -- test media ------------------------------------------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width×height pixels, with almost no pixel data: what a
    decompression bomb looks like before anything is decoded."""
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
