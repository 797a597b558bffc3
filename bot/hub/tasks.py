"""The Hub's task names (pipeline tags), libraries and sort orders, as plain data.

huggingface_hub exposes no list of pipeline tags (only the tasks its inference providers
serve), so this is the Hub's own list (huggingface.js `packages/tasks/src/pipelines.ts`),
plus two tags older repos still carry. Dataset task categories use the same names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection

# tag -> a few words for students (the guess game's reveal, /search task hints).
PIPELINE_TAGS: dict[str, str] = {
    "text-classification": "labels a text (sentiment, topic, spam)",
    "token-classification": "labels each word (names, places, parts of speech)",
    "table-question-answering": "answers questions about a table",
    "question-answering": "finds the answer to a question in a text",
    "zero-shot-classification": "labels a text with labels it was never trained on",
    "translation": "translates text from one language to another",
    "summarization": "shortens a long text",
    "feature-extraction": "turns text into vectors of numbers (embeddings)",
    "text-generation": "continues a text, word after word",
    "text2text-generation": "rewrites a text into another text (older tag)",
    "fill-mask": "guesses a hidden word in a sentence",
    "sentence-similarity": "scores how close two sentences are in meaning",
    "text-ranking": "orders texts by how well they answer a query",
    "text-to-speech": "reads text aloud",
    "text-to-audio": "makes sound or music from text",
    "automatic-speech-recognition": "writes down what is said in audio (speech to text)",
    "audio-to-audio": "changes audio (remove noise, separate voices)",
    "audio-classification": "labels a sound (speaker, emotion, command)",
    "audio-text-to-text": "answers questions about audio",
    "voice-activity-detection": "finds where someone speaks in audio",
    "depth-estimation": "guesses how far each pixel of a photo is",
    "image-classification": "labels a picture",
    "object-detection": "finds and boxes objects in a picture",
    "image-segmentation": "outlines each object in a picture, pixel by pixel",
    "text-to-image": "draws a picture from a text prompt",
    "image-to-text": "describes a picture in words (captions)",
    "image-to-image": "changes a picture into another picture",
    "image-to-video": "animates a picture into a video",
    "unconditional-image-generation": "makes up pictures from nothing",
    "video-classification": "labels a video",
    "reinforcement-learning": "an agent that learns to act by trial and error",
    "robotics": "controls a robot",
    "tabular-classification": "labels a row of a table",
    "tabular-regression": "predicts a number from a row of a table",
    "tabular-to-text": "describes a table in words",
    "table-to-text": "describes a table in words",
    "multiple-choice": "picks the right answer among choices",
    "text-retrieval": "finds the documents that match a query",
    "time-series-forecasting": "predicts the next values of a series",
    "text-to-video": "makes a video from a text prompt",
    "image-text-to-text": "answers questions about a picture (vision-language chat)",
    "visual-question-answering": "answers a question about a picture",
    "document-question-answering": "answers a question about a scanned document",
    "zero-shot-image-classification": "labels a picture with any labels you give it",
    "graph-ml": "learns from graphs (molecules, networks)",
    "mask-generation": "outlines anything you point at in a picture",
    "zero-shot-object-detection": "finds objects you name in a picture",
    "text-to-3d": "makes a 3D object from text",
    "image-to-3d": "makes a 3D object from a picture",
    "image-feature-extraction": "turns a picture into a vector of numbers",
    "video-text-to-text": "answers questions about a video",
    "keypoint-detection": "finds key points (joints, corners) in a picture",
    "visual-document-retrieval": "finds the document pages that match a query",
    "any-to-any": "takes and gives any mix of text, images and sound",
    "conversational": "chats (older tag)",
    "other": "something else",
}

# What students call a task, in the lesson's words or everyday ones, where the Hub's name
# for it is spelled differently: a spelling match alone offered "sentence-similarity" for
# "sentiment" and "table-to-text" for "speech to text".
TASK_WORDS: dict[str, str] = {
    "sentiment": "text-classification",
    "sentiment-analysis": "text-classification",
    "sentiment-classification": "text-classification",
    "topic-classification": "text-classification",
    "ner": "token-classification",
    "named-entity-recognition": "token-classification",
    "entity-recognition": "token-classification",
    "pos-tagging": "token-classification",
    "qa": "question-answering",
    "extractive-question-answering": "question-answering",
    "summary": "summarization",
    "summarisation": "summarization",
    "translate": "translation",
    "mask-filling": "fill-mask",
    "masked-language-modeling": "fill-mask",
    "text-to-text": "text2text-generation",
    "chat": "text-generation",
    "chatbot": "text-generation",
    "language-model": "text-generation",
    "embeddings": "feature-extraction",
    "embedding": "feature-extraction",
    "sentence-embeddings": "sentence-similarity",
    "speech-recognition": "automatic-speech-recognition",
    "speech-to-text": "automatic-speech-recognition",
    "asr": "automatic-speech-recognition",
    "transcription": "automatic-speech-recognition",
    "tts": "text-to-speech",
    "captioning": "image-to-text",
    "image-captioning": "image-to-text",
    "ocr": "image-to-text",
    "detection": "object-detection",
    "segmentation": "image-segmentation",
    "image-generation": "text-to-image",
    "vqa": "visual-question-answering",
}

# Libraries filterable on the Hub's models page (the tag each repo carries).
LIBRARIES = (
    "transformers",
    "diffusers",
    "sentence-transformers",
    "timm",
    "peft",
    "gguf",
    "onnx",
    "safetensors",
    "transformers.js",
    "mlx",
    "keras",
    "tf-keras",
    "pytorch",
    "tensorflow",
    "jax",
    "spacy",
    "fastai",
    "sklearn",
    "stable-baselines3",
    "ml-agents",
    "speechbrain",
    "nemo",
    "espnet",
    "fairseq",
    "flair",
    "open_clip",
    "paddlenlp",
    "ultralytics",
    "yolov5",
    "adapter-transformers",
    "setfit",
    "span-marker",
    "asteroid",
    "allennlp",
)

# Our sort names -> the Hub API's (always most first).
SORTS = {
    "downloads": "downloads",
    "likes": "likes",
    "trending": "trendingScore",
    "recent": "createdAt",
}
SORT_WORDS = {
    "downloads": "most downloaded (30 days)",
    "likes": "most liked",
    "trending": "trending",
    "recent": "most recent",
}


def normalize_task(typed: str) -> str:
    """'Text Generation', 'text_generation' -> 'text-generation'."""
    return re.sub(r"[\s_]+", "-", typed.strip().lower())


def close_tasks(typed: str, n: int = 3) -> list[str]:
    """The tasks a student most likely meant: the one their words name (TASK_WORDS), those
    with every word they typed ("image" → image-classification…), then the closest
    spellings."""
    word = normalize_task(typed)
    named = [TASK_WORDS[word]] if word in TASK_WORDS else []
    words = set(word.split("-"))
    holding = [tag for tag in PIPELINE_TAGS if words <= set(tag.split("-"))]
    spelled = difflib.get_close_matches(word, list(PIPELINE_TAGS), n=n, cutoff=0.5)
    return list(dict.fromkeys([*named, *holding, *spelled]))[:n]


def closest_task(typed: str, among: Collection[str]) -> str | None:
    """The one of `among` (the tasks a command does) a student most likely meant, by the
    same guess as close_tasks ("sentiment" → text-classification); None when none is close."""
    return next((tag for tag in close_tasks(typed, len(PIPELINE_TAGS)) if tag in among), None)


def names_a_task(typed: str) -> bool:
    """Whether `typed` is a task's name, in the Hub's spelling or in a student's words
    ("Text Classification", "sentiment analysis")."""
    word = normalize_task(typed)
    return word in PIPELINE_TAGS or word in TASK_WORDS


def complete_tasks(prefix: str) -> list[str]:
    """Tags that start with, then contain, what was typed (autocomplete; at most 25)."""
    typed = normalize_task(prefix)
    first = [t for t in PIPELINE_TAGS if t.startswith(typed)]
    within = [t for t in PIPELINE_TAGS if typed in t and t not in first]
    return (first + within)[:25]


def complete_libraries(prefix: str) -> list[str]:
    typed = prefix.strip().lower()
    return [name for name in LIBRARIES if typed in name][:25]


def with_article(word: str) -> str:
    """ "an automatic-speech-recognition", "a text-generation", "an unknown", "a unity-sentis":
    the article English wants before a task or library name, by how it starts."""
    lowered = word.lower()
    vowel = lowered[:1] in "aeiou" and not lowered.startswith(("uni", "use", "usu", "eu", "one"))
    return f"{'an' if vowel else 'a'} {word}"
