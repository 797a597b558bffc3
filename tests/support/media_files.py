"""Test media made here rather than stored in the repository (no torch): a sine tone as WAV
and a small picture."""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path

from PIL import Image, ImageDraw


# Where picture() puts its red square (Pillow's corners, both inclusive), for its size.
def red_square(width: int = 96, height: int = 64) -> tuple[int, int, int, int]:
    return (width // 3, height // 3, width // 2, height * 2 // 3)


def tone_wav(seconds: float, rate: int = 16_000, hz: float = 440.0, channels: int = 1) -> bytes:
    """A sine tone as 16-bit PCM WAV (the standard library's wave module)."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        value = int(12_000 * math.sin(2 * math.pi * hz * n / rate))
        frames += struct.pack("<h", value) * channels
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(frames))
    return out.getvalue()


def picture(width: int = 96, height: int = 64, format: str = "PNG") -> bytes:
    """A small drawing: sky, grass and a red square."""
    image = Image.new("RGB", (width, height), "skyblue")
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, height * 2 // 3, width, height), fill="green")
    pen.rectangle(red_square(width, height), fill="red")
    out = io.BytesIO()
    image.save(out, format=format)
    return out.getvalue()


__all__ = ["picture", "red_square", "tone_wav"]


def write_samples(folder: Path) -> dict[str, Path]:
    """A clip at the rate the bot sends, a stereo 44.1 kHz clip, a PNG and a JPEG, written
    into `folder` (made here); their paths by file name."""
    made = {
        "clip.wav": tone_wav(1.5),
        "stereo.wav": tone_wav(1.0, rate=44_100, channels=2),
        "photo.png": picture(),
        "photo.jpg": picture(format="JPEG"),
    }
    folder.mkdir()
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in made}
