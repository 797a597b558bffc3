"""What each platform would make of a reply: every way it breaks the platform's limits, and
every mention that would notify someone.

The reply is rendered with the adapters' real renderers; Discord's embed limits are the
checks in tests/discord/limits.py, Slack's are the renderer's own constants.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import discord

from adapters.discord import components
from adapters.discord import render as discord_render
from adapters.slack import render as slack_render
from bot.replies import Modal, Reply
from tests.discord.limits import embed_problems

# Slack's special mentions and user/group mentions, as its message text would hold them.
_SLACK_LIVE = re.compile(r"<!(channel|here|everyone|subteam\^[^>]*)(\|[^>]*)?>|<@[UW][A-Z0-9]+>")
# Typed @here in text Slack parses (a notification's fallback text).
_SLACK_BARE = re.compile(r"(?<![\w.])@(channel|here|everyone)\b", re.IGNORECASE)
_DISCORD_EVERYONE = re.compile(r"@(everyone|here)")
_DISCORD_ROLE = re.compile(r"<@&(\d+)>")
_DISCORD_USER = re.compile(r"<@!?(\d+)>")


def discord_problems(reply: Reply) -> list[str]:
    """Discord: message and embed limits, buttons, uploads, forms."""
    parts = discord_render.render(reply)
    body: dict[str, Any] = {
        "content": parts.content,
        "embeds": [embed.to_dict() for embed in parts.embeds],
    }
    problems = embed_problems(body)
    if parts.content is not None and not parts.content:
        problems.append("empty content")
    if not parts.content and not parts.embeds and not parts.uploads:
        problems.append("nothing to send")
    for upload in parts.uploads:
        if len(upload.data) > discord_render.MAX_UPLOAD:
            problems.append(f"upload {upload.filename} over 10 MiB")
    if len(parts.buttons) > components.MAX_BUTTONS:
        problems.append(f"{len(parts.buttons)} buttons")
    for button in parts.buttons:
        # make_view drops such a button: the student would miss it.
        if not button.action.startswith("/") or len(button.action) > components.MAX_CUSTOM_ID:
            problems.append(f"button {button.label!r} cannot be a Discord button")
    if isinstance(reply, Modal):
        problems.extend(_discord_form_problems(reply))
    problems.extend(f"pings {m}" for m in discord_pings(parts.content or "", _allowed()))
    return problems


def _allowed() -> discord.AllowedMentions:
    """What the adapter lets a reply mention (adapters/discord: every send passes it)."""
    return discord_render.NO_MENTIONS


def _discord_form_problems(form: Modal) -> list[str]:
    if len(form.submit_action) > components.MAX_CUSTOM_ID:
        return []  # the adapter shows the fallback text instead, checked above
    return [
        f"form field {f.name!r} id over 100"
        for f in form.fields
        if len(f.name) > components.MAX_CUSTOM_ID
    ]


def discord_pings(content: str, allowed: discord.AllowedMentions) -> list[str]:
    """The mentions in message content that would notify someone under `allowed` (embeds
    never notify)."""
    found = []
    if allowed.everyone:
        found.extend(m.group(0) for m in _DISCORD_EVERYONE.finditer(content))
    for pattern, rule in ((_DISCORD_ROLE, allowed.roles), (_DISCORD_USER, allowed.users)):
        for match in pattern.finditer(content):
            ids = {str(getattr(o, "id", o)) for o in rule} if isinstance(rule, list) else None
            if rule is True or (ids is not None and match.group(1) in ids):
                found.append(match.group(0))
    return found


def slack_problems(reply: Reply) -> list[str]:
    """Slack: Block Kit limits of every message (or the modal view) and live mentions."""
    if isinstance(reply, Modal):
        view = slack_render.modal_view(reply, json.dumps({"action": reply.submit_action}))
        problems = _modal_problems(view)
        payloads: list[dict[str, Any]] = [view]
    else:
        payloads = slack_render.messages(reply)
        problems = [p for message in payloads for p in _message_problems(message)]
        if len(payloads) > slack_render.MAX_MESSAGES:
            problems.append(f"{len(payloads)} messages")
    for text in (t for payload in payloads for t in _strings(payload)):
        problems.extend(f"pings {m.group(0)}" for m in _SLACK_LIVE.finditer(text))
        problems.extend(f"pings {m.group(0)}" for m in _SLACK_BARE.finditer(text))
    return problems


def _message_problems(message: dict[str, Any]) -> list[str]:
    problems = []
    blocks = message["blocks"]
    if not 0 < len(blocks) <= slack_render.MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks")
    if not message["text"] or len(message["text"]) > slack_render.MESSAGE_TEXT:
        problems.append("fallback text empty or too long")
    for block in blocks:
        problems.extend(_block_problems(block))
    return problems


def _block_problems(block: dict[str, Any]) -> Iterator[str]:
    kind = block["type"]
    if kind == "header" and not 0 < len(block["text"]["text"]) <= slack_render.HEADER_TEXT:
        yield "header text"
    if kind == "section":
        if "text" in block and not 0 < len(block["text"]["text"]) <= slack_render.SECTION_TEXT:
            yield f"section text of {len(block['text']['text'])}"
        fields = block.get("fields", [])
        if len(fields) > slack_render.FIELDS_PER_SECTION:
            yield f"{len(fields)} fields"
        if any(not 0 < len(f["text"]) <= slack_render.FIELD_TEXT for f in fields):
            yield "field text"
        if "text" not in block and not fields:
            yield "empty section"
    if kind == "context":
        for element in block["elements"]:
            if not 0 < len(element["text"]) <= slack_render.CONTEXT_TEXT:
                yield "context text"
    if kind == "actions":
        elements = block["elements"]
        if len(elements) > slack_render.BUTTONS_PER_BLOCK:
            yield f"{len(elements)} buttons"
        for button in elements:
            if not 0 < len(button["text"]["text"]) <= slack_render.BUTTON_TEXT:
                yield "button text"
            if len(button["value"]) > 2000:
                yield "button value"


def _modal_problems(view: dict[str, Any]) -> list[str]:
    problems = []
    if not 0 < len(view["title"]["text"]) <= slack_render.MODAL_TITLE:
        problems.append("modal title")
    if len(view["private_metadata"]) > slack_render.METADATA:
        problems.append("modal metadata")
    if len(view["blocks"]) > slack_render.MAX_BLOCKS:
        problems.append("modal blocks")
    return problems


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def unencodable(reply: Reply) -> list[str]:
    """Text neither platform can send: what JSON over HTTP cannot carry as UTF-8."""
    try:
        json.dumps(slack_render.messages(reply), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        return [f"cannot be sent as UTF-8: {error.reason}"]
    return []
