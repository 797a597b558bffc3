"""Who is typing, and where: the same shape on every platform."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    STUDENT = "student"
    INSTRUCTOR = "instructor"

    def allows(self, required: Role) -> bool:
        return self is Role.INSTRUCTOR or required is Role.STUDENT


@dataclass(frozen=True)
class Actor:
    """Who typed the command, and where (platform ids, as strings)."""

    platform: str
    user_id: str
    display_name: str
    role: Role
    guild_id: str
    channel_id: str
