"""Neutral replies → Slack Block Kit messages and modal views, within Slack's limits.

Any text a reply carries may hold what a student typed, so every string that goes into a
text object is escaped (`&`, `<`, `>`: Slack's documented escaping) and mrkdwn objects are
`verbatim` (no auto-linked @mentions or #channels). `<!channel>`, `<@U…>` and friends then
show as text and notify no one.

Limits (Block Kit): 50 blocks a message, 3,000 characters a section, 10 fields of 2,000 a
section, 150 for a header, 75 for a button label. A longer reply is split into several
messages; past MAX_MESSAGES it is cut with "…" rather than flooding the channel (Slack posts
about one message a second per channel).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from bot.replies import (
    Button,
    Card,
    Error,
    Field,
    Modal,
    Progress,
    Reply,
    Table,
    Text,
    as_plain_text,
    format_table,
)
from bot.replies import File as FileReply

Block = dict[str, Any]
Message = dict[str, Any]  # {"text": fallback for notifications, "blocks": [...]}

MAX_BLOCKS = 50
SECTION_TEXT = 3000
FIELD_TEXT = 2000
FIELDS_PER_SECTION = 10
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTONS_PER_BLOCK = 25
CONTEXT_TEXT = 2000
FALLBACK_TEXT = 300
# Slack truncates message text past 40,000 characters; keep each message's blocks under it.
MESSAGE_TEXT = 40000
MAX_MESSAGES = 5
MODAL_TITLE = 24
MODAL_INPUT = 3000  # plain_text_input max_length
METADATA = 3000  # private_metadata

# Buttons carry their command line in `value`; the id only has to be unique in a message.
ACTION_PREFIX = "classbot:"
MODAL_CALLBACK = "classbot:modal"

_SPECIAL = re.compile(r"(?<![\w.])@(channel|here|everyone)\b", re.IGNORECASE)
_ENTITY_START = re.compile(r"&[a-z]*$")


def escape(text: str) -> str:
    """User text made inert: entities for `& < >`, and a zero-width space after the @ of
    @channel/@here/@everyone so no transport (response_url included) can read a mention."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(lambda m: "@\u200b" + m.group(1), text)


# Slack's markup for a link it recognised in typed text: <https://…> or <https://…|label>.
_LINK_MARKUP = re.compile(r"<((?:https?|mailto):[^|<>\s]+)(?:\|[^<>]*)?>")


def unescape(text: str) -> str:
    """Slack sends `& < >` in slash-command text as entities, and may wrap a link it
    recognised in its link markup; give the router what was typed (the address alone)."""
    text = _LINK_MARKUP.sub(r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _cut_at(text: str, limit: int) -> int:
    """Where to cut escaped text at most `limit` long: a newline or space if one is near,
    never inside an entity such as `&amp;`."""
    window = text[:limit]
    for sep in ("\n", " "):
        at = window.rfind(sep)
        if at >= limit // 2:
            return at + 1
    partial = _ENTITY_START.search(window)
    return partial.start() if partial and partial.start() > 0 else limit


def split_text(text: str, limit: int = SECTION_TEXT) -> list[str]:
    """Escaped text in pieces of at most `limit` characters."""
    pieces: list[str] = []
    while len(text) > limit:
        at = _cut_at(text, limit)
        pieces.append(text[:at].rstrip("\n") or text[:at])
        text = text[at:]
    if text or not pieces:
        pieces.append(text)
    return pieces


def truncate(text: str, limit: int) -> str:
    """Escaped text cut cleanly with "…" to at most `limit` characters."""
    if len(text) <= limit:
        return text
    window = text[: limit - 1]
    partial = _ENTITY_START.search(window)
    if partial and partial.start() > 0:
        window = window[: partial.start()]
    return window.rstrip() + "…"


def mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def plain(text: str) -> Block:
    return {"type": "plain_text", "text": text, "emoji": True}


def _sections(escaped: str) -> list[Block]:
    return [{"type": "section", "text": mrkdwn(piece)} for piece in split_text(escaped) if piece]


def _context(escaped: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(truncate(escaped, CONTEXT_TEXT))]}


def _link(url: str) -> str:
    # Inside <…> only `|` and `>` end the link; percent-encode them, escape the rest.
    safe = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C").replace("&", "&amp;")
    return f"<{safe}>"


def _field_text(field: Field, limit: int) -> str:
    return truncate(f"*{escape(field.name)}*\n{escape(field.value)}", limit)


def _card_blocks(card: Card) -> list[Block]:
    blocks: list[Block] = [
        {"type": "header", "text": plain(truncate(escape(card.title), HEADER_TEXT))}
    ]
    if card.url:
        blocks.append(_context(_link(card.url)))
    if card.description:
        described = _sections(escape(card.description))
        if card.thumbnail_url and described:
            described[0]["accessory"] = {
                "type": "image",
                "image_url": card.thumbnail_url,
                "alt_text": truncate(card.title, 2000),
            }
        blocks.extend(described)
    inline: list[Block] = []
    for field in card.fields:
        if field.inline:
            inline.append(mrkdwn(_field_text(field, FIELD_TEXT)))
            if len(inline) == FIELDS_PER_SECTION:
                blocks.append({"type": "section", "fields": inline})
                inline = []
            continue
        if inline:
            blocks.append({"type": "section", "fields": inline})
            inline = []
        blocks.extend(_sections(f"*{escape(field.name)}*\n{escape(field.value)}"))
    if inline:
        blocks.append({"type": "section", "fields": inline})
    if card.footer:
        blocks.append(_context(escape(card.footer)))
    return blocks


def _table_blocks(table: Table) -> list[Block]:
    blocks: list[Block] = [{"type": "section", "text": mrkdwn(f"*{escape(table.title)}*")}]
    budget = SECTION_TEXT - len("```\n\n```")
    chunk: list[str] = []
    size = 0
    lines = escape(format_table(table.columns, table.rows)).splitlines()
    for line in (piece for raw in lines for piece in split_text(raw, budget)):
        if chunk and size + len(line) + 1 > budget:
            blocks.append({"type": "section", "text": mrkdwn("```\n" + "\n".join(chunk) + "\n```")})
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append({"type": "section", "text": mrkdwn("```\n" + "\n".join(chunk) + "\n```")})
    if table.footer:
        blocks.append(_context(escape(table.footer)))
    return blocks


def _error_blocks(error: Error) -> list[Block]:
    lines = [f":warning: *{escape(error.what)}*"]
    if error.todo:
        lines.append(escape(error.todo))
    if error.usage:
        lines.append(f"Usage: `{escape(error.usage)}`")
    if error.ref:
        lines.append(f"_(reference: {escape(error.ref)})_")
    return _sections("\n".join(lines))


def reply_blocks(reply: Reply) -> list[Block]:
    """The blocks of one reply, before splitting into messages (buttons not included)."""
    match reply:
        case Card():
            return _card_blocks(reply)
        case Table():
            return _table_blocks(reply)
        case Error():
            return _error_blocks(reply)
        case Progress():
            return _sections(escape(reply.line))
        case Text():
            return _sections(escape(reply.text))
        case FileReply():
            return _sections(escape(reply.caption or reply.filename))
        case _:
            return _sections(escape(as_plain_text(reply)))


def button_blocks(buttons: Sequence[Button]) -> list[Block]:
    """`actions` blocks; each button's value is its command line, run as whoever clicks."""
    elements: list[Block] = []
    for index, button in enumerate(buttons):
        element: Block = {
            "type": "button",
            "action_id": f"{ACTION_PREFIX}{index}",
            "text": plain(truncate(escape(button.label), BUTTON_TEXT)),
            "value": button.action[:2000],
        }
        if button.style != "secondary":  # Slack knows only primary and danger
            element["style"] = button.style
        elements.append(element)
    return [
        {"type": "actions", "elements": elements[i : i + BUTTONS_PER_BLOCK]}
        for i in range(0, len(elements), BUTTONS_PER_BLOCK)
    ]


def summary(reply: Reply) -> str:
    """A short escaped line for notifications (the message's top-level `text`)."""
    match reply:
        case Card() | Table():
            line = reply.title
        case Error():
            line = reply.what
        case Progress():
            line = reply.line
        case Text():
            line = reply.text
        case FileReply():
            line = reply.caption or reply.filename
        case _:
            line = as_plain_text(reply)
    first = line.strip().splitlines()[0] if line.strip() else "classbot"
    return truncate(escape(first), FALLBACK_TEXT)


def _block_size(block: Block) -> int:
    return len(json.dumps(block, ensure_ascii=False))


def _paginate(blocks: list[Block]) -> list[list[Block]]:
    pages: list[list[Block]] = [[]]
    size = 0
    for block in blocks:
        cost = _block_size(block)
        if pages[-1] and (len(pages[-1]) >= MAX_BLOCKS or size + cost > MESSAGE_TEXT):
            pages.append([])
            size = 0
        pages[-1].append(block)
        size += cost
    return pages


def messages(reply: Reply) -> list[Message]:
    """One reply as one or more Slack messages, every message within Block Kit's limits."""
    actions = button_blocks(reply.buttons)
    pages = _paginate(reply_blocks(reply))
    if len(pages) > MAX_MESSAGES:
        dropped = len(pages) - MAX_MESSAGES
        pages = pages[:MAX_MESSAGES]
        pages[-1][-1] = _context(f"… ({dropped} more message(s) of this reply not shown)")
    text = summary(reply)
    if not pages[-1]:
        pages[-1].append({"type": "section", "text": mrkdwn(text)})
    for block in actions:
        if len(pages[-1]) >= MAX_BLOCKS:
            pages.append([])
        pages[-1].append(block)
    return [
        {"text": text if i == 0 else f"{text} (continued)", "blocks": page}
        for i, page in enumerate(pages)
    ]


def modal_view(modal: Modal, metadata: str) -> dict[str, Any]:
    """A `views.open` view; the submit action travels in private_metadata."""
    blocks: list[Block] = []
    for field in modal.fields[:MAX_BLOCKS]:
        element: Block = {
            "type": "plain_text_input",
            "action_id": field.name,
            "multiline": field.multiline,
            "max_length": max(1, min(field.max_length, MODAL_INPUT)),
        }
        if field.upload:  # its submitted value is the file's id (app.py: _input_values)
            element = {"type": "file_input", "action_id": field.name, "max_files": 1}
        elif field.placeholder:
            element["placeholder"] = plain(truncate(escape(field.placeholder), 150))
        if field.default and not field.upload:
            element["initial_value"] = field.default[:MODAL_INPUT]
        blocks.append(
            {
                "type": "input",
                "block_id": field.name,
                "optional": not field.required,
                "label": plain(truncate(escape(field.label), 2000)),
                "element": element,
            }
        )
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "private_metadata": metadata[:METADATA],
        "title": plain(truncate(escape(modal.title), MODAL_TITLE)),
        "submit": plain("Submit"),
        "close": plain("Cancel"),
        "blocks": blocks,
    }
