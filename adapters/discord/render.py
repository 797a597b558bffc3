"""Neutral replies → Discord messages: embeds within Discord's limits, and files.

Everything here is pure except `fit_uploads` (which re-encodes images in a thread). Text in
replies is plain text, so markdown is escaped; mentions are not pinged because every send
passes `AllowedMentions.none()` (see `NO_MENTIONS`).
"""

from __future__ import annotations

import asyncio
import io
import math
import re
from dataclasses import dataclass, field, replace

import discord
from discord.utils import escape_markdown

from bot.replies import (
    Button,
    Card,
    Error,
    File,
    Image,
    Modal,
    Progress,
    Reply,
    Table,
    Text,
    as_plain_text,
    format_table,
)
from bot.replies import Field as CardField

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
MAX_CONTENT = 2000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_EMBED_TOTAL = 6000  # all embeds of one message together
MAX_EMBEDS = 10
MAX_UPLOAD = 10 * 1024 * 1024
ELLIPSIS = "…"
BLANK = "\u200b"  # Discord rejects empty field names and values
COLOR = 0xFFD21E  # Hugging Face yellow
NO_MENTIONS = discord.AllowedMentions.none()
_NOTE_ROOM = 48  # for "… 1,234 more not shown", added to a footer when parts are left out


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    description: str = ""  # alt text


@dataclass(frozen=True)
class Parts:
    """One Discord message: what `Messageable.send`, webhooks and edits take."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    uploads: tuple[Upload, ...] = ()
    buttons: tuple[Button, ...] = ()
    private: bool = False

    def files(self) -> list[discord.File]:
        return [
            discord.File(io.BytesIO(u.data), filename=u.filename, description=u.description or None)
            for u in self.uploads
        ]


def units(text: str) -> int:
    """Length as Discord counts it, erring high: UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` units, ending with … when cut (never mid-escape or mid-pair)."""
    if units(text) <= limit:
        return text
    if limit <= 0:
        return ""
    out = text[: max(0, limit - 1)]
    while out and units(out) > limit - 1:
        out = out[:-1]
    # A trailing lone backslash would escape the ellipsis away.
    out = out.rstrip("\\")
    return out + ELLIPSIS


def plain(text: str) -> str:
    """Plain reply text made literal in Discord markdown (links are left alone)."""
    return escape_markdown(text)


def render(reply: Reply) -> Parts:
    """The message for one reply."""
    match reply:
        case Error():
            return Parts(content=_error_text(reply), buttons=reply.buttons, private=True)
        case Card():
            embeds = build_embeds(
                title=plain(reply.title),
                descriptions=[plain(reply.description)] if reply.description else [],
                fields=reply.fields,
                footer=plain(reply.footer or ""),
                url=reply.url,
                thumbnail_url=reply.thumbnail_url,
            )
            return Parts(embeds=embeds, buttons=reply.buttons, private=reply.private)
        case Table():
            return Parts(embeds=_table(reply), buttons=reply.buttons, private=reply.private)
        case File():
            description = clip(reply.alt, 1024) if isinstance(reply, Image) else ""
            upload = Upload(safe_filename(reply.filename), reply.data, description)
            content = clip(plain(reply.caption), MAX_CONTENT) if reply.caption else None
            return Parts(
                content=content, uploads=(upload,), buttons=reply.buttons, private=reply.private
            )
        case Progress():
            return Parts(
                content=clip(plain(reply.line), MAX_CONTENT),
                buttons=reply.buttons,
                private=reply.private,
            )
        case Modal():
            # Only reached where a form cannot open (see client.py): say how to answer inline.
            text = reply.fallback or f"Answer with {reply.submit_action} (a form could not open)."
            return render(Text(text=text, buttons=reply.buttons, private=True))
        case Text():
            return _text(reply.text, reply.buttons, reply.private)
        case _:
            return _text(as_plain_text(reply), reply.buttons, reply.private)


def _text(text: str, buttons: tuple[Button, ...], private: bool) -> Parts:
    text = plain(text)
    if units(text) <= MAX_CONTENT:
        return Parts(content=text or BLANK, buttons=buttons, private=private)
    # Longer text reads better as embed descriptions (4,096 each, 6,000 in all).
    chunks = _split_lines(text, MAX_DESCRIPTION)
    return Parts(
        embeds=build_embeds(title="", descriptions=chunks), buttons=buttons, private=private
    )


def _error_text(error: Error) -> str:
    lines = [f"⚠️ {plain(error.what)}"]
    if error.todo:
        lines.append(plain(error.todo))
    if error.usage:
        lines.append(f"Usage: `{error.usage.replace('`', 'ˋ')}`")
    if error.ref:
        lines.append(f"Reference: `{error.ref.replace('`', 'ˋ')}`")
    return clip("\n".join(lines), MAX_CONTENT)


def build_embeds(
    *,
    title: str,
    descriptions: list[str],
    fields: tuple[CardField, ...] = (),
    footer: str = "",
    url: str | None = None,
    thumbnail_url: str | None = None,
) -> list[discord.Embed]:
    """Embeds for one message within every limit: long descriptions and more than 25 fields
    spread over several embeds; what does not fit in 6,000 characters is cut with … and the
    footer says how many fields were left out."""
    title = clip(title, MAX_TITLE)
    footer = clip(footer, 1000)
    budget = MAX_EMBED_TOTAL - units(title) - units(footer) - _NOTE_ROOM
    first = discord.Embed(title=title or None, color=COLOR)
    if url and url.startswith(("http://", "https://")):
        first.url = url
    if thumbnail_url and thumbnail_url.startswith(("http://", "https://")):
        first.set_thumbnail(url=thumbnail_url)
    embeds = [first]
    for i, chunk in enumerate(descriptions):
        if budget <= 0:
            break
        text = clip(chunk, min(MAX_DESCRIPTION, budget))
        if i > 0:
            if len(embeds) == MAX_EMBEDS:
                break
            embeds.append(discord.Embed(color=COLOR))
        embeds[-1].description = text
        budget -= units(text)
    shown = 0
    for card_field in fields:
        name = clip(plain(card_field.name) or BLANK, MAX_FIELD_NAME)
        value = clip(plain(card_field.value) or BLANK, MAX_FIELD_VALUE)
        if units(name) + units(value) > budget:
            room = budget - units(name)
            if room < 40:  # too little left for a useful value
                break
            value = clip(value, room)
        if len(embeds[-1].fields) == MAX_FIELDS:
            if len(embeds) == MAX_EMBEDS:
                break
            embeds.append(discord.Embed(color=COLOR))
        embeds[-1].add_field(name=name, value=value, inline=card_field.inline)
        budget -= units(name) + units(value)
        shown += 1
    hidden = len(fields) - shown
    if hidden:
        footer = f"{footer} · " if footer else ""
        footer += f"{ELLIPSIS} {hidden:,} more not shown"
    if footer:
        embeds[-1].set_footer(text=footer)
    if not any(e.title or e.description or e.fields or e.footer.text for e in embeds):
        embeds[0].description = BLANK
    return embeds


def _table(table: Table) -> list[discord.Embed]:
    """Rows in code blocks (monospace keeps the columns), never cut inside a block."""
    title = clip(plain(table.title), MAX_TITLE)
    footer = plain(table.footer or "")
    lines = format_table(table.columns, table.rows).replace("```", "`\u200b``").splitlines()
    # Room for the "… N more rows" note, and the same again that build_embeds keeps back.
    budget = MAX_EMBED_TOTAL - units(title) - units(clip(footer, 1000)) - 2 * _NOTE_ROOM
    fence = len("```\n\n```")
    chunks: list[list[str]] = [[]]
    size = fence
    used = fence
    for line in lines:
        line = clip(line, MAX_DESCRIPTION - fence)
        cost = units(line) + 1
        if used + cost > budget:
            break
        if size + cost > MAX_DESCRIPTION:
            if len(chunks) == MAX_EMBEDS:
                break
            chunks.append([])
            size = fence
            used += fence
            if used + cost > budget:
                break
        chunks[-1].append(line)
        size += cost
        used += cost
    shown_lines = sum(len(c) for c in chunks)
    hidden = max(0, len(lines) - shown_lines)
    if hidden:
        footer = (f"{footer} · " if footer else "") + f"{ELLIPSIS} {hidden:,} more rows not shown"
    blocks = ["```\n" + "\n".join(c) + "\n```" for c in chunks if c]
    return build_embeds(title=title, descriptions=blocks, footer=footer)


def _split_lines(text: str, limit: int) -> list[str]:
    """Chunks of at most `limit` units, cut at line ends where possible."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while units(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            head = clip(line, limit)[:-1]
            chunks.append(head)
            line = line[len(head) :]
        if units(current) + units(line) > limit:
            chunks.append(current)
            current = ""
        current += line
    if current:
        chunks.append(current)
    return chunks


def safe_filename(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip("._") or "file"
    return cleaned[-100:]


# -- attachments ------------------------------------------------------------------------


async def fit_uploads(parts: Parts, limit: int = MAX_UPLOAD) -> Parts:
    """Make every attachment fit Discord's upload limit: images are re-encoded as JPEG (and
    downscaled if needed) in a thread; other files that are too big become a clear note."""
    if all(len(u.data) <= limit for u in parts.uploads):
        return parts
    kept: list[Upload] = []
    notes: list[str] = []
    for upload in parts.uploads:
        if len(upload.data) <= limit:
            kept.append(upload)
            continue
        shrunk = await asyncio.to_thread(shrink_image, upload.data, limit)
        if shrunk is not None:
            stem = upload.filename.rsplit(".", 1)[0]
            kept.append(replace(upload, filename=f"{stem}.jpg", data=shrunk))
            continue
        size = len(upload.data) / (1024 * 1024)
        notes.append(
            f"📎 {upload.filename} is {size:.1f} MiB, over Discord's {limit // (1024 * 1024)} MiB"
            " upload limit, so it is not attached. Ask for a smaller result (fewer rows or a"
            " smaller size)."
        )
    content = "\n".join(filter(None, [parts.content, *notes])) or None
    return replace(
        parts,
        uploads=tuple(kept),
        content=clip(content, MAX_CONTENT) if content else None,
    )


def shrink_image(data: bytes, limit: int) -> bytes | None:
    """A JPEG of the image under `limit` bytes, or None when `data` is not an image."""
    from PIL import Image as PILImage

    try:
        image: PILImage.Image = PILImage.open(io.BytesIO(data))
        image.load()
    except Exception:
        return None
    if image.mode not in ("RGB", "L"):
        # JPEG has no alpha: flatten onto white, as the image looks in a light chat.
        background = PILImage.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    scale = 1.0
    for _ in range(12):
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        candidate = image if scale == 1.0 else image.resize(size, PILImage.Resampling.LANCZOS)
        out = io.BytesIO()
        candidate.save(out, format="JPEG", quality=85, optimize=True)
        if out.tell() <= limit:
            return out.getvalue()
        # JPEG size grows roughly with the pixel count: aim a little under the limit.
        scale *= min(0.9, math.sqrt(limit / out.tell()) * 0.95)
    return None
