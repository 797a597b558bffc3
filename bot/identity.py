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
    # In a thread (Discord gives threads ids of their own): the channel it belongs to.
    parent_channel_id: str = ""

    def is_in(self, channel_id: str) -> bool:
        """Whether this actor typed in that channel, or in a thread of it."""
        return channel_id in (self.channel_id, self.parent_channel_id or self.channel_id)
