"""Where replies go when they are not the direct answer to a typed command.

Job results, activity reminders and closing messages are delivered later, perhaps after a
restart, so their destination is stored (as JSON) and each adapter registers an Outbox
that can deliver to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from bot.replies import Reply


@dataclass(frozen=True)
class Destination:
    platform: str
    guild_id: str
    channel_id: str
    # The requester, who is mentioned when a late result is posted to the channel.
    user_id: str
    # Platform handles for answering in place, e.g. Discord's interaction token or Slack's
    # response_url. Strings only, so the whole value can be stored as JSON.
    handle: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Destination:
        return cls(
            platform=str(data["platform"]),
            guild_id=str(data["guild_id"]),
            channel_id=str(data["channel_id"]),
            user_id=str(data["user_id"]),
            handle={str(k): str(v) for k, v in dict(data.get("handle") or {}).items()},
        )


class Outbox(Protocol):
    """Delivers replies for one platform."""

    async def send(self, destination: Destination, reply: Reply, *, key: str | None = None) -> None:
        """Deliver `reply`. Replies sent with the same `key` (e.g. "job:42") replace each
        other in one message where the platform allows (progress, then the result)."""
        ...


@dataclass(frozen=True)
class Member:
    user_id: str
    display_name: str


class Roster(Protocol):
    """Who is expected to answer in a place (for "who has not submitted")."""

    async def students(self, guild_id: str, channel_id: str) -> list[Member] | None:
        """The students of a guild/channel, or None when the platform cannot tell (the
        caller then falls back to everyone who has used the bot in that guild)."""
        ...
