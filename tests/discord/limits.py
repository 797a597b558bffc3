"""Discord's message limits, checked on the JSON bodies the stand-in received."""

from __future__ import annotations

from typing import Any


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def embed_problems(body: dict[str, Any]) -> list[str]:
    """Every way a message body breaks Discord's limits (empty when it is valid)."""
    problems: list[str] = []
    if units(body.get("content") or "") > 2000:
        problems.append("content over 2,000")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        problems.append(f"{len(embeds)} embeds")
    total = 0
    for embed in embeds:
        title = embed.get("title") or ""
        description = embed.get("description") or ""
        footer = (embed.get("footer") or {}).get("text") or ""
        fields = embed.get("fields") or []
        if units(title) > 256:
            problems.append("title over 256")
        if units(description) > 4096:
            problems.append("description over 4,096")
        if units(footer) > 2048:
            problems.append("footer over 2,048")
        if len(fields) > 25:
            problems.append(f"{len(fields)} fields")
        for field in fields:
            if not field["name"] or not field["value"]:
                problems.append("empty field")
            if units(field["name"]) > 256:
                problems.append("field name over 256")
            if units(field["value"]) > 1024:
                problems.append("field value over 1,024")
            total += units(field["name"]) + units(field["value"])
        total += units(title) + units(description) + units(footer)
        if not (title or description or fields or footer):
            problems.append("empty embed")
    if total > 6000:
        problems.append(f"embeds total {total:,} over 6,000")
    return problems
