"""/class: choices an instructor makes for the whole class."""

from __future__ import annotations

from bot.identity import Role
from bot.replies import Reply, Text
from bot.router import Command, Context, Option
from bot.share import VISIBILITIES


async def run(ctx: Context, replies: str | None) -> Reply:
    """Show or change how this class's exploration replies are seen.

    /class replies:private (the default): /search, /dataset, /generate and /imagine answers
    are seen by the student who asked, with a Share button to post one to the channel.
    /class replies:public: everyone sees every answer. Activities are always public.
    `/class public` and `/class private` say the same.
    """
    visibility = ctx.router.visibility
    if replies is not None:
        await visibility.choose(ctx.guild_pk, replies)
    public = await visibility.public(ctx.guild_pk)
    state = (
        "public: everyone in the channel sees them."
        if public
        else "private: only the student who asked sees them, with a Share button."
    )
    verb = "are now" if replies is not None else "are"
    return Text(text=f"Exploration replies {verb} {state}", private=True)


COMMAND = Command(
    name="class",
    handler=run,
    role=Role.INSTRUCTOR,
    options=(
        Option(
            "replies",
            str,
            "Who sees /search, /generate, ... answers",
            choices=VISIBILITIES,
            # `/class public` as people type it: the value, not stray text. And a student
            # who types it is told /class is for instructors, not "Unexpected text".
            rest=True,
        ),
    ),
    examples=("/class replies:public", "/class replies:private"),
)
