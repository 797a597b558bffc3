"""/search and /dataset on Discord: a narrow embed, the whole table as an attachment, charts
uploaded as PNG files with their alt text."""

from __future__ import annotations

import csv
import io

from PIL import Image as PILImage

from tests.discord.conftest import DiscordBot

WIDTH = 56


async def test_search_list_is_a_narrow_embed_and_a_csv(discord_bot: DiscordBot) -> None:
    await discord_bot.interact(discord_bot.slash("search", task="text-generation", limit=25))
    await discord_bot.until(lambda: any(s.files for s in discord_bot.stub.requests))

    embeds = [
        e
        for s in discord_bot.stub.requests
        if isinstance(s.json, dict)
        for e in s.json.get("embeds") or []
    ]
    listing = next(e for e in embeds if e.get("title", "").startswith("Models (text-generation)"))
    lines = listing["description"].splitlines() + listing["footer"]["text"].splitlines()
    assert len(lines) >= 50 and all(len(line) <= WIDTH for line in lines)
    assert "```" not in listing["description"]  # no wide code-block table
    (upload,) = [f for s in discord_bot.stub.requests for f in s.files]
    assert upload.filename == "models.csv"
    rows = list(csv.reader(io.StringIO(upload.data.decode("utf-8"))))
    assert rows[0][:2] == ["#", "model"] and len(rows) == 26


async def test_search_chart_is_uploaded_with_its_alt_text(discord_bot: DiscordBot) -> None:
    payload = discord_bot.slash("search", task="text-generation", sort="likes", limit=5, chart=True)
    await discord_bot.interact(payload)
    await discord_bot.until(
        lambda: any(f.filename == "models.png" for s in discord_bot.stub.requests for f in s.files)
    )
    seen = next(
        s for s in discord_bot.stub.requests if any(f.filename == "models.png" for f in s.files)
    )
    (picture,) = [f for f in seen.files if f.filename == "models.png"]
    assert PILImage.open(io.BytesIO(picture.data)).format == "PNG"
    (attachment,) = [a for a in seen.json["attachments"] if a["filename"] == "models.png"]
    assert attachment["description"].startswith("Models (text-generation), most liked: bar chart")
    assert "gpt2: " in attachment["description"]
