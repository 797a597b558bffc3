"""Who is asking (the Actor and its role) and who the students are (the Roster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.delivery import Member
from tests.discord.commands import COMMANDS
from tests.discord.conftest import (
    DM_CHANNEL_ID,
    INSTRUCTOR_ID,
    INSTRUCTOR_ROLE_ID,
    STUDENT_ID,
    STUDENT_ROLE_ID,
    DiscordBot,
    discord_bot_for,
    user,
)
from tests.discord.rest_stub import BOT_ID, CHANNEL_ID, GUILD_ID, DiscordRestStub
from tests.support.botdriver import FakeClock

MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
OTHER_ID = 1400000000000000003
HIDDEN_ID = 1400000000000000004
PRIVATE_CHANNEL_ID = 1300000000000000002


def role(role_id: int, name: str, permissions: int = 0) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "permissions": str(permissions),
        "position": 0 if role_id == GUILD_ID else 1,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def member(
    user_id: int, name: str, roles: tuple[int, ...] = (), bot: bool = False
) -> dict[str, Any]:
    return {
        "user": {**user(user_id, name), "bot": bot},
        "roles": [str(r) for r in roles],
        "joined_at": "2026-01-05T10:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
    }


def cache_guild(bot: DiscordBot) -> None:
    """What the gateway's GUILD_CREATE gives the client (roles, channels, members)."""
    members = [
        member(STUDENT_ID, "ana", (STUDENT_ROLE_ID,)),
        member(INSTRUCTOR_ID, "bea", (INSTRUCTOR_ROLE_ID,)),
        member(OTHER_ID, "cyd"),
        member(HIDDEN_ID, "dan", (STUDENT_ROLE_ID,)),
        member(BOT_ID, "classbot", bot=True),
    ]
    overwrites = [{"id": str(HIDDEN_ID), "type": 1, "allow": "0", "deny": str(VIEW_CHANNEL)}]
    state: Any = bot.client._connection
    state._add_guild_from_data(
        {
            "id": str(GUILD_ID),
            "name": "Class",
            "owner_id": "1000000000000000001",
            "roles": [
                role(GUILD_ID, "@everyone", VIEW_CHANNEL),
                role(INSTRUCTOR_ROLE_ID, "instructor"),  # matched without regard to case
                role(STUDENT_ROLE_ID, "Student"),
            ],
            "channels": [
                {
                    "id": str(CHANNEL_ID),
                    "type": 0,
                    "name": "class",
                    "position": 0,
                    "permission_overwrites": [],
                },
                {
                    "id": str(PRIVATE_CHANNEL_ID),
                    "type": 0,
                    "name": "lab",
                    "position": 1,
                    "permission_overwrites": overwrites,
                },
            ],
            "members": members,
            "member_count": len(members),
            "features": [],
            "emojis": [],
            "stickers": [],
        }
    )


async def whoami(bot: DiscordBot, **payload: Any) -> list[str]:
    bot.stub.clear()
    await bot.interact(bot.slash("whoami", **payload))
    edit = bot.stub.find("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")[0]
    words: list[str] = edit.json["content"].split()
    return words


async def test_students_and_instructors(test_bot: DiscordBot) -> None:
    cache_guild(test_bot)
    assert await whoami(test_bot) == [
        "discord",
        str(STUDENT_ID),
        "Ana",
        "student",
        str(GUILD_ID),
        str(CHANNEL_ID),
    ]
    by_role = await whoami(test_bot, who=user(INSTRUCTOR_ID, "bea"), roles=[INSTRUCTOR_ROLE_ID])
    assert by_role[2:4] == ["Bea", "instructor"]
    # Manage Server makes an instructor, with or without the role.
    by_permission = await whoami(test_bot, who=user(OTHER_ID, "cyd"), permissions=MANAGE_GUILD)
    assert by_permission[3] == "instructor"


async def test_instructors_by_id_and_direct_messages(
    tmp_path: Path, clock: FakeClock, stub: DiscordRestStub
) -> None:
    async with discord_bot_for(
        tmp_path, clock, stub, commands=COMMANDS, instructors=[str(OTHER_ID)]
    ) as bot:
        listed = await whoami(bot, who=user(OTHER_ID, "cyd"))
        assert listed[3] == "instructor"
        in_dm = await whoami(bot, in_guild=False)
        assert in_dm == [
            "discord",
            str(STUDENT_ID),
            "Ana",
            "student",
            f"dm:{STUDENT_ID}",
            str(DM_CHANNEL_ID),
        ]


async def test_the_roster_needs_the_members_intent(test_bot: DiscordBot) -> None:
    cache_guild(test_bot)
    roster = test_bot.app.services.rosters["discord"]
    assert await roster.students(str(GUILD_ID), str(CHANNEL_ID)) is None


async def test_the_roster_lists_the_students_who_can_see_the_channel(
    tmp_path: Path, clock: FakeClock, stub: DiscordRestStub
) -> None:
    async with discord_bot_for(
        tmp_path, clock, stub, commands=COMMANDS, discord_members_intent=True
    ) as bot:
        cache_guild(bot)
        roster = bot.app.services.rosters["discord"]
        everyone = await roster.students(str(GUILD_ID), str(CHANNEL_ID))
        assert everyone == [
            Member(str(STUDENT_ID), "Ana"),
            Member(str(OTHER_ID), "Cyd"),
            Member(str(HIDDEN_ID), "Dan"),
        ]
        lab = await roster.students(str(GUILD_ID), str(PRIVATE_CHANNEL_ID))
        assert lab is not None and str(HIDDEN_ID) not in [m.user_id for m in lab]
        assert await roster.students(f"dm:{STUDENT_ID}", str(DM_CHANNEL_ID)) is None
    async with discord_bot_for(
        tmp_path,
        clock,
        stub,
        commands=COMMANDS,
        discord_members_intent=True,
        student_role="student",
    ) as bot:
        cache_guild(bot)
        students = await bot.app.services.rosters["discord"].students(
            str(GUILD_ID), str(CHANNEL_ID)
        )
        assert students == [Member(str(STUDENT_ID), "Ana"), Member(str(HIDDEN_ID), "Dan")]
