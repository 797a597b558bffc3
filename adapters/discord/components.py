"""Buttons and forms. Their custom ids are command lines, routed in client.py (not kept in
memory by discord.py), so a button or a half-typed form still works after a restart."""

from __future__ import annotations

import logging
from typing import TypeVar

import discord

from adapters.discord.render import BLANK, clip
from bot.replies import Button, Modal

log = logging.getLogger(__name__)

MAX_CUSTOM_ID = 100
MAX_BUTTONS = 25
MAX_BUTTON_LABEL = 80
MAX_MODAL_TITLE = 45
MAX_MODAL_FIELDS = 5
MAX_INPUT_LABEL = 45
MAX_INPUT_LENGTH = 4000

_V = TypeVar("_V", discord.ui.View, discord.ui.Modal)

_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "danger": discord.ButtonStyle.danger,
}


def make_view(buttons: tuple[Button, ...]) -> discord.ui.View | None:
    """A view whose buttons carry their action line as custom id (handled in client.py)."""
    items: list[discord.ui.Button[discord.ui.View]] = []
    for button in buttons[:MAX_BUTTONS]:
        if not button.action.startswith("/") or len(button.action) > MAX_CUSTOM_ID:
            log.warning("button %r dropped: its action must be a /command of ≤100 chars", button)
            continue
        items.append(
            discord.ui.Button(
                label=clip(button.label, MAX_BUTTON_LABEL) or BLANK,
                custom_id=button.action,
                style=_STYLES.get(button.style, discord.ButtonStyle.secondary),
            )
        )
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    return detached(view)


def make_modal(form: Modal) -> discord.ui.Modal | None:
    """The Discord form for a Modal reply, or None when it cannot be one (too many fields or
    a submit action too long for a custom id): the caller then shows the fallback text."""
    if (
        not form.fields
        or len(form.fields) > MAX_MODAL_FIELDS
        or not form.submit_action.startswith("/")
        or len(form.submit_action) > MAX_CUSTOM_ID
    ):
        return None
    modal = discord.ui.Modal(
        title=clip(form.title, MAX_MODAL_TITLE) or "Form",
        custom_id=form.submit_action,
        timeout=None,
    )
    for item in form.fields:
        if item.upload:
            upload: discord.ui.FileUpload[discord.ui.Modal] = discord.ui.FileUpload(
                custom_id=item.name,
                required=item.required,
                min_values=1 if item.required else 0,
                max_values=1,
            )
            label = clip(item.label, MAX_INPUT_LABEL) or item.name
            modal.add_item(discord.ui.Label(text=label, component=upload))
            continue
        modal.add_item(
            discord.ui.TextInput(
                label=clip(item.label, MAX_INPUT_LABEL) or item.name,
                custom_id=item.name,
                style=discord.TextStyle.paragraph if item.multiline else discord.TextStyle.short,
                placeholder=clip(item.placeholder, 100) or None,
                default=clip(item.default, MAX_INPUT_LENGTH) or None,
                required=item.required,
                max_length=max(1, min(item.max_length, MAX_INPUT_LENGTH)),
            )
        )
    return detached(modal)


def detached(view: _V) -> _V:
    """Stop a view before it is sent so discord.py does not keep it in memory: clicks and form
    submits are routed by custom id in client.py instead, which survives a restart."""
    view.stop()
    return view
