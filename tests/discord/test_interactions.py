"""Raw interactions through the real discord.py client; assertions on the HTTP it sends."""

from __future__ import annotations

import json

from bot.ratelimit import RateLimiter
from tests.discord.conftest import INSTRUCTOR_ID, STUDENT_ID, DiscordBot, user
from tests.discord.limits import embed_problems
from tests.discord.rest_stub import APP_ID, CHANNEL_ID, GUILD_ID

CALLBACK = r"/interactions/\d+/[^/]+/callback"
ORIGINAL = rf"/webhooks/{APP_ID}/[^/]+/messages/@original"
FOLLOWUP = rf"/webhooks/{APP_ID}/[^/]+"
EPHEMERAL = 64


def calls(bot: DiscordBot) -> list[tuple[str, str]]:
    """The interaction traffic as (method, kind) in order."""
    kinds = []
    for r in bot.stub.requests:
        if "/callback" in r.path:
            kinds.append((r.method, f"callback {r.json['type']}"))
        elif r.path.endswith("/@original"):
            kinds.append((r.method, "@original"))
        elif r.path.startswith("/webhooks/") and "/messages/" in r.path:
            kinds.append((r.method, "followup message"))
        elif r.path.startswith("/webhooks/"):
            kinds.append((r.method, "followup"))
        elif r.path.startswith("/channels/"):
            kinds.append((r.method, "channel"))
    return kinds


async def test_help_defers_then_edits_the_original_with_an_embed(discord_bot: DiscordBot) -> None:
    bot = discord_bot
    payload = bot.slash("help")
    await bot.interact(payload)
    defer, edit = [r for r in bot.stub.requests if r.method != "GET"]
    assert (defer.method, defer.path) == (
        "POST",
        f"/interactions/{payload['id']}/{payload['token']}/callback",
    )
    # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, public: /help is for everyone to read.
    assert defer.json == {"type": 5}
    assert (edit.method, edit.path) == (
        "PATCH",
        f"/webhooks/{APP_ID}/{payload['token']}/messages/@original",
    )
    (embed,) = edit.json["embeds"]
    assert embed["title"] == "classbot commands"
    names = [f["name"] for f in embed["fields"]]
    assert "/help" in names
    assert edit.json["allowed_mentions"] == {"parse": []}
    assert edit.json["content"] is None  # nothing of the placeholder stays
    assert not embed_problems(edit.json)


async def test_help_with_an_option_explains_that_command(discord_bot: DiscordBot) -> None:
    bot = discord_bot
    await bot.interact(bot.slash("help", command="help"))
    assert calls(bot)[-2:] == [("POST", "callback 5"), ("PATCH", "@original")]
    (edit,) = bot.stub.find("PATCH", ORIGINAL)
    (embed,) = edit.json["embeds"]
    assert embed["title"] == "/help"
    assert {"inline": False, "name": "Usage", "value": "/help [command]"} in embed["fields"]


async def test_an_error_is_ephemeral_from_the_defer_on(discord_bot: DiscordBot) -> None:
    bot = discord_bot
    await bot.interact(bot.slash("help", command="nosuch"))
    (defer,) = bot.stub.find("POST", CALLBACK)
    assert defer.json == {"type": 5, "data": {"flags": EPHEMERAL}}
    (edit,) = bot.stub.find("PATCH", ORIGINAL)
    content = edit.json["content"]
    assert "There is no /nosuch command." in content and "Type /help." in content


async def test_a_private_reply_known_in_time_gets_an_ephemeral_defer(test_bot: DiscordBot) -> None:
    await test_bot.interact(test_bot.slash("whisper", text="hi"))
    assert calls(test_bot)[-2:] == [("POST", "callback 5"), ("PATCH", "@original")]
    (defer,) = test_bot.stub.find("POST", CALLBACK)
    assert defer.json["data"]["flags"] == EPHEMERAL
    assert test_bot.stub.find("PATCH", ORIGINAL)[0].json["content"] == "psst hi"


async def test_a_slow_private_reply_never_shows_in_public(test_bot: DiscordBot) -> None:
    # Privacy is unknowable in time: public defer; Discord would keep the first followup
    # public, so the placeholder is deleted and the reply is a new ephemeral followup.
    await test_bot.interact(test_bot.slash("slowsecret"))
    assert calls(test_bot)[-3:] == [
        ("POST", "callback 5"),
        ("DELETE", "@original"),
        ("POST", "followup"),
    ]
    (defer,) = test_bot.stub.find("POST", CALLBACK)
    assert defer.json == {"type": 5}
    (followup,) = test_bot.stub.find("POST", FOLLOWUP)
    # Deferred once the 0.1 s budget ran out: well inside the 3 s deadline, while the
    # command (0.3 s) was still working.
    assert defer.at - test_bot.fed_at < 1.0
    assert followup.at - defer.at > 0.1
    assert followup.json["flags"] == EPHEMERAL
    assert followup.json["content"] == "a slow secret"
    assert followup.query.get("wait") in ("1", "true")


async def test_several_replies_edit_then_follow_up(test_bot: DiscordBot) -> None:
    await test_bot.interact(test_bot.slash("shout", text="hello"))
    assert calls(test_bot)[-4:] == [
        ("POST", "callback 5"),
        ("PATCH", "@original"),
        ("POST", "followup"),
        ("POST", "followup"),
    ]
    card, secret = test_bot.stub.find("POST", FOLLOWUP)
    assert card.json["embeds"][0]["title"] == "hello" and "flags" not in card.json
    assert secret.json["flags"] == EPHEMERAL


async def test_mentions_are_never_pinged(test_bot: DiscordBot) -> None:
    await test_bot.interact(test_bot.slash("shout", text="@everyone hi <@&123> <@456> @here"))
    bodies = test_bot.stub.bodies()
    assert len(bodies) == 3
    for body in bodies:
        assert body["allowed_mentions"] == {"parse": []}, body
    # The text itself is shown as typed, not turned into pings.
    assert "@everyone" in bodies[0]["content"]


async def test_progress_edits_one_message_at_most_every_2_seconds(test_bot: DiscordBot) -> None:
    await test_bot.interact(test_bot.slash("progress", steps=8))
    # 8 progress values 0.5 s apart: the first posts, then one edit per 2 s, then the
    # result always goes through, all in the original message.
    edits = test_bot.stub.find("PATCH", ORIGINAL) + test_bot.stub.find(
        "PATCH", rf"/webhooks/{APP_ID}/[^/]+/messages/\d+"
    )
    contents = [e.json["content"] for e in edits]
    # Step 1 posts at t=0; 2-4 (t<2 s) are dropped; 5 edits at t=2 s; 6-8 dropped; the
    # result always goes through.
    assert contents == ["▓░░░░░░░░░ 1/8 working", "▓▓▓▓▓▓░░░░ 5/8 working", "done"]
    assert not test_bot.stub.find("POST", FOLLOWUP)


async def test_a_button_runs_its_action_as_the_user_who_clicked(test_bot: DiscordBot) -> None:
    bot = test_bot
    await bot.interact(bot.slash("vote"))
    (edit,) = bot.stub.find("PATCH", ORIGINAL)
    buttons = edit.json["components"][0]["components"]
    assert [(b["label"], b["custom_id"], b["style"]) for b in buttons] == [
        ("Answer", "/form kind:quiz", 1),
        ("Who am I", "/whoami", 2),
    ]
    message = bot.stub.messages[bot.stub.original[_token(bot)]]
    bot.stub.clear()
    clicker = user(INSTRUCTOR_ID, "bea")
    await bot.interact(bot.click(message, "/whoami", who=clicker))
    assert calls(bot) == [("POST", "callback 5"), ("PATCH", "@original")]
    content = bot.stub.find("PATCH", ORIGINAL)[0].json["content"]
    assert content == f"discord {INSTRUCTOR_ID} Bea student {GUILD_ID} {CHANNEL_ID}"


async def test_a_button_that_opens_a_form_and_its_submit_round_trip(test_bot: DiscordBot) -> None:
    bot = test_bot
    await bot.interact(bot.slash("vote"))
    message = bot.stub.messages[bot.stub.original[_token(bot)]]
    bot.stub.clear()
    await bot.interact(bot.click(message, "/form kind:quiz"))
    # A form can only be the first response: no defer before it.
    (modal,) = bot.stub.requests
    assert modal.json["type"] == 9  # MODAL
    assert modal.json["data"]["custom_id"] == "/answer kind:quiz"
    assert modal.json["data"]["title"] == "Your answer (quiz)"
    inputs = [row["components"][0] for row in modal.json["data"]["components"]]
    assert [(i["custom_id"], i["style"], i["required"]) for i in inputs] == [
        ("text", 2, True),
        ("note", 1, False),
    ]
    bot.stub.clear()
    await bot.interact(bot.submit("/answer kind:quiz", {"text": "text generation", "note": ""}))
    assert calls(bot) == [("POST", "callback 5"), ("PATCH", "@original")]
    content = bot.stub.find("PATCH", ORIGINAL)[0].json["content"]
    # Blank optional fields take the declared default.
    assert content == "Ana answered quiz: text generation (no note)"


async def test_a_slash_command_can_open_a_form(test_bot: DiscordBot) -> None:
    await test_bot.interact(test_bot.slash("form", kind="exit"))
    (modal,) = [r for r in test_bot.stub.requests if r.method != "GET"]
    assert modal.json["type"] == 9 and modal.json["data"]["custom_id"] == "/answer kind:exit"


async def test_a_form_too_late_to_open_shows_how_to_answer_inline(test_bot: DiscordBot) -> None:
    await test_bot.interact(test_bot.slash("slowform"))
    assert calls(test_bot)[-3:] == [
        ("POST", "callback 5"),
        ("DELETE", "@original"),
        ("POST", "followup"),
    ]
    (followup,) = test_bot.stub.find("POST", FOLLOWUP)
    assert followup.json["content"] == "Type /answer kind:late text:<your answer>"
    assert followup.json["flags"] == EPHEMERAL


async def test_a_bad_button_action_is_a_private_error(test_bot: DiscordBot) -> None:
    await test_bot.interact(test_bot.slash("vote"))
    message = test_bot.stub.messages[test_bot.stub.original[_token(test_bot)]]
    test_bot.stub.clear()
    await test_bot.interact(test_bot.click(message, "/answer kind:quiz"))
    (defer,) = test_bot.stub.find("POST", CALLBACK)
    assert defer.json["data"]["flags"] == EPHEMERAL
    content = test_bot.stub.find("PATCH", ORIGINAL)[0].json["content"]
    assert "text is required" in content and "Usage: `/answer kind:<text> text:<text>" in content


async def test_students_cannot_run_instructor_commands(test_bot: DiscordBot) -> None:
    await test_bot.interact(test_bot.slash("admin"))
    content = test_bot.stub.find("PATCH", ORIGINAL)[0].json["content"]
    assert "/admin is for instructors." in content
    assert test_bot.stub.find("POST", CALLBACK)[0].json["data"]["flags"] == EPHEMERAL


async def test_a_stale_command_gets_an_answer(test_bot: DiscordBot) -> None:
    test_bot.feed(test_bot.slash("renamed"))
    await test_bot.until(lambda: bool(test_bot.stub.find("POST", CALLBACK)))
    (answer,) = test_bot.stub.find("POST", CALLBACK)
    assert answer.json["type"] == 4 and answer.json["data"]["flags"] == EPHEMERAL
    assert "Type /help" in answer.json["data"]["content"]


def _token(bot: DiscordBot) -> str:
    return next(iter(bot.stub.original))


async def test_a_defer_that_comes_too_late_posts_to_the_channel(test_bot: DiscordBot) -> None:
    payload = test_bot.slash("shout", text="hi")
    test_bot.stub.expire(payload["token"])  # e.g. the bot was stalled past 3 s
    await test_bot.interact(payload)
    channel = test_bot.stub.find("POST", rf"/channels/{CHANNEL_ID}/messages")
    assert [p.json.get("content") for p in channel] == [f"<@{STUDENT_ID}> hi", f"<@{STUDENT_ID}>"]
    assert channel[1].json["embeds"][0]["title"] == "hi"
    # The private reply cannot be ephemeral without the token: it goes to a DM.
    assert test_bot.stub.find("POST", "/users/@me/channels")


async def test_a_form_over_the_rate_limit_gives_back_what_was_typed(test_bot: DiscordBot) -> None:
    bot = test_bot
    bot.app.router.rate_limiter = RateLimiter(per_minute=20, burst=1, clock=lambda: 0.0)
    await bot.interact(bot.submit("/answer kind:quiz", {"text": "first", "note": ""}))
    bot.stub.clear()
    await bot.interact(bot.submit("/answer kind:quiz", {"text": "my long answer", "note": ""}))
    shown = json.dumps([r.json for r in bot.stub.requests])
    assert "faster than the class limit" in shown
    assert "Nothing was saved: press the button again in 3 s" in shown
    assert "my long answer" in shown and "Ana answered" not in shown
