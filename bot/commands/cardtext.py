"""What /search and /dataset share to show a card's own words: one section's text cut to
what every platform shows in one message, and the checklist's items as buttons that open
their section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.hub.cards import (
    CardSection,
    ChecklistItem,
    ModelItem,
    SectionStatus,
    card_section,
    section_word,
)
from bot.hub.records import mark
from bot.replies import Button, Card

# Characters of section text in one reply: inside Slack's 3,000 per section block and
# Discord's 4,096 per embed description, with room for the note and the link.
SECTION_CHARS = 1800
MAX_ACTION = 100  # Discord custom ids
_SENTENCE_END = re.compile(r"[.!?…](?=\s)")


def clip_text(text: str, limit: int = SECTION_CHARS) -> tuple[str, bool]:
    """`text` cut to `limit` characters at the last paragraph, else sentence, else word that
    fits (never mid-word), and whether it was cut."""
    if len(text) <= limit:
        return text, False
    head = text[: limit - 2]
    floor = limit // 2
    cut = head.rfind("\n\n")
    if cut < floor:
        ends = [m.end() for m in _SENTENCE_END.finditer(head)]
        cut = ends[-1] if ends else -1
    if cut < floor:
        cut = head.rfind(" ")
    if cut < floor:
        cut = len(head)
    return head[:cut].rstrip() + " …", True


def section_card(*, card: str | None, key: str, word: str, repo: str, url: str, back: str) -> Card:
    """The reply to `section:<word>`: the card's text for checklist item `key`, cut cleanly,
    with a link to the whole card; `back` is the command line of the repo's page."""
    found = card_section(card, key) if card else None
    buttons = (Button(label="Back to the page", action=back),) if len(back) <= MAX_ACTION else ()
    if found is None:
        what = "has no card" if not card else f"has no section about {word.replace('-', ' ')}"
        return Card(
            title=f"{repo}: {word}",
            description=f"{mark(SectionStatus.MISSING)} {repo} {what}: nobody wrote it down.",
            url=url,
            footer=f"The whole card: {url}",
            buttons=buttons,
        )
    text, cut = clip_text(found.text)
    footer = f"{'Cut here; read the rest' if cut else 'The whole card'}: {url}"
    return Card(
        title=f"{repo}: {found.label}",
        description=f"{_lead(found)}\n\n{text}".strip(),
        url=url,
        footer=footer,
        buttons=buttons,
    )


def _lead(found: CardSection) -> str:
    """The line above a section's text: the card's heading, or where the checklist's ✓ was
    found when no section is written about the item (the card's metadata, a code example)."""
    if found.found_in is not None:
        return (
            f"{mark(found.status)} {found.label}: from {found.heading}; "
            "no section of the card is written about it."
        )
    lead = f"{mark(found.status)} “{found.heading}”"
    if found.heading.lower() != found.label.lower():
        lead += f" ({found.label})"
    if found.status is SectionStatus.PLACEHOLDER:
        lead += ": only the template's placeholder, nothing written yet"
    return lead


def section_buttons(page: str, items: Iterable[ChecklistItem]) -> tuple[Button, ...]:
    """A button per checklist item the card has (✓ or ⚠) that opens its section; `page` is
    the command line of the repo's page."""
    buttons = []
    for item in items:
        # Only what the reader can open: a heading of the card, or its introduction. (A ✓
        # can come from metadata alone, e.g. evaluation results in model-index.)
        opens = item.headings or item.key == ModelItem.DESCRIPTION
        if item.status is SectionStatus.MISSING or not opens:
            continue
        action = f"{page} section:{section_word(item.key)}"
        if len(action) <= MAX_ACTION:
            buttons.append(Button(label=f"{mark(item.status)} {item.label}", action=action))
    return tuple(buttons)
