"""The checks the bot makes on an attached clip or image before a job is queued (no torch).

Cheap first, costly last: the size the platform states, then the header (an image's width and
height, a clip's duration from its container) before anything is decoded, then a decode that
proves the file is what it claims. What travels to the worker is bounded whatever was sent:
a clip becomes 16-bit mono WAV at `SAMPLE_RATE` (30 s ≈ 1 MB), an image larger than any
model's input is shrunk to `SHIPPED_SIDE`. The worker resamples to its model's own rate.

Audio is read with PyAV (FFmpeg's decoders: ogg/opus voice messages, mp3, m4a, webm, wav),
images with Pillow. Call `prepare` in a thread: decoding takes tens of milliseconds.
"""

from __future__ import annotations

import io
import warnings
import wave
from dataclasses import dataclass

import av
from PIL import Image, ImageOps, UnidentifiedImageError

from bot.attachments import megabytes, smaller
from bot.errors import UsageError
from bot.inference.tasks import Media
from bot.replies import Error

MAX_AUDIO_BYTES = 10_000_000
MAX_AUDIO_SECONDS = 30.0
# Shorter than this, a speech model's first convolutions have nothing to slide over
# (Wav2Vec2's need 400 samples, 25 ms): 0.1 s leaves room and is still a fraction of a word.
MIN_AUDIO_SECONDS = 0.1
MAX_IMAGE_BYTES = 10_000_000
MAX_IMAGE_SIDE = 4096
# The rate nearly every speech model on the Hub takes (Wav2Vec2, HuBERT, Whisper, AST).
SAMPLE_RATE = 16_000
# DETR-style detectors resize to at most 1333 pixels; classifiers and captioners far less.
SHIPPED_SIDE = 1333
# An image kept as sent when it needs no shrinking and is this small.
_KEEP_BYTES = 2_000_000
_WHAT = {
    "audio": "an audio clip (ogg, opus, mp3, m4a, webm, wav)",
    "image": "an image (png, jpeg, webp, gif)",
}

MAX_BYTES: dict[Media, int] = {"audio": MAX_AUDIO_BYTES, "image": MAX_IMAGE_BYTES}


@dataclass(frozen=True)
class Prepared:
    """The file as the worker gets it, and what the reply says about it."""

    kind: Media
    data: bytes
    seconds: float = 0.0  # audio
    width: int = 0  # image, as shipped
    height: int = 0


def _bad(what: str, todo: str) -> UsageError:
    return UsageError(Error(what=what, todo=todo))


def prepare(kind: Media, task: str, name: str, data: bytes) -> Prepared:
    """The checked, bounded file, or UsageError saying what was wrong with it."""
    if len(data) > MAX_BYTES[kind]:
        raise _bad(
            f"{name} is {megabytes(len(data))}; the limit is {megabytes(MAX_BYTES[kind])}.",
            smaller(kind, MAX_BYTES[kind]),
        )
    if not data:
        raise _bad(f"{name} is empty.", f"Attach {_WHAT[kind]}.")
    return _audio(task, name, data) if kind == "audio" else _image(task, name, data)


# -- images ---------------------------------------------------------------------------------


def _image(task: str, name: str, data: bytes) -> Prepared:
    try:
        # The header only: Pillow reads width and height without decoding a pixel.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(name, None) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        if _has_sound(data):
            raise _wrong_kind(task, name, "an audio clip", "image") from None
        raise _undecodable(name, "image") from None
    width, height = picture.size
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        raise _too_many_pixels(name, (width, height))
    try:
        picture.load()  # proves the pixels decode (a cut-off or damaged file fails here)
        # A phone stores its photo sideways with an EXIF tag saying how to turn it: turned
        # here, the size is the one people see and a shrunk copy is upright (it keeps no tag).
        rgb = ImageOps.exif_transpose(picture).convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise _undecodable(name, "image") from None
    if max(width, height) <= SHIPPED_SIDE and len(data) <= _KEEP_BYTES:
        # Sent as is, tag and all: the worker turns it too (boxes.open_image).
        return Prepared("image", data, width=rgb.width, height=rgb.height)
    rgb.thumbnail((SHIPPED_SIDE, SHIPPED_SIDE))
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=92)
    return Prepared("image", out.getvalue(), width=rgb.width, height=rgb.height)


def _too_many_pixels(name: str, size: tuple[int, int] | None) -> UsageError:
    found = f"{size[0]}×{size[1]} pixels" if size else "far too many pixels"
    return _bad(
        f"{name} is {found}; the limit is {MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE}.",
        "Attach a smaller image (a screenshot or a phone photo is fine).",
    )


def is_image(data: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Image.open(io.BytesIO(data))
    except Exception:  # any reason Pillow cannot read a header: not an image for us
        return False
    return True


# -- audio ----------------------------------------------------------------------------------


def _audio(task: str, name: str, data: bytes) -> Prepared:
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError):
        if is_image(data):
            raise _wrong_kind(task, name, "an image", "audio") from None
        raise _undecodable(name, "audio") from None
    with container:
        if not container.streams.audio:
            if is_image(data) or container.streams.video:
                raise _wrong_kind(task, name, "an image or a video without sound", "audio")
            raise _undecodable(name, "audio")
        stream = container.streams.audio[0]
        stated = _stated_seconds(container, stream)
        if stated is not None and stated > MAX_AUDIO_SECONDS + 0.5:
            raise _too_long(name, stated)
        pcm = _decode(container, stream, name)
    samples = len(pcm) // 2
    if samples == 0:
        raise _bad(f"{name} holds no sound.", "Attach a clip with some speech or sound.")
    seconds = samples / SAMPLE_RATE
    if seconds < MIN_AUDIO_SECONDS:
        raise _too_short(name, seconds)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    return Prepared("audio", out.getvalue(), seconds=round(seconds, 2))


def _stated_seconds(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    """The duration the container states before decoding (None when it states none)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


def _decode(container: av.container.InputContainer, stream: av.AudioStream, name: str) -> bytes:
    """16-bit mono PCM at SAMPLE_RATE; stops as soon as the clip runs past the limit (a
    container that stated no duration, or a wrong one)."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    limit = int((MAX_AUDIO_SECONDS + 0.5) * SAMPLE_RATE) * 2
    parts: list[bytes] = []
    total = 0
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                piece = bytes(out.planes[0])[: out.samples * 2]
                parts.append(piece)
                total += len(piece)
            if total > limit:
                raise _too_long(name, None)
        for out in resampler.resample(None):
            parts.append(bytes(out.planes[0])[: out.samples * 2])
    except (av.FFmpegError, ValueError, OSError):
        raise _undecodable(name, "audio") from None
    return b"".join(parts)


def _too_long(name: str, seconds: float | None) -> UsageError:
    found = f"{seconds:.0f} s long" if seconds is not None else "longer than that"
    return _bad(
        f"{name} is {found}; the limit is {MAX_AUDIO_SECONDS:.0f} s.",
        f"Attach a clip of at most {MAX_AUDIO_SECONDS:.0f} seconds.",
    )


def _too_short(name: str, seconds: float) -> UsageError:
    shown = f"{seconds:.4f}".rstrip("0")  # a single sample still shows as 0.0001
    return _bad(
        f"{name} is {shown} s long; a model needs at least {MIN_AUDIO_SECONDS} s.",
        f"Attach a clip of at least {MIN_AUDIO_SECONDS} s.",
    )


def _has_sound(data: bytes) -> bool:
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            return bool(container.streams.audio)
    except (av.FFmpegError, ValueError, OSError):
        return False


# -- the replies ----------------------------------------------------------------------------


def _wrong_kind(task: str, name: str, found: str, wanted: Media) -> UsageError:
    return _bad(f"{name} is {found}; {task} needs {_WHAT[wanted]}.", f"Attach {_WHAT[wanted]}.")


def _undecodable(name: str, kind: Media) -> UsageError:
    return _bad(
        f"{name} could not be read as {_WHAT[kind]}: it is damaged or in another format.",
        f"Attach {_WHAT[kind]}.",
    )
