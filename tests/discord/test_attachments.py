"""Discord's attachment option (type 11) reaches a command as the core's Attachment: its
stated size is checked before any download, and the bytes come from the attachment's URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.discord.attachments import CdnFile, saved_attachment
from bot.attachments import Attachment
from bot.errors import UsageError
from bot.replies import Reply, Text
from bot.router import Command, Context, Option
from tests.discord.conftest import DiscordBot, discord_bot_for, interaction
from tests.discord.rest_stub import DiscordRestStub
from tests.support.botdriver import FakeClock
from tests.support.file_form import ASK

LIMIT = 1_000_000


async def peek(ctx: Context, file: Attachment) -> Reply:
    """Read an attached file."""
    data = await file.read(LIMIT)
    return Text(text=f"{file.name} {file.size} {file.content_type} {len(data)} {data[:4]!r}")


PEEK = Command(
    name="peek",
    handler=peek,
    options=(Option("file", Attachment, "A file", required=True, max_length=500),),
)


def with_file(bot: DiscordBot, name: str, size: int, url: str) -> dict[str, Any]:
    data = {
        "id": "1700000000000000001",
        "name": "peek",
        "type": 1,
        "options": [{"name": "file", "type": 11, "value": "900"}],
        "resolved": {
            "attachments": {
                "900": {
                    "id": "900",
                    "filename": name,
                    "size": size,
                    "url": url,
                    "proxy_url": url,
                    "content_type": "audio/wav",
                }
            }
        },
    }
    return interaction(2, data, created=bot.clock())


async def test_an_attachment_option_reaches_the_handler_and_downloads(
    tmp_path: Path, clock: FakeClock, stub: DiscordRestStub
) -> None:
    stub.files["/files/clip.wav"] = b"RIFF" + bytes(96)
    async with discord_bot_for(tmp_path, clock, stub, commands=[PEEK]) as bot:
        await bot.interact(with_file(bot, "clip.wav", 100, f"{stub.url}/files/clip.wav"))
        (edit,) = stub.find("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")
        assert edit.json["content"] == "clip.wav 100 audio/wav 100 b'RIFF'"
        assert stub.find("GET", "/files/clip.wav")
        # Too large by its stated size: refused, and never downloaded.
        stub.clear()
        await bot.interact(with_file(bot, "big.wav", 20_000_000, f"{stub.url}/files/big.wav"))
        (edit,) = stub.find("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")
        assert "big.wav is 20.0 MB; the limit is 1.0 MB" in str(edit.json)
        assert not stub.find("GET", "/files/big.wav")


async def test_a_form_takes_a_file_and_its_submit_reaches_the_handler(
    tmp_path: Path, clock: FakeClock, stub: DiscordRestStub
) -> None:
    """A form's file field is a file upload (in a label); the file uploaded in it reaches
    the form's command as its file option, size-checked before the download."""
    stub.files["/files/clip.wav"] = b"RIFF" + bytes(46)
    async with discord_bot_for(tmp_path, clock, stub, commands=[PEEK, ASK]) as bot:
        await bot.interact(bot.slash("ask"))
        (opened,) = [r for r in stub.requests if r.method != "GET"]
        assert opened.json["type"] == 9  # MODAL
        (label,) = opened.json["data"]["components"]
        assert label["type"] == 18 and label["label"] == "Your clip"
        upload = label["component"]
        assert (upload["type"], upload["custom_id"], upload["max_values"]) == (19, "file", 1)

        def submitted(name: str, size: int) -> dict[str, Any]:
            data = {
                "custom_id": "/peek",
                "components": [
                    {"type": 18, "component": {"type": 19, "custom_id": "file", "values": ["901"]}}
                ],
                "resolved": {
                    "attachments": {
                        "901": {
                            "id": "901",
                            "filename": name,
                            "size": size,
                            "url": f"{stub.url}/files/{name}",
                            "content_type": "audio/wav",
                        }
                    }
                },
            }
            return interaction(5, data, created=bot.clock())

        stub.clear()
        await bot.interact(submitted("clip.wav", 50))
        (edit,) = stub.find("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")
        assert edit.json["content"] == "clip.wav 50 audio/wav 50 b'RIFF'"
        stub.clear()
        await bot.interact(submitted("big.wav", 20_000_000))
        (edit,) = stub.find("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")
        assert "big.wav is 20.0 MB; the limit is 1.0 MB" in str(edit.json)
        assert not stub.find("GET", "/files/big.wav")


async def test_a_replayed_command_finds_its_file_on_discords_cdn_only() -> None:
    url = "https://cdn.discordapp.com/attachments/1/2/clip.ogg?ex=1&is=2&hm=3"
    found = await saved_attachment(url)
    assert isinstance(found, CdnFile) and found.name == "clip.ogg" and str(found) == url
    for typed in ("https://evil.example/clip.ogg", "http://cdn.discordapp.com/x.ogg", "clip.ogg"):
        with pytest.raises(UsageError) as caught:
            await saved_attachment(typed)
        assert "attached, not typed" in caught.value.error.what
