"""Replies → Discord messages within every limit."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from adapters.discord.components import make_modal, make_view
from adapters.discord.render import (
    MAX_UPLOAD,
    Parts,
    Upload,
    clip,
    fit_uploads,
    render,
    units,
)
from bot.replies import Button, Card, Field, Modal, ModalField, Progress, Table, as_plain_text
from tests.discord.conftest import DiscordBot
from tests.discord.limits import embed_problems
from tests.discord.rest_stub import APP_ID


def noise_png(size: int, mode: str = "RGB") -> bytes:
    import random

    rng = random.Random(7)
    channels = len(mode)
    noise = PILImage.frombytes(mode, (size, size), rng.randbytes(size * size * channels))
    out = io.BytesIO()
    noise.save(out, format="PNG")
    return out.getvalue()


async def test_the_longest_replies_fit_discord_limits(test_bot: DiscordBot) -> None:
    await test_bot.interact(test_bot.slash("long"))
    bodies = test_bot.stub.bodies()
    assert len(bodies) == 5
    for body in bodies:
        assert embed_problems(body) == [], body.get("embeds", [{}])[0].get("title")
    card, many, table, words, emoji = bodies
    # 4,000-char description and 40 long fields: cut at 6,000 with a clear note.
    embeds = card["embeds"]
    assert embeds[0]["title"].endswith("…") and len(embeds[0]["title"]) == 256
    assert embeds[0]["description"] == "d" * 4000
    shown = sum(len(e.get("fields", [])) for e in embeds)
    assert 0 < shown < 40
    assert embeds[-1]["footer"]["text"].endswith(f"… {40 - shown} more not shown")
    # 60 short fields: all shown, 25 per embed.
    assert [len(e["fields"]) for e in many["embeds"]] == [25, 25, 10]
    assert "footer" not in many["embeds"][-1]
    # A table: whole rows in closed code blocks, the rest counted in the footer.
    for embed in table["embeds"]:
        assert embed["description"].startswith("```\n") and embed["description"].endswith("\n```")
    rows = sum(e["description"].count("\nmodel-") for e in table["embeds"])
    assert (
        table["embeds"][-1]["footer"]["text"] == f"all of them · … {400 - rows} more rows not shown"
    )
    # 12,500 characters of text: several embed descriptions, then cut.
    assert len(words["embeds"]) >= 2 and words["embeds"][-1]["description"].endswith("…")
    # 1,500 emoji are 3,000 UTF-16 units: too long for a message's content.
    assert emoji.get("content") is None and emoji["embeds"][0]["description"] == "🙂" * 1500


async def test_an_image_over_10_mib_is_shrunk_under_the_limit(test_bot: DiscordBot) -> None:
    await test_bot.interact(test_bot.slash("image", size=2000))
    (edit,) = test_bot.stub.find("PATCH", rf"/webhooks/{APP_ID}/[^/]+/messages/@original")
    (upload,) = edit.files
    assert upload.filename == "noise.jpg"
    assert len(upload.data) <= MAX_UPLOAD
    assert PILImage.open(io.BytesIO(upload.data)).format == "JPEG"
    assert edit.json["attachments"][0]["description"] == "random noise"
    assert edit.json["content"] == "noise"


def test_the_noise_image_is_really_over_the_limit() -> None:
    # What the test command above sends: random pixels do not compress.
    assert len(noise_png(2000)) > MAX_UPLOAD


async def test_shrinking_downscales_when_jpeg_alone_is_not_enough() -> None:
    png = noise_png(600, "RGBA")
    limit = 100_000  # a small limit makes the same code path cheap to test
    parts = await fit_uploads(Parts(uploads=(Upload("pic.png", png),)), limit=limit)
    (upload,) = parts.uploads
    image = PILImage.open(io.BytesIO(upload.data))
    assert len(upload.data) <= limit and image.format == "JPEG" and image.width < 600


async def test_a_file_too_big_to_attach_says_so(test_bot: DiscordBot) -> None:
    await test_bot.interact(test_bot.slash("bigfile"))
    (edit,) = test_bot.stub.find("PATCH", rf"/webhooks/{APP_ID}/[^/]+/messages/@original")
    assert edit.files == []
    assert edit.json["content"].startswith("all answers\n📎 answers.csv is 11.0 MiB, over")


def test_clip_counts_like_discord_and_never_breaks_an_escape() -> None:
    assert clip("abcdef", 4) == "abc…"
    assert units("🙂") == 2 and units(clip("🙂" * 10, 7)) <= 7
    assert clip("ab\\*cd", 4) == "ab…"
    assert clip("short", 100) == "short"


def test_markdown_in_replies_is_shown_literally() -> None:
    parts = render(Card(title="gpt_neo *x*", fields=(Field(name="a_b", value="`c`"),)))
    (embed,) = parts.embeds
    assert embed.title == "gpt\\_neo \\*x\\*"
    assert embed.fields[0].name == "a\\_b" and embed.fields[0].value == "\\`c\\`"


def test_table_cells_cannot_close_the_code_block() -> None:
    parts = render(Table(title="t", columns=("a",), rows=(("x```y",),)))
    description = parts.embeds[0].description or ""
    assert description.count("```") == 2


def test_progress_is_a_meter_line() -> None:
    assert render(Progress(step=3, total=10, label="steps")).content == "▓▓▓░░░░░░░ 3/10 steps"


def test_progress_of_unknown_length_shows_its_label_not_an_empty_bar() -> None:
    # A model loading has no steps to count: "░░░░░░░░░░ 0/0 loading" read as stuck.
    content = render(Progress(step=0, total=0, label="loading the *tiny* model")).content
    assert content == "⏳ loading the \\*tiny\\* model"
    assert as_plain_text(Progress(step=0, total=0, label="loading")) == "⏳ loading"


async def test_buttons_become_a_view_and_unusable_actions_are_dropped() -> None:
    view = make_view(
        (
            Button(label="Go", action="/search gpt2", style="primary"),
            Button(label="Too long", action="/search " + "x" * 100),
            Button(label="Not a command", action="search"),
        )
    )
    assert view is not None
    components = view.to_components()
    assert [c["custom_id"] for c in components[0]["components"]] == ["/search gpt2"]
    assert view.is_finished()  # never kept in memory: clicks route by custom id


@pytest.mark.parametrize(
    ("fields", "action"),
    [
        (tuple(ModalField(name=f"f{i}", label="x") for i in range(6)), "/a"),
        ((ModalField(name="f", label="x"),), "/a " + "x" * 100),
    ],
)
async def test_forms_discord_cannot_show_fall_back_to_text(
    fields: tuple[ModalField, ...], action: str
) -> None:
    modal = Modal(title="t", fields=fields, submit_action=action, fallback="type /a text:…")
    assert make_modal(modal) is None
    parts = render(modal)
    assert parts.content == "type /a text:…" and parts.private
