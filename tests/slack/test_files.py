"""file: on Slack: a link (or id) of a file uploaded in the channel; the adapter asks
files.info and downloads url_private with the bot token, from Slack's hosts only."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.slack.files import file_id_of
from bot.attachments import Attachment
from bot.errors import UsageError
from bot.replies import Reply, Text
from bot.router import Command, Context, Option
from tests.slack.harness import BOT_TOKEN, SlackWorld, slack_world
from tests.slack.webapi_stub import SlackStub
from tests.support.file_form import ASK


async def peek(ctx: Context, file: Attachment) -> Reply:
    """Read a file."""
    data = await file.read(1_000_000)
    return Text(text=f"read {file.name} {file.size} {file.content_type} {len(data)} {data[:4]!r}")


PEEK = Command(
    name="peek",
    handler=peek,
    options=(Option("file", Attachment, "A file", required=True, max_length=500),),
)


def test_a_file_id_comes_from_a_link_or_is_typed() -> None:
    link = "https://class.slack.com/files/U0STUDENT/F0ABC1234/clip.ogg"
    assert file_id_of(link) == "F0ABC1234"
    assert file_id_of(f"<{link}|clip.ogg>") == "F0ABC1234"
    assert file_id_of("F0ABC1234") == "F0ABC1234"
    for typed in (
        "https://evil.example/files/U1/F0ABC1234/x.ogg",
        "<https://evil.example/F0ABC1234|F0ABC1234>",
        "<mailto:x|F0ABC1234>",
        "http://class.slack.com/files/U1/F0ABC1234/x.ogg",
        "https://slack.com.evil.example/files/U1/F0ABC1234/x",
        "clip.ogg",
        "",
    ):
        with pytest.raises(UsageError) as caught:
            file_id_of(typed)
        assert "Slack file's link or id" in caught.value.error.what


async def _answer(world: SlackWorld, text: str) -> str:
    status, _ = await world.command("peek", text)
    assert status == 200
    await world.idle()
    answer = world.stub.responds[-1].body
    return str(answer)


async def test_a_linked_file_is_found_and_downloaded_with_the_bot_token(tmp_path: Path) -> None:
    stub = SlackStub()
    stub.files["F0CLIP0001"] = ("clip.wav", "audio/wav", b"RIFF" + bytes(60))
    async with slack_world(tmp_path, extra_commands=[PEEK], stub=stub) as world:
        link = "https://class.slack.com/files/U0STUDENT/F0CLIP0001/clip.wav"
        answer = await _answer(world, f"file:<{link}|clip.wav>")
        assert "read clip.wav 64 audio/wav 64 b'RIFF'" in answer, answer
        (info,) = world.stub.of("files.info")
        assert info.params["file"] == "F0CLIP0001" and info.token == BOT_TOKEN
        ((path, auth),) = world.stub.downloads
        assert path.endswith("/clip.wav") and auth == f"Bearer {BOT_TOKEN}"
        # An unknown file, and a link to another site (nothing is asked or fetched).
        missing = await _answer(world, "file:F0NOPE0000")
        assert "Slack has no file F0NOPE0000" in missing
        before = len(world.stub.of("files.info"))
        elsewhere = await _answer(world, "file:<https://evil.example/F0CLIP0001|x>")
        assert "Slack file's link or id" in elsewhere
        assert len(world.stub.of("files.info")) == before and len(world.stub.downloads) == 1


async def test_a_form_takes_a_file_and_its_submit_reads_it(tmp_path: Path) -> None:
    """A form's file field is a file input; the file uploaded in it reaches the form's
    command as its file option (by its id, through files.info as a typed one)."""
    stub = SlackStub()
    stub.files["F0CLIP0002"] = ("clip.wav", "audio/wav", b"RIFF" + bytes(40))
    async with slack_world(tmp_path, extra_commands=[PEEK, ASK], stub=stub) as world:
        status, _ = await world.command("ask", "")
        assert status == 200
        await world.idle()
        (opened,) = world.stub.of("views.open")
        view = opened.params["view"]
        (block,) = view["blocks"]
        assert block["element"] == {"type": "file_input", "action_id": "file", "max_files": 1}
        assert block["label"]["text"] == "Your clip" and block["optional"] is False
        before = len(world.stub.responds)
        assert await world.submit(view, {"file": "F0CLIP0002"}) == (200, "")
        await world.idle()
        answers = [str(r.body) for r in world.stub.responds[before:]]
        assert any("read clip.wav 44 audio/wav 44 b'RIFF'" in a for a in answers), answers
        (info,) = world.stub.of("files.info")
        assert info.params["file"] == "F0CLIP0002"
