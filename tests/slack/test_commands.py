"""The Bolt app over HTTP on loopback, fed signed requests, against the Web API stand-in."""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

from sqlalchemy import select

from adapters.slack import render
from bot.activities.scheduler import ActivityScheduler
from bot.commands import all_commands
from bot.ratelimit import RateLimiter
from bot.store.models import Submission
from tests.slack.commands import PNG
from tests.slack.harness import CHANNEL, SECRET, SlackWorld, sign


def _all_text(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False)


def _buttons(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def test_every_command_acks_at_once_then_answers_at_its_response_url(
    world: SlackWorld,
) -> None:
    # The real commands (whatever exists today): each answers an empty line at its URL.
    names = [command.name for command in all_commands()]
    assert "help" in names
    urls = {}
    for name in names:
        url = world.stub.response_url()
        urls[name] = url.rsplit("/", 1)[1]
        body = world.command_body(name, "", response_url=url)
        status, text, seconds = await world.post(body, sign(body))
        assert status == 200, (name, text)
        assert seconds < 1.0, f"/{name} took {seconds:.3f} s to ack"
    await world.idle()
    answered = {r.url_id for r in world.stub.responds}
    assert set(urls.values()) <= answered, "every command answers through its response_url"


async def test_text_after_the_command_is_parsed_like_the_console(world: SlackWorld) -> None:
    status, _ = await world.command("help", "help")
    assert status == 200
    await world.idle()
    (answer,) = world.stub.responds
    assert answer.body["response_type"] == "in_channel"
    assert answer.body["replace_original"] is False
    assert answer.body["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "/classbot help", "emoji": True},
    }
    # Help is written as students type it here: under the workspace's /classbot command.
    assert "*Usage*\\n/classbot help [command]" in _all_text(answer.body)


async def test_curly_quotes_and_slack_entities_reach_the_router_as_typed(
    world: SlackWorld,
) -> None:
    # Slack sends & < > as entities and may curl the quotes.
    await world.command("quiz", "answer round:3 answer:“a &lt; b &amp; c”")
    await world.idle()
    text = world.stub.responds[-1].body["blocks"][0]["text"]["text"]
    assert text.endswith("answered round 3: a &lt; b &amp; c")


async def test_a_link_in_slack_markup_reaches_the_router_as_its_address(
    world: SlackWorld,
) -> None:
    # With escaping on (or from some clients), a pasted address arrives wrapped as
    # <url> or <url|what was shown>; the router gets the address, typed text around it too.
    await world.command("echo", "see <https://hf.co/models?a=1&amp;b=2|hf.co/models> &lt;x&gt;")
    await world.command("echo", "<https://huggingface.co/gpt2>")
    await world.idle()
    said = [r.body["blocks"][0]["text"]["text"] for r in world.stub.responds]
    assert said == ["see https://hf.co/models?a=1&amp;b=2 &lt;x&gt;", "https://huggingface.co/gpt2"]


async def test_mentions_in_replies_are_escaped_and_never_parsed(world: SlackWorld) -> None:
    typed = "&lt;!channel&gt; &lt;@U0TEACH&gt; &lt;#C0CLASS&gt; @here and @everyone"
    await world.command("echo", typed)
    await world.idle()
    (answer,) = world.stub.responds
    raw = _all_text(answer.body)
    for live in ("<!channel>", "<@U0TEACH>", "<#C0CLASS>", "@here", "@everyone"):
        assert live not in raw
    section = answer.body["blocks"][0]["text"]
    assert section["verbatim"] is True
    assert section["text"] == (
        "&lt;!channel&gt; &lt;@U0TEACH&gt; &lt;#C0CLASS&gt; @\u200bhere and @\u200beveryone"
    )


async def test_a_bad_or_stale_signature_gets_401_and_runs_nothing(world: SlackWorld) -> None:
    body = world.command_body("echo", "hi")
    status, _, _ = await world.post(body, sign(body, secret="not-the-secret"))
    assert status == 401
    status, _, _ = await world.post(body, sign(body, timestamp=time.time() - 600))
    assert status == 401
    tampered = body.replace("hi", "bye")
    status, _, _ = await world.post(tampered, sign(body))
    assert status == 401
    await world.idle()
    assert world.stub.calls == [] and world.stub.responds == []
    status, _, _ = await world.post(body, sign(body, secret=SECRET))
    assert status == 200


async def test_errors_are_ephemeral(world: SlackWorld) -> None:
    await world.command("help", "hepl")
    await world.idle()
    status, _ = await world.command("quiz", "answer round:x")
    assert status == 200
    await world.idle()
    first, second = world.stub.responds
    assert first.body["response_type"] == "ephemeral"
    assert "Did you mean /classbot help?" in _all_text(first.body)
    assert second.body["response_type"] == "ephemeral"
    assert "Usage: `/classbot quiz answer" in _all_text(second.body)


async def test_progress_is_one_message_then_the_image_is_uploaded_v2(world: SlackWorld) -> None:
    await world.command("draw", "steps:4")
    await world.idle()
    progress, final = world.stub.responds
    assert "1/4 drawing" in progress.body["text"]
    assert progress.body["replace_original"] is False
    # Steps 2-4 came within 2 s of step 1: throttled. The result replaces the progress.
    assert final.body["replace_original"] is True
    assert final.body["blocks"][0]["text"]["text"] == "a red fox &lt;!here&gt;"
    (reroll,) = _buttons(final.body)
    assert reroll["value"] == "/draw steps:1"
    methods = [m for m in world.stub.methods() if m.startswith("files.")]
    assert methods == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    (url_call,) = world.stub.of("files.getUploadURLExternal")
    assert url_call.params["filename"] == "fox.png"
    assert int(url_call.params["length"]) == len(PNG)
    assert url_call.params["alt_txt"] == "a fox"
    (upload,) = world.stub.uploads
    assert (
        upload.data == PNG
        and upload.file_id
        == json.loads(world.stub.of("files.completeUploadExternal")[0].params["files"])[0]["id"]
    )
    (complete,) = world.stub.of("files.completeUploadExternal")
    assert complete.params["channel_id"] == CHANNEL
    assert "initial_comment" not in complete.params  # the caption is in the message above


async def test_slow_progress_is_edited_in_place_and_leaves_the_last_use_to_the_result(
    world: SlackWorld,
) -> None:
    world.adapter.outbox.progress_interval = 0.05
    await world.command("draw", "steps:6 pause:0.08")
    await world.idle()
    kinds = [r.body["replace_original"] for r in world.stub.responds]
    # Progress 1 (new), 2-4 (edits); 5 and 6 would spend the last of the response_url's
    # 5 uses: skipped. The result replaces the message with the 5th.
    assert kinds == [False, True, True, True, True]
    assert "4/6" in world.stub.responds[3].body["text"]
    assert world.stub.responds[4].body["blocks"][0]["text"]["text"].startswith("a red fox")
    assert "chat.postMessage" not in world.stub.methods()


async def test_a_private_file_goes_to_the_requesters_dm(world: SlackWorld) -> None:
    await world.command("secret")
    await world.idle()
    (opened,) = world.stub.of("conversations.open")
    assert opened.params["users"] == "U0STUDENT"
    (complete,) = world.stub.of("files.completeUploadExternal")
    assert complete.params["channel_id"] == "DU0STUDENT"
    assert complete.params["initial_comment"] == "only yours"


async def test_long_cards_are_split_within_block_kit_limits(world: SlackWorld) -> None:
    await world.command("big", "fields:120 size:2500")
    await world.idle()
    bodies = [r.body for r in world.stub.responds]
    assert 1 < len(bodies) <= render.MAX_MESSAGES
    for body in bodies:
        blocks = body["blocks"]
        assert 0 < len(blocks) <= 50
        for block in blocks:
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= 150
            if block["type"] == "section":
                assert "text" in block or "fields" in block
                if "text" in block:
                    assert 0 < len(block["text"]["text"]) <= 3000
                fields = block.get("fields", [])
                assert len(fields) <= 10
                assert all(len(f["text"]) <= 2000 for f in fields)
    header = bodies[0]["blocks"][0]["text"]["text"]
    assert header.endswith("…")
    cut_fields = [f["text"] for b in bodies for s in b["blocks"] for f in s.get("fields", [])]
    assert cut_fields and all(f.endswith("…") for f in cut_fields)
    # The reply was longer than 5 messages: the cut is said, and the buttons still come.
    assert "more message(s) of this reply not shown" in _all_text(bodies[-1])
    assert _buttons(bodies[-1])[0]["value"] == "/help"
    # The first four went by the response_url; the fifth (its last use) too; no edits.
    assert [r.body["replace_original"] for r in world.stub.responds] == [False] * len(bodies)


async def test_tables_are_code_blocks_split_at_3000(world: SlackWorld) -> None:
    await world.command("table", "rows:300")
    await world.idle()
    code = [
        b["text"]["text"]
        for r in world.stub.responds
        for b in r.body["blocks"]
        if b["type"] == "section" and b["text"]["text"].startswith("```")
    ]
    assert len(code) > 3
    assert all(len(c) <= 3000 and c.endswith("```") for c in code)
    rows = [
        line
        for c in code
        for line in c.splitlines()
        if line.startswith("student ") and "answer" not in line
    ]
    assert len(rows) == 300  # split between rows, none lost
    assert "a &lt;b&gt; &amp; c" in rows[0]


async def test_a_button_opens_a_modal_whose_submission_runs_as_the_clicker(
    world: SlackWorld,
) -> None:
    await world.command("quiz", "start")
    await world.idle()
    buttons = _buttons(world.stub.responds[-1].body)
    assert [b["action_id"] for b in buttons] == ["classbot:0", "classbot:1"]
    assert buttons[0]["value"] == "/quiz form round:7" and buttons[0]["style"] == "primary"

    status, text = await world.click(buttons[0], user="U0OTHER", user_name="ben")
    assert (status, text) == (200, "")
    await world.idle()
    (opened,) = world.stub.of("views.open")
    assert opened.params["trigger_id"].startswith("trigger-")
    view = opened.params["view"]
    assert len(view["title"]["text"]) <= 24 and view["title"]["text"].endswith("…")
    meta = json.loads(view["private_metadata"])
    assert meta["action"] == "/quiz answer round:7" and meta["channel"] == CHANNEL
    answer_input = view["blocks"][0]
    assert answer_input["element"]["max_length"] == 50 and answer_input["optional"] is False

    before = len(world.stub.responds)
    status, text = await world.submit(view, {"answer": "splits text into tokens"})
    assert (status, text) == (200, "")
    await world.idle()
    (reply,) = world.stub.responds[before:]
    assert reply.url_id == meta["response_url"].rsplit("/", 1)[1]
    assert reply.body["replace_original"] is False  # never replaces the clicked message
    assert reply.body["blocks"][0]["text"]["text"] == (
        "ben (student, U0OTHER) answered round 7: splits text into tokens"
    )


async def test_a_bad_modal_answer_keeps_the_modal_open_with_the_error(world: SlackWorld) -> None:
    await world.command("quiz", "form round:2")
    await world.idle()
    (opened,) = world.stub.of("views.open")
    world.stub.reset()
    status, text = await world.submit(opened.params["view"], {"answer": "x" * 60})
    assert status == 200
    answer = json.loads(text)
    assert answer["response_action"] == "errors"
    assert "50" in answer["errors"]["answer"]
    await world.idle()
    assert world.stub.calls == [] and world.stub.responds == []


async def test_a_modal_answer_of_spaces_keeps_the_modal_open(world: SlackWorld) -> None:
    await world.command("quiz", "form round:2")
    await world.idle()
    (opened,) = world.stub.of("views.open")
    world.stub.reset()
    status, text = await world.submit(opened.params["view"], {"answer": "  \n "})
    assert status == 200
    assert json.loads(text) == {
        "response_action": "errors",
        "errors": {"answer": "This is empty: type something here."},
    }
    await world.idle()
    assert world.stub.calls == [] and world.stub.responds == []


async def test_a_click_runs_the_button_command_as_the_clicking_user(world: SlackWorld) -> None:
    await world.command("quiz", "start")
    await world.idle()
    skip = _buttons(world.stub.responds[-1].body)[1]
    await world.click(skip, user="U0ADMIN", user_name="root")
    await world.idle()
    reply = world.stub.responds[-1]
    assert reply.body["blocks"][0]["text"]["text"] == "root skipped."
    assert reply.body["replace_original"] is False


async def test_instructors_by_setting_or_as_workspace_admins(world: SlackWorld) -> None:
    for user in ("U0TEACH", "U0ADMIN", "U0STUDENT", "U0ADMIN"):
        await world.command("quiz", "answer round:1 answer:x", user=user, user_name=user.lower())
    await world.idle()
    texts = sorted(r.body["blocks"][0]["text"]["text"] for r in world.stub.responds)
    assert [t.split(" answered")[0] for t in texts] == [
        "u0admin (instructor, U0ADMIN)",
        "u0admin (instructor, U0ADMIN)",
        "u0student (student, U0STUDENT)",
        "u0teach (instructor, U0TEACH)",
    ]
    looked_up = [c.params["user"] for c in world.stub.of("users.info")]
    assert sorted(looked_up) == ["U0ADMIN", "U0STUDENT"]  # listed: no call; cached after


async def test_the_bot_token_is_used_for_web_api_calls(world: SlackWorld) -> None:
    await world.command("secret")
    await world.idle()
    assert {c.token for c in world.stub.calls} == {"xoxb-test-token"}


async def test_slash_command_form_fields_survive_urlencoding(world: SlackWorld) -> None:
    body = world.command_body("echo", "1 + 1 = 2 & 50% off")
    assert urllib.parse.parse_qs(body)["text"] == ["echo 1 + 1 = 2 & 50% off"]
    status, _, _ = await world.post(body, sign(body))
    assert status == 200
    await world.idle()
    assert world.stub.responds[-1].body["blocks"][0]["text"]["text"] == "1 + 1 = 2 &amp; 50% off"


async def test_free_text_reaches_the_command_exactly_as_typed(world: SlackWorld) -> None:
    typed = 'Note: it looped "went went"\nQ: why? A: it\'s greedy, see https://hf.co/?a=b'
    await world.command("echo", typed)
    await world.idle()
    shown = world.stub.responds[-1].body["blocks"][0]["text"]["text"]
    assert shown == typed


async def test_a_reopened_activitys_reminder_and_closing_are_new_messages(
    world: SlackWorld,
) -> None:
    scheduler = next(s for s in world.app.background if isinstance(s, ActivityScheduler))
    await scheduler.stop()  # driven by hand, on the fake clock
    clock = world.app.services.clock
    await world.command("activity", "post title:T minutes:10 Prompt", user="U0ADMIN")
    await world.idle()
    clock.advance(minutes=9)
    await scheduler.tick()
    clock.advance(minutes=1)
    await scheduler.tick()
    clock.advance(minutes=5)
    await world.command("activity", "extend id:1 minutes:10", user="U0ADMIN")
    await world.idle()
    clock.advance(minutes=9)
    await scheduler.tick()
    clock.advance(minutes=1)
    await scheduler.tick()

    posted = [(r.body.get("replace_original"), r.body["text"]) for r in world.stub.responds]
    # Each goes out as a message of its own: none edits the first deadline's messages.
    assert posted == [
        (False, "Activity #1: T"),
        (False, "Activity #1 closes in 1 minute"),
        (False, "Activity #1 is closed: T"),
        (False, "Activity #1 is open until 09:25 UTC"),
        (False, "Activity #1 closes in 1 minute"),
        (False, "Activity #1 is closed: T"),
    ]


async def test_a_form_answer_over_the_rate_limit_keeps_the_form_open(world: SlackWorld) -> None:
    await world.command("activity", "post title:T minutes:10 Prompt", user="U0ADMIN")
    await world.idle()
    submit = next(
        element
        for block in world.stub.responds[-1].body["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    )
    # Burst 2 on a clock that stands still: two saves, then the third must wait.
    world.app.router.rate_limiter = RateLimiter(per_minute=20, burst=2, clock=lambda: 0.0)
    answers = []
    for edit in range(3):
        world.stub.reset()
        await world.click(submit, user="U0STUDENT", user_name="ana")
        await world.idle()
        (opened,) = world.stub.of("views.open")
        answers.append(
            await world.submit(opened.params["view"], {"answer": f"edit {edit}"}, user="U0STUDENT")
        )
        await world.idle()
    assert answers[:2] == [(200, ""), (200, "")]
    status, text = answers[2]
    assert status == 200 and json.loads(text) == {
        "response_action": "errors",
        "errors": {
            "answer": "You are sending commands faster than the class limit."
            " Press Submit again in 3 s."
        },
    }
    async with world.app.services.store.session() as session:
        (saved,) = (await session.scalars(select(Submission))).all()
    assert (saved.answer, saved.version) == ("edit 1", 2)
