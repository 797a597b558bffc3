"""A file a student attaches to a command (an audio clip or an image for /run): torch-free.

Each adapter builds one the way its platform hands files over: Discord sends an attachment
option, Slack a link to a file uploaded in the channel (files.info, then a download with the
bot token), the console a path on disk. The core sees only this type: a name, a size when the
platform says it before the download, a content type, and `read(limit)`, which refuses a file
over the limit without fetching all of it.

A typed reference (a Slack link, a console path, a Discord attachment's URL after a restart)
is resolved by the platform's `AttachmentSource`, which the adapter registers in
`Services.attachments`; `str()` of an attachment is that reference, so a durable command
saved in the inbox finds its file again when it is replayed.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from bot.errors import UsageError
from bot.replies import Error

# A reference typed after file: (a link, a file id, a path).
MAX_REFERENCE = 500
_CHUNK = 1 << 16


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def media_kind(content_type: str) -> str:
    """`image` or `audio` (a clip: sound or video) from a content type; "" when neither."""
    major = content_type.partition("/")[0].lower()
    return {"image": "image", "audio": "audio", "video": "audio"}.get(major, "")


def smaller(kind: str, limit: int) -> str:
    """What to attach instead of a file over `limit` bytes, for its kind (media_kind)."""
    if kind == "image":
        return f"Attach a smaller image: at most {megabytes(limit)}."
    if kind == "audio":
        return f"Attach a shorter clip: at most {megabytes(limit)}."
    return f"Attach a shorter clip or a smaller image: at most {megabytes(limit)}."


def too_large(name: str, size: int | None, limit: int, content_type: str = "") -> UsageError:
    found = f" is {megabytes(size)}" if size is not None else " is larger than that"
    return UsageError(
        Error(
            what=f"{name}{found}; the limit is {megabytes(limit)}.",
            todo=smaller(media_kind(content_type or guess_type(name)), limit),
        )
    )


def unreadable(what: str, todo: str = "Attach the file again.") -> UsageError:
    return UsageError(Error(what=what, todo=todo))


class Attachment:
    """One attached file. `size` is None when the platform does not say it up front."""

    def __init__(self, name: str, size: int | None, content_type: str = "") -> None:
        self.name = name or "file"
        self.size = size
        self.content_type = content_type or guess_type(self.name)

    async def read(self, limit: int) -> bytes:
        """The file's bytes, or UsageError when it is over `limit` (refused from its stated
        size before any download, and while downloading when the size was not stated)."""
        if self.size is not None and self.size > limit:
            raise too_large(self.name, self.size, limit, self.content_type)
        parts: list[bytes] = []
        total = 0
        async for chunk in self.chunks():
            total += len(chunk)
            if total > limit:
                raise too_large(self.name, None, limit, self.content_type)
            parts.append(chunk)
        return b"".join(parts)

    # Not abstract methods: the class itself is an option's declared type (bot/declare.py).
    def chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes in pieces, as they arrive."""
        raise NotImplementedError

    def __str__(self) -> str:
        """The reference the platform's source resolves again (see the module docstring)."""
        raise NotImplementedError


def guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or ""


class InMemory(Attachment):
    """Bytes already here (a test, a platform that sent the file with the event)."""

    def __init__(self, name: str, data: bytes, content_type: str = "", ref: str = "") -> None:
        super().__init__(name, len(data), content_type)
        self.data = data
        self.ref = ref or name

    async def chunks(self) -> AsyncIterator[bytes]:
        for at in range(0, len(self.data), _CHUNK):
            yield self.data[at : at + _CHUNK]

    def __str__(self) -> str:
        return self.ref


class LocalFile(Attachment):
    """A file on this machine's disk (the console: the person at the terminal runs the bot)."""

    def __init__(self, path: Path, size: int) -> None:
        super().__init__(path.name, size)
        self.path = path

    async def chunks(self) -> AsyncIterator[bytes]:
        # The stated size was checked; read one piece past it so a file that grew is caught.
        data = await asyncio.to_thread(self._read, (self.size or 0) + 1)
        yield data

    def _read(self, limit: int) -> bytes:
        with self.path.open("rb") as handle:
            return handle.read(limit)

    def __str__(self) -> str:
        return str(self.path)


# Resolves a typed reference into an attachment, or raises UsageError saying what to type.
AttachmentSource = Callable[[str], Awaitable[Attachment]]


async def local_file(reference: str) -> Attachment:
    """The console's source: `file:<path>`."""
    text = reference.strip().strip("<>").strip("\"'")
    todo = "Give the path of an audio clip or an image."
    try:
        path, size = await asyncio.to_thread(_regular_file, text)
    except (OSError, RuntimeError, ValueError):
        raise unreadable(f"There is no file at {text}.", todo) from None
    if path is None:
        raise unreadable(f"{text} is not a file.", todo)
    return LocalFile(path, size)


def _regular_file(text: str) -> tuple[Path | None, int]:
    resolved = Path(text).expanduser().resolve(strict=True)
    if not resolved.is_file():
        return None, 0
    return resolved, resolved.stat().st_size
