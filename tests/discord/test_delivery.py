"""The Outbox: later replies (job results) in place while the token lives, then the channel."""

from __future__ import annotations

from typing import Any

from adapters.discord.messages import DiscordOutbox
from bot.delivery import Destination
from bot.replies import Progress, Text
from tests.discord.commands import DESTINATIONS
from tests.discord.conftest import STUDENT_ID, DiscordBot
from tests.discord.rest_stub import APP_ID, CHANNEL_ID, _json

FOLLOWUP = rf"/webhooks/{APP_ID}/[^/]+"
FOLLOWUP_EDIT = rf"/webhooks/{APP_ID}/[^/]+/messages/\d+"
CHANNEL_POST = rf"/channels/{CHANNEL_ID}/messages"


async def queued(bot: DiscordBot) -> Destination:
    await bot.interact(bot.slash("queue"))
    (destination,) = DESTINATIONS
    assert bot.app.services.outboxes["discord"] is bot.client.outbox
    # It is stored as JSON with the job: the handle must survive the round trip.
    return Destination.from_json(destination.to_json())


async def test_the_destination_holds_the_interaction_handle(test_bot: DiscordBot) -> None:
    destination = await queued(test_bot)
    assert destination.platform == "discord"
    assert destination.channel_id == str(CHANNEL_ID) and destination.user_id == str(STUDENT_ID)
    assert destination.handle["application_id"] == str(APP_ID)
    assert destination.handle["token"].startswith("token-")
    assert destination.handle["created_at"] == test_bot.clock().isoformat()


async def test_a_job_result_replaces_its_progress_message(test_bot: DiscordBot) -> None:
    bot = test_bot
    destination = await queued(bot)
    outbox = bot.app.services.outboxes["discord"]
    bot.stub.clear()
    await outbox.send(destination, Progress(step=1, total=4, label="denoising"), key="job:1")
    await outbox.send(destination, Progress(step=2, total=4), key="job:1")  # within 2 s: dropped
    bot.ticks[0] += 2.5
    await outbox.send(destination, Progress(step=3, total=4), key="job:1")
    await outbox.send(destination, Text(text="the result"), key="job:1")  # always goes
    (post,) = bot.stub.find("POST", FOLLOWUP)
    assert post.query.get("wait") in ("1", "true")  # to learn the message id to edit
    assert "1/4 denoising" in post.json["content"]
    edits = bot.stub.find("PATCH", FOLLOWUP_EDIT)
    assert [e.json["content"] for e in edits] == ["▓▓▓▓▓▓▓▓░░ 3/4", "the result"]
    assert len({e.path for e in edits}) == 1  # one message, edited in place
    assert not bot.stub.find("POST", CHANNEL_POST)


async def test_after_15_minutes_the_result_is_posted_to_the_channel(test_bot: DiscordBot) -> None:
    bot = test_bot
    destination = await queued(bot)
    outbox = bot.app.services.outboxes["discord"]
    await outbox.send(destination, Progress(step=1, total=4), key="job:1")
    assert len(bot.stub.find("POST", FOLLOWUP)) == 1
    progress_id = next(i for i, m in bot.stub.messages.items() if "1/4" in m["content"])
    bot.clock.advance(minutes=16)
    bot.stub.clear()
    await outbox.send(destination, Progress(step=3, total=4), key="job:1")
    assert bot.stub.requests == []  # late progress is not worth a new message or a ping
    await outbox.send(destination, Text(text="@everyone look: done"), key="job:1")
    assert [(r.method, r.path) for r in bot.stub.requests] == [
        ("DELETE", f"/channels/{CHANNEL_ID}/messages/{progress_id}"),  # the stale progress
        ("POST", CHANNEL_POST),
    ]
    post = bot.stub.requests[-1]
    assert post.authorization == "Bot test-token"  # the bot token, not the dead webhook
    assert post.json["content"] == f"<@{STUDENT_ID}> @everyone look: done"
    # Only the requester is pinged; @everyone in the text is not.
    assert post.json["allowed_mentions"] == {"parse": [], "users": [STUDENT_ID]}


async def test_a_token_that_died_early_falls_back_to_the_channel(test_bot: DiscordBot) -> None:
    bot = test_bot
    destination = await queued(bot)
    bot.stub.expire(destination.handle["token"])
    bot.stub.clear()
    await bot.client.outbox.send(destination, Text(text="result"), key="job:2")
    assert [(r.method, r.path) for r in bot.stub.requests] == [
        ("POST", f"/webhooks/{APP_ID}/{destination.handle['token']}"),
        ("POST", CHANNEL_POST),
    ]
    assert bot.stub.requests[-1].json["content"] == f"<@{STUDENT_ID}> result"


async def test_a_private_late_reply_goes_to_a_direct_message(test_bot: DiscordBot) -> None:
    bot = test_bot
    destination = await queued(bot)
    bot.clock.advance(minutes=20)
    bot.stub.clear()
    await bot.client.outbox.send(destination, Text(text="only for you", private=True))
    (dm,) = bot.stub.find("POST", "/users/@me/channels")
    assert dm.json == {"recipient_id": STUDENT_ID}
    posts = bot.stub.find("POST", r"/channels/\d+/messages")
    assert len(posts) == 1 and posts[0].path != CHANNEL_POST
    assert posts[0].json["content"] == "only for you"
    assert posts[0].json["allowed_mentions"] == {"parse": []}


async def test_a_private_late_result_to_closed_direct_messages_is_announced(
    test_bot: DiscordBot,
) -> None:
    bot = test_bot
    destination = await queued(bot)
    create = bot.stub._create

    def dms_closed(channel_id: int, seen: Any) -> Any:
        if channel_id != CHANNEL_ID:  # the DM channel: "Allow DMs from server members" off
            return _json({"message": "Cannot send messages to this user", "code": 50007}, 403)
        return create(channel_id, seen)

    bot.stub._create = dms_closed  # type: ignore[method-assign]
    bot.clock.advance(minutes=20)
    bot.stub.clear()
    await bot.client.outbox.send(destination, Text(text="your image", private=True), key="job:7")
    (note,) = bot.stub.find("POST", CHANNEL_POST)
    assert note.json["content"] == (
        f"<@{STUDENT_ID}> your result is ready, but it is private and your direct messages are"
        " closed. Type /share job:7 to post it here, or allow direct messages from this"
        " server's members."
    )
    assert "your image" not in str(note.json)  # the private result stays private
    assert note.json["allowed_mentions"]["users"] == [STUDENT_ID]


async def test_a_result_after_a_restart_uses_the_stored_handle(test_bot: DiscordBot) -> None:
    # A destination this process never saw (stored by the bot before a restart).
    bot = test_bot
    destination = Destination(
        platform="discord",
        guild_id="1",
        channel_id=str(CHANNEL_ID),
        user_id=str(STUDENT_ID),
        handle={
            "application_id": str(APP_ID),
            "token": "token-from-before",
            "created_at": bot.clock().isoformat(),
        },
    )
    await bot.client.outbox.send(destination, Progress(step=1, total=2), key="job:9")
    bot.ticks[0] += 3
    await bot.client.outbox.send(destination, Text(text="done", private=False), key="job:9")
    await bot.client.outbox.send(destination, Text(text="just you", private=True), key="job:10")
    post, private = bot.stub.find("POST", rf"/webhooks/{APP_ID}/token-from-before")
    (edit,) = bot.stub.find("PATCH", rf"/webhooks/{APP_ID}/token-from-before/messages/\d+")
    assert edit.json["content"] == "done" and "flags" not in post.json
    assert private.json["flags"] == 64 and private.json["content"] == "just you"


async def test_a_destination_without_a_token_posts_to_the_channel(test_bot: DiscordBot) -> None:
    destination = Destination("discord", "1", str(CHANNEL_ID), str(STUDENT_ID))
    await test_bot.client.outbox.send(destination, Text(text="reminder"))
    (post,) = test_bot.stub.find("POST", CHANNEL_POST)
    assert post.json["content"] == f"<@{STUDENT_ID}> reminder"


async def test_every_body_that_echoes_text_suppresses_mentions(test_bot: DiscordBot) -> None:
    bot = test_bot
    destination = await queued(bot)
    await bot.interact(bot.slash("shout", text="@everyone @here"))
    await bot.client.outbox.send(destination, Text(text="@everyone"), key="a")
    bot.clock.advance(minutes=16)
    await bot.client.outbox.send(destination, Text(text="@everyone"), key="b")
    bodies = bot.stub.bodies()
    assert len(bodies) >= 6
    for body in bodies:
        assert body["allowed_mentions"]["parse"] == [], body
        assert body["allowed_mentions"].get("users", [STUDENT_ID]) == [STUDENT_ID]


def _late_destination(bot: DiscordBot) -> Destination:
    """A job's destination whose interaction token has expired: results are new messages."""
    created = bot.clock()
    bot.clock.advance(minutes=20)
    return Destination(
        platform="discord",
        guild_id="1",
        channel_id=str(CHANNEL_ID),
        user_id=str(STUDENT_ID),
        handle={
            "application_id": str(APP_ID),
            "token": "token-long-ago",
            "created_at": created.isoformat(),
        },
    )


async def test_a_result_sent_again_by_another_process_is_one_message(test_bot: DiscordBot) -> None:
    # A bot killed between sending a result and recording it: the next bot (a fresh outbox,
    # no memory of the first message) sends it again under the same key.
    bot = test_bot
    destination = _late_destination(bot)
    before = DiscordOutbox(bot.client, bot.clock)
    after = DiscordOutbox(bot.client, bot.clock)
    await before.send(destination, Text(text="the result"), key="job:7")
    await after.send(destination, Text(text="the result"), key="job:7")
    first, second = bot.stub.find("POST", CHANNEL_POST)
    assert first.json["nonce"] == second.json["nonce"] and first.json["enforce_nonce"] is True
    assert len(first.json["nonce"]) <= 25  # Discord's limit
    posted = [m for m in bot.stub.messages.values() if "the result" in m["content"]]
    assert len(posted) == 1
    # Another job's result in the same channel is its own message.
    await after.send(destination, Text(text="job 8's result"), key="job:8")
    third = bot.stub.find("POST", CHANNEL_POST)[-1]
    assert third.json["nonce"] != first.json["nonce"]
    assert len([m for m in bot.stub.messages.values() if "result" in m["content"]]) == 2


async def test_the_nonce_keeps_a_private_result_to_one_direct_message(
    test_bot: DiscordBot,
) -> None:
    bot = test_bot
    destination = _late_destination(bot)
    for outbox in (DiscordOutbox(bot.client, bot.clock), DiscordOutbox(bot.client, bot.clock)):
        await outbox.send(destination, Text(text="just for you", private=True), key="job:3")
    posts = bot.stub.find("POST", r"/channels/\d+/messages")
    assert len(posts) == 2 and posts[0].json["nonce"] == posts[1].json["nonce"]
    assert len([m for m in bot.stub.messages.values() if m["content"] == "just for you"]) == 1


async def test_replies_without_a_key_are_never_taken_for_each_other(test_bot: DiscordBot) -> None:
    # Reminders and closing messages have no stable key: their counters restart with each
    # process, so they must not share a nonce with a message sent before a restart.
    bot = test_bot
    destination = Destination("discord", "1", str(CHANNEL_ID), str(STUDENT_ID))
    for outbox in (DiscordOutbox(bot.client, bot.clock), DiscordOutbox(bot.client, bot.clock)):
        await outbox.send(destination, Text(text="5 minutes left"))
    first, second = bot.stub.find("POST", CHANNEL_POST)
    assert first.json["nonce"] != second.json["nonce"]
    assert len([m for m in bot.stub.messages.values() if "minutes left" in m["content"]]) == 2


async def test_past_the_window_the_same_nonce_makes_a_new_message(test_bot: DiscordBot) -> None:
    # The stand-in forgets a nonce after its window, as Discord does after a few minutes.
    bot = test_bot
    destination = _late_destination(bot)
    await DiscordOutbox(bot.client, bot.clock).send(destination, Text(text="late"), key="job:5")
    bot.stub.nonce_window = 0.0
    await DiscordOutbox(bot.client, bot.clock).send(destination, Text(text="late"), key="job:5")
    assert len([m for m in bot.stub.messages.values() if "late" in m["content"]]) == 2
