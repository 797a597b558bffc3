"""Replies → Block Kit within Slack's limits (no network)."""

from __future__ import annotations

import json
import re

from adapters.slack import render
from bot.replies import Button, Card, Field, Modal, ModalField, Text


def test_escaping_is_slacks_and_undone_for_typed_text() -> None:
    assert render.escape("a & b <@U1> <!here>") == "a &amp; b &lt;@U1&gt; &lt;!here&gt;"
    assert render.escape("ping @Here or @channel, mail a@everyone.org") == (
        "ping @\u200bHere or @\u200bchannel, mail a@everyone.org"
    )
    typed = "x < y && y > z &lt;"
    assert render.unescape(render.escape(typed)) == typed


def test_long_text_is_split_between_words_and_never_inside_an_entity() -> None:
    pieces = render.split_text(render.escape("&" * 2000))  # 10,000 escaped characters
    assert len(pieces) == 4
    assert all(len(p) <= 3000 and re.fullmatch(r"(&amp;)+", p) for p in pieces)
    words = render.split_text("word " * 1000)
    assert all(len(p) <= 3000 and not p.startswith(" ") and "wor " not in p for p in words)
    assert "".join(words).split() == ["word"] * 1000
    cut = render.truncate(render.escape("<" * 100), 50)
    assert len(cut) <= 50 and cut.endswith("…") and re.fullmatch(r"(&lt;)+…", cut)


def test_inline_fields_go_ten_to_a_section() -> None:
    card = Card(title="t", fields=tuple(Field(name=f"f{i}", value="v") for i in range(25)))
    (message,) = render.messages(card)
    sections = [b for b in message["blocks"] if "fields" in b]
    assert [len(s["fields"]) for s in sections] == [10, 10, 5]
    assert sections[0]["fields"][0] == {"type": "mrkdwn", "text": "*f0*\nv", "verbatim": True}


def test_buttons_have_unique_ids_and_only_slacks_styles() -> None:
    buttons = tuple(
        Button(label=f"b{i}", action=f"/help {i}", style="danger" if i == 0 else "secondary")
        for i in range(30)
    )
    (message,) = render.messages(Text(text="pick", buttons=buttons))
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 5]
    elements = [e for a in actions for e in a["elements"]]
    assert len({e["action_id"] for e in elements}) == 30
    assert elements[0]["style"] == "danger" and "style" not in elements[1]
    assert elements[29]["value"] == "/help 29"


def test_a_reply_past_fifty_blocks_is_several_messages() -> None:
    card = Card(
        title="many",
        fields=tuple(Field(name=f"f{i}", value="v", inline=False) for i in range(120)),
    )
    pages = render.messages(card)
    assert [len(p["blocks"]) for p in pages] == [50, 50, 21]
    assert pages[1]["text"] == "many (continued)"
    assert all(len(json.dumps(p["blocks"])) < render.MESSAGE_TEXT + 4000 for p in pages)


def test_a_modal_view_fits_slack() -> None:
    modal = Modal(
        title="A title far longer than twenty-four",
        fields=(
            ModalField(
                name="answer",
                label="Your <answer>",
                max_length=4000,
                placeholder="e.g. <!here>",
                default="a < b",
            ),
        ),
        submit_action="/activity submit id:1",
    )
    view = render.modal_view(modal, '{"action": "/activity submit id:1"}')
    assert len(view["title"]["text"]) <= 24 and view["callback_id"] == render.MODAL_CALLBACK
    (block,) = view["blocks"]
    assert block["block_id"] == "answer" and block["label"]["text"] == "Your &lt;answer&gt;"
    element = block["element"]
    assert element["max_length"] == 3000
    assert element["placeholder"]["text"] == "e.g. &lt;!here&gt;"
    assert element["initial_value"] == "a < b"  # what is in the box, not rendered text
