"""The Discord client: interactions in, replies out.

Answering an interaction (every slash command, button click and form submit):

1. The core starts at once; the adapter waits for its first reply for at most
   `FIRST_REPLY_BUDGET` (1 s, well inside Discord's 3 s).
2. A form (Modal) that arrives in time is the response itself (`send_modal`): Discord only
   opens a form as the first response, so it cannot come after a defer.
3. Otherwise the interaction is deferred (`thinking=True`). When the first reply is known,
   the defer is ephemeral exactly when that reply is private. When the command is slower,
   privacy is unknowable, so the defer is public; a private reply then deletes the public
   "thinking…" message and is sent as an ephemeral followup (Discord ignores the ephemeral
   flag on the first followup after a public defer, so deleting first is what keeps it
   private). A form that comes too late is shown as its text fallback.
4. Replies then go through the Conversation (messages.py): the first reply edits the
   deferred message, progress edits one message (at most every 2 s), later replies are
   followups, and after 15 minutes the result is posted to the channel with the bot token,
   mentioning only the requester.

Buttons and forms carry their command line as custom id and run as the user who clicked,
so they work after a restart; the views are never kept in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands

from adapters.discord.attachments import saved_attachment, uploaded_file
from adapters.discord.components import make_modal
from adapters.discord.messages import Conversation, DiscordOutbox, handle_for
from adapters.discord.render import NO_MENTIONS, clip
from adapters.discord.tree import install
from bot.app import App
from bot.attachments import Attachment
from bot.config import Settings
from bot.delivery import Destination, Member
from bot.errors import UsageError
from bot.identity import Actor, Role
from bot.inbox import Entry, Receipt, durable, inbox_of
from bot.replies import Error, Modal, Reply, Text, in_messages
from bot.router import RATE_LIMITED, Invocation

log = logging.getLogger(__name__)

PLATFORM = "discord"
FIRST_REPLY_BUDGET = 1.0
# How long a durable command waits to be saved before the adapter starts answering: with
# FIRST_REPLY_BUDGET after it, the defer still goes out well inside Discord's 3 s (the
# inbox's own patience, 2 s, is Slack's, which acknowledges first).
SAVE_PATIENCE = 1.0
# How long a stop waits for the interactions being answered (the rest replay after a restart).
STOP_GRACE = 10.0
# What a refused form quotes back of what was typed, within a message's 2,000 characters.
TYPED_BACK = 1500


class ClassbotClient(discord.Client):
    def __init__(
        self,
        app: App,
        *,
        sync: str | None = None,
        first_reply_budget: float = FIRST_REPLY_BUDGET,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = app.settings
        intents = discord.Intents.none()
        intents.guilds = True  # roles and channels, for instructor roles and the roster
        # Privileged ("Server Members Intent" in the Developer Portal); only the roster needs it.
        intents.members = settings.discord_members_intent
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS)
        self.app = app
        self.sync_target = sync
        self.first_reply_budget = first_reply_budget
        self.tree: app_commands.CommandTree[ClassbotClient] = app_commands.CommandTree(self)
        self.tree.error(self._on_tree_error)
        install(self.tree, app.router, self._on_command)
        self.answered = 0  # interactions fully answered (tests wait on it)
        self.outbox = DiscordOutbox(self, app.services.clock, monotonic)
        self.roster = DiscordRoster(self, settings)
        app.services.outboxes[PLATFORM] = self.outbox
        app.services.rosters[PLATFORM] = self.roster
        # A replayed command's file: its saved CDN URL (adapters/discord/attachments.py).
        app.services.attachments[PLATFORM] = saved_attachment
        self.inbox = inbox_of(app.services.store, app.services.clock)
        self._replaying: asyncio.Task[int] | None = None
        self._answering: set[asyncio.Task[Any]] = set()

    async def setup_hook(self) -> None:
        """After login (REST works, so replies can be delivered): sync, then start the app."""
        await sync_commands(self.tree, self.sync_target)
        await self.app.start()
        # What was acknowledged before a restart but never finished runs now, beside the
        # new interactions.
        self._replaying = asyncio.create_task(self.replay_saved())

    # -- interactions ---------------------------------------------------------------------

    async def _on_command(
        self, interaction: discord.Interaction, path: tuple[str, ...], options: dict[str, object]
    ) -> None:
        invocation = Invocation(
            path=path, options=options, actor=self.actor(interaction), handle=_handle(interaction)
        )
        await self._answer_saved(interaction, invocation)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # Slash commands and autocomplete go through the tree; buttons and forms are ours
        # when their custom id is a command line.
        data: Any = interaction.data or {}
        custom_id = str(data.get("custom_id", ""))
        if not custom_id.startswith("/"):
            return
        if (
            interaction.type is discord.InteractionType.component
            and data.get("component_type") == discord.ComponentType.button.value
        ):
            await self._run_line(interaction, custom_id, {})
        elif interaction.type is discord.InteractionType.modal_submit:
            uploaded = data.get("resolved", {}).get("attachments", {})
            fields = dict(_form_values(data.get("components", []), uploaded))
            await self._run_line(interaction, custom_id, fields)

    async def _run_line(
        self, interaction: discord.Interaction, line: str, fields: dict[str, str | Attachment]
    ) -> None:
        """A button's or form's command line, run as the user who clicked (form fields are
        options; blank ones are left out so declared defaults apply)."""
        try:
            invocation = self.app.router.parse(line, self.actor(interaction))
        except UsageError as error:
            await self.answer(interaction, _just(error.error))
            return
        given = {k: v for k, v in fields.items() if not isinstance(v, str) or v.strip()}
        options = {**invocation.options, **given}
        invocation = replace(invocation, options=options, handle=_handle(interaction))
        typed = [v for v in given.values() if isinstance(v, str)]
        wait = await self.app.router.rate_wait(invocation) if typed else 0.0
        if wait > 0:
            # A Discord form closes on submit: refused, what was typed would be lost.
            await self.answer(interaction, _just(_typed_back(typed, wait)))
            return
        await self._answer_saved(interaction, invocation)

    async def _answer_saved(self, interaction: discord.Interaction, invocation: Invocation) -> None:
        """Answer an invocation; a durable one is saved in the inbox before the first
        response and marked done once answered (bot/inbox.py)."""
        receipt: Receipt | None = None
        if durable(self.app.router, invocation):
            actor = invocation.actor
            destination = Destination(
                PLATFORM, actor.guild_id, actor.channel_id, actor.user_id, dict(invocation.handle)
            )
            request_id = f"interaction:{interaction.id}"
            receipt = await self.inbox.accept(
                PLATFORM, request_id, invocation, destination, patience=SAVE_PATIENCE
            )
            if receipt is None:
                log.info("interaction %s came again; it is already saved", interaction.id)
                return
        task = asyncio.current_task()
        if task is not None:
            self._answering.add(task)
        try:
            await self.answer(interaction, self.app.router.dispatch(invocation))
        finally:
            self._answering.discard(task)
        if receipt is not None:
            self.inbox.finish(receipt)

    async def close(self) -> None:
        """Stop: let the interactions being answered finish (up to STOP_GRACE seconds); a
        replay or an answer cut short stays in the inbox, and the next start runs it."""
        running = {t for t in self._answering if t is not asyncio.current_task()}
        if running:
            _, late = await asyncio.wait(running, timeout=STOP_GRACE)
            if late:
                log.warning("%d Discord interactions still running at shutdown", len(late))
        if self._replaying is not None and not self._replaying.done():
            self._replaying.cancel()
            await asyncio.gather(self._replaying, return_exceptions=True)
        await super().close()

    async def replay_saved(self) -> int:
        """Run the interactions saved before a restart that never finished: their replies
        go through the outbox (the interaction token while it lives, then the channel)."""
        try:
            return await self.inbox.replay(PLATFORM, self._replay)
        except Exception:
            log.exception("could not replay the saved Discord interactions")
            return 0

    async def _replay(self, entry: Entry) -> None:
        replies = self.app.router.dispatch(entry.invocation)
        async for placed in in_messages(replies, prefix=f"inbox:{entry.id}"):
            key = None if placed.alone else placed.key
            await self.outbox.send(entry.destination, placed.reply, key=key)

    async def answer(self, interaction: discord.Interaction, replies: AsyncIterator[Reply]) -> None:
        """Acknowledge within the deadline, then deliver every reply (module docstring)."""
        try:
            await self._answer(interaction, replies)
        except Exception:
            log.exception("answering interaction %s failed", interaction.id)
            if not interaction.response.is_done():
                with contextlib.suppress(discord.HTTPException):
                    await interaction.response.send_message(
                        "⚠️ Something went wrong on our side. Try again in a moment.",
                        ephemeral=True,
                    )
        finally:
            self.answered += 1

    async def _on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        # E.g. a command renamed since Discord's cached list was synced: answer rather than
        # leave "The application did not respond".
        log.warning("slash command not run: %s", error)
        if not interaction.response.is_done():
            await interaction.response.send_message(
                "⚠️ That command is not available right now (the command list may be out of"
                " date).\nType /help to see the commands, or try again in a minute.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )

    async def _answer(
        self, interaction: discord.Interaction, replies: AsyncIterator[Reply]
    ) -> None:
        first_task = asyncio.ensure_future(anext(replies, None))
        done, _ = await asyncio.wait({first_task}, timeout=self.first_reply_budget)
        first: Reply | None
        if done:
            first = first_task.result() or Text(text="Done.", private=True)
            # A form cannot answer a form submit, only a command or a click.
            can_open_form = interaction.type is not discord.InteractionType.modal_submit
            form = make_modal(first) if isinstance(first, Modal) and can_open_form else None
            if form is not None:
                await interaction.response.send_modal(form)
                # A form leaves no message to follow up: let the handler finish, say what
                # was dropped.
                async for extra in replies:
                    log.warning("reply after a form dropped: %r", type(extra).__name__)
                return
            conversation = self.outbox.open(interaction)
            await self._defer(interaction, conversation, private=first.private)
        else:
            conversation = self.outbox.open(interaction)
            await self._defer(interaction, conversation, private=False)
            first = await first_task or Text(text="Done.", private=True)
        # The core's grouping rule: progress, then its result, in one message.
        async for placed in in_messages(_after(first, replies)):
            await conversation.send(placed.reply, placed.key)

    async def _defer(
        self, interaction: discord.Interaction, conversation: Conversation, *, private: bool
    ) -> None:
        try:
            await interaction.response.defer(thinking=True, ephemeral=private)
            conversation.deferred(private=private)
        except discord.HTTPException as error:
            # Too late (the token died) or already answered: replies go to the channel.
            log.warning("could not defer interaction %s: %s", interaction.id, error)
            conversation.dead = True

    # -- who --------------------------------------------------------------------------------

    def actor(self, interaction: discord.Interaction) -> Actor:
        user = interaction.user
        guild = str(interaction.guild_id) if interaction.guild_id else f"dm:{user.id}"
        instructor = is_instructor(user, interaction.permissions, self.app.settings)
        return Actor(
            platform=PLATFORM,
            user_id=str(user.id),
            display_name=user.display_name,
            role=Role.INSTRUCTOR if instructor else Role.STUDENT,
            guild_id=guild,
            channel_id=str(interaction.channel_id or ""),
            parent_channel_id=str(getattr(interaction.channel, "parent_id", None) or ""),
        )


def is_instructor(
    user: discord.User | discord.Member, permissions: discord.Permissions, settings: Settings
) -> bool:
    """Listed in CLASSBOT_INSTRUCTORS, or (in a server) Manage Server or the instructor role."""
    if str(user.id) in settings.instructors:
        return True
    if not isinstance(user, discord.Member):
        return False
    if permissions.manage_guild or permissions.administrator:
        return True
    wanted = settings.instructor_role.casefold()
    return bool(wanted) and any(role.name.casefold() == wanted for role in user.roles)


class DiscordRoster:
    """The students of a server (services.rosters["discord"]).

    Needs the privileged Server Members intent (CLASSBOT_DISCORD_MEMBERS_INTENT=true, and
    the switch in the Developer Portal); without it the member list is unknown: None.
    """

    def __init__(self, client: discord.Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    async def students(self, guild_id: str, channel_id: str) -> list[Member] | None:
        if not self.client.intents.members or not guild_id.isdigit():
            return None
        guild = self.client.get_guild(int(guild_id))
        if guild is None:
            return None
        if not guild.chunked:
            await guild.chunk()
        channel = guild.get_channel_or_thread(int(channel_id)) if channel_id.isdigit() else None
        wanted = self.settings.student_role.casefold()
        students = []
        for member in guild.members:
            if member.bot or is_instructor(member, member.guild_permissions, self.settings):
                continue
            if wanted and not any(role.name.casefold() == wanted for role in member.roles):
                continue
            if channel is not None and not channel.permissions_for(member).view_channel:
                continue
            students.append(Member(user_id=str(member.id), display_name=member.display_name))
        return sorted(students, key=lambda m: m.display_name.casefold())


async def sync_commands(tree: app_commands.CommandTree[Any], target: str | None) -> None:
    """Register the tree: one guild (instant, for development) or global (production)."""
    if target is None:
        return
    if target == "global":
        synced = await tree.sync()
        log.info("synced %d global commands (may take up to an hour to appear)", len(synced))
        return
    guild = discord.Object(int(target))
    tree.copy_global_to(guild=guild)
    synced = await tree.sync(guild=guild)
    log.info("synced %d commands to guild %s", len(synced), target)


def _handle(interaction: discord.Interaction) -> dict[str, str]:
    return handle_for(interaction.application_id, interaction.token, interaction.created_at)


def _form_values(
    components: list[Any], uploaded: dict[str, Any]
) -> list[tuple[str, str | Attachment]]:
    """(custom id, value) of every input in a submitted form, however nested: a text
    input's text, a file upload's file (its attachment, from the interaction's resolved
    data)."""
    found: list[tuple[str, str | Attachment]] = []
    for component in components:
        if "components" in component:
            found += _form_values(component["components"], uploaded)
        elif "component" in component:  # a Label wrapping one input
            found += _form_values([component["component"]], uploaded)
        elif "custom_id" not in component:
            continue
        elif isinstance(component.get("value"), str):
            found.append((component["custom_id"], component["value"]))
        elif component.get("values") and str(component["values"][0]) in uploaded:
            found.append(
                (component["custom_id"], uploaded_file(uploaded[str(component["values"][0])]))
            )
    return found


def _typed_back(typed: list[str], wait: float) -> Error:
    """The rate limit's refusal of a form, with what was typed to paste into it again."""
    text = clip("\n".join(typed), TYPED_BACK)
    return Error(
        what=RATE_LIMITED,
        todo=f"Nothing was saved: press the button again in {math.ceil(wait)} s and paste"
        f" what you typed:\n{text}",
    )


async def _just(reply: Reply) -> AsyncIterator[Reply]:
    yield reply


async def _after(first: Reply, rest: AsyncIterator[Reply]) -> AsyncIterator[Reply]:
    yield first
    async for reply in rest:
        yield reply


__all__ = ["ClassbotClient", "DiscordRoster", "is_instructor", "sync_commands"]
