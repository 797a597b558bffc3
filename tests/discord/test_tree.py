"""The app-command tree is generated from the router's declarations, every command of them."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from adapters.discord.tree import build_commands, offered
from bot.app import build_services
from bot.commands import all_commands
from bot.replies import Reply, Text
from bot.router import Command, Context, Option, Router
from bot.services import Services
from bot.store import Store
from tests.discord.conftest import OPTION_TYPES, DiscordBot, discord_bot_for, interaction
from tests.discord.rest_stub import GUILD_ID, DiscordRestStub
from tests.support.botdriver import FakeClock, settings_for_tests

NAME = re.compile(r"^[-_\w]{1,32}$")
MODELS = [f"org/model-{i:02d}" for i in range(40)]


async def _models(services: Services, prefix: str) -> list[str]:
    return [m for m in MODELS if prefix.lower() in m]


async def _echo(ctx: Context, **values: object) -> Reply:
    """Echo the options (a test command)."""
    return Text(text=repr(sorted(values.items())))


TASKS = tuple(f"task-{i:02d}" for i in range(30))  # more than Discord's 25 choices

RICH = [
    Command(
        name="echo",
        handler=_echo,
        options=(
            Option("prompt", str, "What to say " + "very " * 30, required=True, max_length=200),
            Option("steps", int, "How many", default=4, min_value=1, max_value=50),
            Option("scale", float, "How much", default=7.5, min_value=0.5, max_value=20),
            Option("loud", bool, "Shout"),
            Option("sort", str, "Order", default="likes", choices=("downloads", "likes")),
            Option("task", str, "A task", choices=TASKS),
            Option("model", str, "A model", complete=_models, max_length=100),
            Option("from", str, "A Python keyword as option name", max_length=100),
            Option("essay", str, "Longer than Discord allows", max_length=20_000),
        ),
    ),
    Command(
        name="class",
        description="A group",
        subcommands=(
            Command(
                name="post",
                handler=_echo,
                options=(Option("text", str, "Words", rest=True, max_length=100),),
            ),
            Command(name="list", handler=_echo),
        ),
    ),
]


def synced_payload(router: Router) -> list[dict[str, Any]]:
    """The JSON discord.py sends to Discord when it syncs the tree."""

    async def nothing(*_: object) -> None:
        return None

    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    for command in build_commands(router, nothing):
        tree.add_command(command)
    return [c.to_dict(tree) for c in tree.get_commands()]


def assert_tree_matches(router: Router, payload: list[dict[str, Any]]) -> None:
    by_name = {c["name"]: c for c in payload}
    assert list(by_name) == list(router.commands), "one Discord command per router command"
    assert len(payload) <= 100
    for path, declared in router.walk():
        top = by_name[path[0]]
        assert NAME.match(top["name"]) and 1 <= len(top["description"]) <= 100
        if len(path) == 2:
            subs = {o["name"]: o for o in top["options"]}
            assert len(subs) <= 25 and all(o["type"] == 1 for o in subs.values())
            found = subs[path[1]]
        else:
            found = top
        assert 1 <= len(found["description"]) <= 100, path
        assert found["description"] == declared.summary[:100] or found["description"].endswith("…")
        options = found.get("options", [])
        assert len(options) <= 25
        # Discord requires required options first.
        required = [o["required"] for o in options]
        assert required == sorted(required, reverse=True), path
        # A command with verbs offers their options too (the tree stays flat).
        shown = {o.name: o for o in offered(declared)}
        assert {o["name"] for o in options} == set(shown), path
        for sent in options:
            option = shown.get(sent["name"])
            assert option is not None
            assert NAME.match(sent["name"])
            assert sent["type"] == OPTION_TYPES[option.type], (path, option.name)
            assert sent["required"] is option.required, (path, option.name)
            assert 1 <= len(sent["description"]) <= 100
            assert sent["description"].startswith(option.description[:99].strip() or option.name)
            choices = [c["value"] for c in sent.get("choices") or []]
            if option.choices and len(option.choices) <= 25 and option.type is not bool:
                assert choices == list(option.choices), (path, option.name)
                assert not sent.get("autocomplete")
            else:
                assert not choices
                wants_complete = bool(option.choices) or option.complete is not None
                assert bool(sent.get("autocomplete")) is wants_complete, (path, option.name)
            if option.type in (int, float):
                low, high = option.min_value, option.max_value
                if option.type is int:
                    low = None if low is None else math.ceil(low)
                    high = None if high is None else math.floor(high)
                assert sent.get("min_value") == low, (path, option.name)
                assert sent.get("max_value") == high, (path, option.name)
            if option.type is str:
                expected = option.max_length if (option.max_length or 0) <= 6000 else None
                assert sent.get("max_length") == expected, (path, option.name)


async def test_every_declared_command_is_in_the_tree(tmp_path: Path) -> None:
    # The real declarations: commands added later are checked without touching this test.
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    router = Router(all_commands(), build_services(settings_for_tests(tmp_path), store)[0])
    assert_tree_matches(router, synced_payload(router))
    await store.close()


async def test_ranges_choices_autocomplete_and_groups_are_declared(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    router = Router(RICH, build_services(settings_for_tests(tmp_path), store)[0])
    payload = synced_payload(router)
    assert_tree_matches(router, payload)
    echo = {o["name"]: o for o in payload[0]["options"]}
    assert echo["prompt"]["required"] and echo["prompt"]["max_length"] == 200
    assert len(echo["prompt"]["description"]) == 100 and echo["prompt"]["description"][-1] == "…"
    assert (echo["steps"]["min_value"], echo["steps"]["max_value"]) == (1, 50)
    assert (echo["scale"]["min_value"], echo["scale"]["max_value"]) == (0.5, 20.0)
    assert echo["sort"]["choices"] == [
        {"name": "downloads", "value": "downloads"},
        {"name": "likes", "value": "likes"},
    ]
    assert echo["task"]["autocomplete"] and echo["model"]["autocomplete"]
    assert "max_length" not in echo["essay"]  # 20,000 > Discord's 6,000: the router checks
    group = payload[1]
    assert [o["name"] for o in group["options"]] == ["post", "list"]
    await store.close()


async def test_options_arrive_under_their_declared_names(
    tmp_path: Path, clock: FakeClock, stub: DiscordRestStub
) -> None:
    async with discord_bot_for(tmp_path, clock, stub, commands=RICH) as bot:
        await bot.interact(bot.slash("echo", prompt="hi", steps=3, **{"from": "x"}))
        (edit,) = stub.find("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")
        assert edit.json["content"] == repr(
            sorted(
                {
                    "prompt": "hi",
                    "steps": 3,
                    "scale": 7.5,
                    "loud": None,
                    "sort": "likes",
                    "task": None,
                    "model": None,
                    "from": "x",
                    "essay": None,
                }.items()
            )
        ).replace("_", "\\_")


async def _autocomplete(bot: DiscordBot, option: str, typed: str) -> list[dict[str, Any]]:
    data = {
        "id": "1700000000000000001",
        "name": "echo",
        "type": 1,
        "options": [{"name": option, "type": 3, "value": typed, "focused": True}],
    }
    bot.stub.clear()
    bot.feed(interaction(4, data, created=bot.clock()))
    await bot.until(lambda: bool(bot.stub.find("POST", r"/interactions/\d+/[^/]+/callback")))
    (answer,) = bot.stub.find("POST", r"/interactions/\d+/[^/]+/callback")
    assert answer.json["type"] == 8  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
    choices: list[dict[str, Any]] = answer.json["data"]["choices"]
    return choices


async def test_autocomplete_suggests_through_the_router_at_most_25(
    tmp_path: Path, clock: FakeClock, stub: DiscordRestStub
) -> None:
    async with discord_bot_for(tmp_path, clock, stub, commands=RICH) as bot:
        everything = await _autocomplete(bot, "model", "")
        assert [c["value"] for c in everything] == MODELS[:25]
        narrowed = await _autocomplete(bot, "model", "model-3")
        assert [c["value"] for c in narrowed] == [m for m in MODELS if "model-3" in m]
        # More than 25 declared choices are suggested by prefix instead.
        tasks = await _autocomplete(bot, "task", "task-2")
        assert [c["value"] for c in tasks] == [t for t in TASKS if t.startswith("task-2")]


async def test_sync_to_one_guild_sends_the_tree(
    tmp_path: Path, clock: FakeClock, stub: DiscordRestStub
) -> None:
    from adapters.discord.client import ClassbotClient
    from bot.app import create_app

    app = await create_app(settings_for_tests(tmp_path), clock=clock)
    app.background.clear()  # no job workers: this is about syncing
    client = ClassbotClient(app, sync=str(GUILD_ID))
    try:
        await client.login("test-token")
        (put,) = stub.find("PUT", rf"/applications/\d+/guilds/{GUILD_ID}/commands")
        assert [c["name"] for c in put.json] == list(app.router.commands)
        assert_tree_matches(app.router, put.json)
        assert not stub.find("PUT", r"/applications/\d+/commands")
        assert app.started  # the app starts once replies can be delivered
    finally:
        await client.close()
        await app.close()


async def test_sync_global(tmp_path: Path, clock: FakeClock, stub: DiscordRestStub) -> None:
    from adapters.discord.client import ClassbotClient
    from bot.app import create_app

    app = await create_app(settings_for_tests(tmp_path), clock=clock)
    app.background.clear()
    client = ClassbotClient(app, sync="global")
    try:
        await client.login("test-token")
        (put,) = stub.find("PUT", r"/applications/\d+/commands")
        assert_tree_matches(app.router, put.json)
    finally:
        await client.close()
        await app.close()
