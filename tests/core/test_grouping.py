"""The rule that groups one command's replies into chat messages (bot.replies.in_messages),
which the Discord and Slack adapters both follow."""

from __future__ import annotations

from collections.abc import AsyncIterator

from bot.replies import Placed, Progress, Reply, Text, in_messages


async def _replies(*items: Reply) -> AsyncIterator[Reply]:
    for item in items:
        yield item


async def placed(*items: Reply, prefix: str = "reply") -> list[tuple[str, str, bool]]:
    found: list[Placed] = [p async for p in in_messages(_replies(*items), prefix)]
    assert [p.reply for p in found] == list(items)
    return [(_name(p.reply), p.key, p.alone) for p in found]


def _name(reply: Reply) -> str:
    return reply.text if isinstance(reply, Text) else f"step {getattr(reply, 'step', '?')}"


def step(n: int) -> Progress:
    return Progress(step=n, total=3)


async def test_progress_and_its_result_share_one_message() -> None:
    assert await placed(step(1), step(2), Text(text="done")) == [
        ("step 1", "reply:0", False),
        ("step 2", "reply:0", False),
        ("done", "reply:0", False),
    ]


async def test_every_other_reply_is_a_message_of_its_own() -> None:
    assert await placed(Text(text="card"), Text(text="file"), prefix="req:ab") == [
        ("card", "req:ab:0", True),
        ("file", "req:ab:1", True),
    ]


async def test_a_result_then_new_progress_opens_a_new_message() -> None:
    assert await placed(Text(text="queued"), step(1), Text(text="image"), Text(text="note")) == [
        ("queued", "reply:0", True),
        ("step 1", "reply:1", False),
        ("image", "reply:1", False),
        ("note", "reply:2", True),
    ]


async def test_progress_left_open_stays_one_message() -> None:
    assert await placed(step(1), step(2)) == [
        ("step 1", "reply:0", False),
        ("step 2", "reply:0", False),
    ]
