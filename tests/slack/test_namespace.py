"""Slack in a team workspace: commands under one namespace (one `/classbot` command, or a
prefix), written that way in every reply; exploration answers are ephemeral with Share."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.namespace import Namespace
from bot.replies import Card, Reply
from bot.router import Command, Context
from tests.slack.conftest import ADMIN, STUDENT
from tests.slack.harness import SlackWorld, sign, slack_world
from tests.slack.webapi_stub import SlackStub


async def explore(ctx: Context) -> Reply:
    """Looks a model up (a test exploration command)."""
    return Card(title="gpt2", description="137M parameters", footer="Next: /generate")


EXPLORE = Command(name="explore", handler=explore, exploration=True)


def _text(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False)


def _buttons(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SlackWorld]:
    stub = SlackStub(users={"U0STUDENT": STUDENT, "U0ADMIN": ADMIN})
    async with slack_world(tmp_path, extra_commands=[EXPLORE], stub=stub) as world:
        yield world


@pytest.fixture
async def prefixed(tmp_path: Path) -> AsyncIterator[SlackWorld]:
    async with slack_world(tmp_path, slack_prefix="hf-") as world:
        yield world


async def test_one_command_the_first_word_names_the_classbot_command(world: SlackWorld) -> None:
    assert world.adapter.namespace.slack_commands() == ["/classbot"]
    status, _, _ = await world.post(body := world.command_body("help", "search"), sign(body))
    assert status == 200
    await world.idle()
    shown = _text(world.stub.responds[-1].body)
    assert "/classbot search guess reveal" in shown and '"/search' not in shown


async def test_the_one_command_alone_shows_the_help(world: SlackWorld) -> None:
    body = world.command_body("help").replace("text=help", "text=")
    await world.post(body, sign(body))
    await world.idle()
    assert world.stub.responds[-1].body["text"] == "classbot commands"


async def test_slack_builtin_names_are_not_ours(world: SlackWorld) -> None:
    body = world.command_body("search").replace("command=%2Fclassbot", "command=%2Fsearch")
    status, _, _ = await world.post(body, sign(body))
    assert status == 404  # /search is Slack's own: no listener here
    await world.idle()
    assert world.stub.responds == []


async def test_a_prefix_gives_one_slack_command_each(prefixed: SlackWorld) -> None:
    assert "/hf-search" in prefixed.adapter.namespace.slack_commands()
    await prefixed.command("help", "activity submit")
    await prefixed.idle()
    shown = _text(prefixed.stub.responds[-1].body)
    assert "/hf-activity submit" in shown and "/activity" not in shown.replace("/hf-", "")
    await prefixed.command("help", "serch")
    await prefixed.idle()
    assert "Did you mean /hf-search?" in _text(prefixed.stub.responds[-1].body)


async def test_exploration_is_ephemeral_and_share_posts_it_in_channel(world: SlackWorld) -> None:
    await world.command("explore")
    await world.idle()
    (private,) = world.stub.responds
    assert private.body["response_type"] == "ephemeral"
    assert "Next: /classbot generate" in _text(private.body)  # written as typed here
    (share,) = _buttons(private.body)
    assert share["text"]["text"] == "Share" and share["value"].startswith("/share id:")
    await world.click(share, user="U0STUDENT", user_name="ana")
    await world.idle()
    shared = world.stub.responds[-1]
    assert shared.body["response_type"] == "in_channel"
    assert "137M parameters" in _text(shared.body) and "Shared by ana" in _text(shared.body)
    assert _buttons(shared.body) == []


async def test_someone_else_cannot_share_my_answer(world: SlackWorld) -> None:
    await world.command("explore")
    await world.idle()
    (share,) = _buttons(world.stub.responds[-1].body)
    await world.click(share, user="U0OTHER", user_name="ben")
    await world.idle()
    refused = world.stub.responds[-1]
    assert refused.body["response_type"] == "ephemeral"
    assert "Only the student who got that answer" in _text(refused.body)


@pytest.mark.parametrize(
    ("text", "typed"),
    [
        ("Type /help search.", "Type /classbot help search."),
        ("Usage: /search [text]", "Usage: /classbot search [text]"),
        ("(see /jobs)", "(see /classbot jobs)"),
        ("`/generate prompt:x`", "`/classbot generate prompt:x`"),
        ("https://huggingface.co/search?q=gpt", "https://huggingface.co/search?q=gpt"),
        ("/searching /nosuch a/search", "/searching /nosuch a/search"),
    ],
)
def test_replies_write_commands_as_typed_in_the_namespace(text: str, typed: str) -> None:
    namespace = Namespace(("help", "search", "jobs", "generate"), command="classbot")
    assert namespace.typed(text) == typed
    prefixed = Namespace(("help", "search", "jobs", "generate"), prefix="hf-")
    assert prefixed.typed("Type /help search.") == "Type /hf-help search."
    assert prefixed.to_line("/hf-search", "gpt neo") == "/search gpt neo"
    assert namespace.to_line("/classbot", "search gpt neo") == "/search gpt neo"
    assert namespace.to_line("/classbot", "") == "/help"
