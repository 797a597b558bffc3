"""Tiny random models built locally, so tests never download weights.

`build_text_model` writes a GPT-Neo shaped causal LM (a few hundred thousand parameters) and a
byte-level BPE tokenizer trained on a short built-in English text. The folder looks like a real
Hub checkout of `EleutherAI/gpt-neo-125m` (config.json, model.safetensors, generation_config.json,
tokenizer.json, tokenizer_config.json), so the production loading code runs on it unchanged.

The image model builder lives in `tests/support/tiny_image_model.py` (another module) and is
re-exported here once it exists.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GPTNeoConfig, GPTNeoForCausalLM, PreTrainedTokenizerFast

__all__ = [
    "EOS_TOKEN",
    "TEXT_MODEL_SEED",
    "TRAINING_TEXT",
    "build_text_model",
    "gpt_neo_125m_shaped",
]

EOS_TOKEN = "<|endoftext|>"
TEXT_MODEL_SEED = 1234
TEXT_VOCAB_SIZE = 800
TEXT_CONTEXT = 256

# Plain, varied English so that the BPE merges look like real sub-words ("the", "ing", " model").
TRAINING_TEXT = """\
The Hugging Face Hub is a place where people share machine learning models, datasets and demos.
A language model reads a prompt and predicts the next word, then the next one, again and again.
When the model always picks the most likely word, the text often starts to repeat itself.
Sampling picks a word at random, weighted by how likely the model thinks each word is.
A higher temperature makes surprising words more likely; a lower temperature makes the text safer.
Top-k sampling keeps only the k most likely words. Top-p sampling keeps the smallest set of words
whose probabilities add up to p. A repetition penalty makes words that already appeared less likely.
Small models are fast but forget the topic quickly. Bigger models need more memory and more time,
but they usually write longer passages that stay on the same subject.
Once upon a time there was a little robot who lived in a classroom. Every morning the robot said
hello to the students, and every afternoon it helped them with their homework. The students asked
the robot many questions about the weather, about the stars, about cats and dogs and about the sea.
The robot did not always know the answer, but it always tried to explain what it was thinking.
The cat sat on the mat. The dog slept under the table. The bird sang in the tree by the window.
In the morning we write code, in the afternoon we train the model, and in the evening we read
the results together and talk about what went well and what went wrong.
Tokens are pieces of words. The word "understanding" may be split into "under", "stand" and "ing".
Numbers like 42, 2024 and 3.14 are split into tokens too, and so are emojis and punctuation!
Questions? Answers. Lists: apples, oranges, bananas; colours: red, green, blue.
"""


def _train_tokenizer(text: str, vocab_size: int) -> Tokenizer:
    """A GPT-2 style byte-level BPE: every byte is in the alphabet, so any prompt encodes."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        show_progress=False,
        # Special token first: it gets id 0, like a fixed, known eos for tests.
        special_tokens=[EOS_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    # Repeating the text gives the merges enough counts; training is deterministic.
    tokenizer.train_from_iterator([text] * 4, trainer=trainer)
    return tokenizer


def build_text_model(path: Path, *, with_pad_token: bool = False) -> Path:
    """Write a tiny random GPT-Neo causal LM + tokenizer to `path` and return `path`.

    Like the real `EleutherAI/gpt-neo-125m`, the tokenizer has bos = eos = unk = `<|endoftext|>`
    and *no* pad token (callers must cope); `with_pad_token=True` also sets pad to it.
    The same call always writes the same weights and tokenizer (fixed seed, deterministic BPE).
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)

    backend = _train_tokenizer(TRAINING_TEXT, TEXT_VOCAB_SIZE)
    eos_id = backend.token_to_id(EOS_TOKEN)
    special: dict[str, str] = {
        "bos_token": EOS_TOKEN,
        "eos_token": EOS_TOKEN,
        "unk_token": EOS_TOKEN,
    }
    if with_pad_token:
        special["pad_token"] = EOS_TOKEN
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, model_max_length=TEXT_CONTEXT, **special
    )

    config = GPTNeoConfig(
        vocab_size=backend.get_vocab_size(),
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        intermediate_size=256,
        attention_types=[[["global", "local"], 1]],
        window_size=16,
        max_position_embeddings=TEXT_CONTEXT,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
    )
    # fork_rng: building a fixture must not move the global RNG that other tests may rely on.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TEXT_MODEL_SEED)
        model = GPTNeoForCausalLM(config)
    model.eval()
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


def gpt_neo_125m_shaped(eos_token_id: int) -> GPTNeoForCausalLM:
    """`EleutherAI/gpt-neo-125m`'s shape (125M parameters) with random weights (seed 0), for
    benches that time a real size. Pair it with the tiny tokenizer: ids it does not know
    decode to nothing, which does not matter for timing."""
    config = GPTNeoConfig(
        vocab_size=50257,
        hidden_size=768,
        num_layers=12,
        num_heads=12,
        intermediate_size=3072,
        attention_types=[[["global", "local"], 6]],
        window_size=256,
        max_position_embeddings=2048,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return GPTNeoForCausalLM(config)
