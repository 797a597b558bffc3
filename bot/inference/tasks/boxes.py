"""Object detection's picture, for the worker and for hosted runs alike (no torch): the
image once per model, side by side, each model's boxes drawn with their labels and scores.
Pillow work: call it in a worker process or a thread, never on the bot's event loop.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from PIL import Image, ImageDraw, ImageFont, ImageOps

from bot.inference.tasks.media import MAX_IMAGE_SIDE

# Boxes below this score are not shown (the Hub widget's and the pipeline's default).
DETECTION_THRESHOLD = 0.5
MAX_BOXES = 20
_COLORS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6")


def open_image(data: bytes) -> Image.Image:
    """The image upright in RGB; the bot checked its size, and Pillow's own bomb guard
    stays on. A phone photo's EXIF tag turns it, so the model and the picture both see it
    the way its owner does."""
    image = Image.open(io.BytesIO(data))
    if max(image.size) > MAX_IMAGE_SIDE:
        raise ValueError("image larger than the bot allows")
    return ImageOps.exif_transpose(image).convert("RGB")


Box = tuple[str, float, float, float, float, float]  # label, score, x0, y0, x1, y1


def visible(boxes: Iterable[Box], width: float, height: float) -> list[Box]:
    """The boxes as the picture can show them, best first, at most MAX_BOXES: clipped to
    the image (a model or a provider may place corners past its edges), and without those
    left under a pixel wide or high, which no one could see in the picture."""
    kept = []
    for label, score, x0, y0, x1, y1 in boxes:
        x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(width, x1), min(height, y1)
        if x1 - x0 >= 1 and y1 - y0 >= 1:
            kept.append((label, score, x0, y0, x1, y1))
    kept.sort(key=lambda box: -box[1])
    return kept[:MAX_BOXES]


def draw_boxes(data: bytes, panels: Sequence[tuple[str, Sequence[Box]]]) -> bytes:
    """The image once per model, side by side, with that model's boxes and labels (PNG)."""
    image = open_image(data)
    font = ImageFont.load_default(size=max(12, image.width // 40))
    drawn = []
    for title, boxes in panels:
        panel = image.copy()
        pen = ImageDraw.Draw(panel)
        width = max(2, image.width // 200)
        for n, (label, score, x0, y0, x1, y1) in enumerate(boxes):
            color = _COLORS[n % len(_COLORS)]
            pen.rectangle((x0, y0, x1, y1), outline=color, width=width)
            text = f"{label} {score:.0%}"
            _, top, _, bottom = pen.textbbox((x0, y0), text, font=font)
            lift = bottom - top + 2 * width
            at = (x0, y0 - lift if y0 >= lift else y0)
            box = pen.textbbox(at, text, font=font)
            pen.rectangle(
                (box[0] - width, box[1] - width, box[2] + width, box[3] + width), fill=color
            )
            pen.text(at, text, fill="white", font=font)
        if len(panels) > 1:
            pen.text(
                (width, width), title, fill="white", font=font, stroke_width=2, stroke_fill="black"
            )
        drawn.append(panel)
    gap = 8 if len(drawn) > 1 else 0
    sheet = Image.new(
        "RGB", (sum(p.width for p in drawn) + gap * (len(drawn) - 1), image.height), "white"
    )
    x = 0
    for panel in drawn:
        sheet.paste(panel, (x, 0))
        x += panel.width + gap
    out = io.BytesIO()
    sheet.save(out, format="PNG")
    return out.getvalue()
