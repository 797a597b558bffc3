"""Later deliveries (job results, reminders): response_url budget, Web API fallbacks, roster."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import outbox as out
from adapters.slack.app import web_client
from adapters.slack.outbox import FileNotDelivered, SlackOutbox, ts_key
from adapters.slack.people import People, SlackRoster
from bot.delivery import Destination, Member
from bot.replies import Button, Error, Image, Modal, ModalField, Progress, Text
from tests.slack.harness import WallClock
from tests.slack.webapi_stub import SlackStub


@pytest.fixture
async def client(stub: SlackStub) -> AsyncIterator[AsyncWebClient]:
    yield web_client("xoxb-test", stub.api_url)


@pytest.fixture
def clock() -> WallClock:  # type: ignore[override]
    return WallClock()


def _destination(
    stub: SlackStub, clock: WallClock, *, age: float = 0.0, **extra: str
) -> Destination:
    handle = {
        out.RESPONSE_URL: stub.response_url(),
        out.RESPONSE_URL_AT: str(clock() - age),
        out.RESPONSE_URL_KIND: "command",
        **extra,
    }
    return Destination("slack", "T0CLASS", "C0CLASS", "U0STUDENT", handle)


async def test_five_uses_of_a_response_url_then_chat_post_message(
    stub: SlackStub, client: AsyncWebClient, clock: WallClock
) -> None:
    box = SlackOutbox(client, clock=clock)
    where = _destination(stub, clock)
    for i in range(7):
        await box.send(where, Text(text=f"note {i}"))
    assert len(stub.responds) == 5 and all(r.status == 200 for r in stub.responds)
    posts = stub.of("chat.postMessage")
    assert [p.params["text"] for p in posts] == ["note 5", "note 6"]
    assert all(p.params["channel"] == "C0CLASS" for p in posts)
    assert posts[0].params["parse"] == "none" and posts[0].params["link_names"] is False


async def test_an_old_response_url_is_not_used_and_edits_go_by_chat_update(
    stub: SlackStub, client: AsyncWebClient, clock: WallClock
) -> None:
    box = SlackOutbox(client, clock=clock, progress_interval=2.0)
    where = _destination(stub, clock, age=31 * 60)  # a job that waited in the queue
    await box.send(where, Progress(step=1, total=4, label="queued"), key="job:42")
    await box.send(where, Progress(step=2, total=4), key="job:42")  # within 2 s: dropped
    clock.advance(2.5)
    await box.send(where, Progress(step=3, total=4), key="job:42")
    await box.send(where, Text(text="done"), key="job:42")
    assert stub.responds == []
    (post,) = stub.of("chat.postMessage")
    ts = where.handle[ts_key("job:42")]
    assert post.params["text"].endswith("1/4 queued")
    updates = stub.of("chat.update")
    assert [u.params["ts"] for u in updates] == [ts, ts]
    assert [u.params["text"] for u in updates][-1] == "done"
    assert updates[0].params["text"].endswith("3/4")


async def test_after_a_restart_the_handle_still_knows_the_message_to_edit(
    stub: SlackStub, client: AsyncWebClient, clock: WallClock
) -> None:
    where = _destination(stub, clock, age=3600)
    where.handle[ts_key("job:7")] = "1700000000.000099"
    await SlackOutbox(client, clock=clock).send(where, Text(text="result"), key="job:7")
    (update,) = stub.of("chat.update")
    assert update.params["ts"] == "1700000000.000099"
    assert stub.of("chat.postMessage") == []


async def test_a_refused_response_url_falls_back_to_the_web_api(
    stub: SlackStub, client: AsyncWebClient, clock: WallClock
) -> None:
    where = _destination(stub, clock)
    url_id = where.handle[out.RESPONSE_URL].rsplit("/", 1)[1]
    stub._url_uses[url_id] = 5  # spent elsewhere (another process, before a restart)
    box = SlackOutbox(client, clock=clock)
    await box.send(where, Text(text="first"))
    await box.send(where, Text(text="second"))
    assert [r.status for r in stub.responds] == [404]  # tried once, then never again
    assert [p.params["text"] for p in stub.of("chat.postMessage")] == ["first", "second"]


async def test_a_rate_limited_call_is_tried_again_after_retry_after(
    stub: SlackStub, client: AsyncWebClient, clock: WallClock
) -> None:
    where = _destination(stub, clock)
    url_id = where.handle[out.RESPONSE_URL].rsplit("/", 1)[1]
    stub._url_uses[url_id] = 5  # the reply goes by chat.postMessage
    stub.rate_limited["chat.postMessage"] = 2  # a class's burst of results
    await SlackOutbox(client, clock=clock).send(where, Text(text="your result"))
    assert [c.params.get("text") for c in stub.of("chat.postMessage")] == ["your result"] * 3
    assert stub.rate_limited["chat.postMessage"] == 0


async def test_a_private_result_after_half_an_hour_goes_to_a_direct_message(
    stub: SlackStub, client: AsyncWebClient, clock: WallClock
) -> None:
    # An ephemeral message reaches only a student active in the channel, and not after a
    # reload: a result that waited in the queue for 40 minutes waits for them in a DM.
    where = _destination(stub, clock, age=40 * 60)
    await SlackOutbox(client, clock=clock).send(where, Text(text="your image", private=True))
    assert stub.of("chat.postEphemeral") == []
    (opened,) = stub.of("conversations.open")
    assert opened.params["users"] == where.user_id
    (post,) = stub.of("chat.postMessage")
    assert post.params["text"] == "your image" and post.params["channel"] != where.channel_id


async def test_errors_are_ephemeral_even_without_a_response_url(
    stub: SlackStub, client: AsyncWebClient, clock: WallClock
) -> None:
    where = _destination(stub, clock)
    stub._url_uses[where.handle[out.RESPONSE_URL].rsplit("/", 1)[1]] = 5  # spent
    await SlackOutbox(client, clock=clock).send(where, Error(what="Nope <!here>", todo="Retry."))
    (ephemeral,) = stub.of("chat.postEphemeral")
    assert ephemeral.params["user"] == "U0STUDENT" and ephemeral.params["channel"] == "C0CLASS"
    assert "&lt;!here&gt;" in ephemeral.params["blocks"][0]["text"]["text"]
    assert stub.of("chat.postMessage") == []


async def test_not_in_channel_falls_back_to_a_live_response_url(
    stub: SlackStub, client: AsyncWebClient, clock: WallClock
) -> None:
    stub.fail["chat.postMessage"] = "not_in_channel"
    where = _destination(stub, clock, **{out.RESPONSE_URL_KIND: "action"})
    # A click's URL would replace the clicked message: keyed replies try the Web API first.
    await SlackOutbox(client, clock=clock).send(where, Text(text="result"), key="job:1")
    assert stub.methods() == ["chat.postMessage"]
    (answer,) = stub.responds
    assert answer.body["replace_original"] is False and answer.body["text"] == "result"


async def test_progress_that_cannot_be_edited_is_not_posted_again(
    stub: SlackStub, client: AsyncWebClient, clock: WallClock
) -> None:
    stub.fail["chat.postMessage"] = "not_in_channel"
    where = _destination(stub, clock, **{out.RESPONSE_URL_KIND: "action"})
    box = SlackOutbox(client, clock=clock)
    for step in range(1, 4):
        await box.send(where, Progress(step=step, total=3), key="job:2")
        clock.advance(3)
    await box.send(where, Text(text="done"), key="job:2")
    # The first progress went by the click's URL (a new message it cannot edit later); the
    # next ones wait; the result is one more message, not four.
    assert [r.body["text"] for r in stub.responds] == [stub.responds[0].body["text"], "done"]
    assert stub.responds[0].body["text"].endswith("1/3")


async def test_a_modal_without_a_fresh_trigger_becomes_its_fallback_text(
    stub: SlackStub, client: AsyncWebClient, clock: WallClock
) -> None:
    modal = Modal(
        title="Answer",
        fields=(ModalField(name="answer", label="Answer"),),
        submit_action="/activity submit id:3",
        fallback="Type /activity submit id:3 answer:...",
    )
    where = _destination(stub, clock, **{out.TRIGGER_ID: "t-1", out.TRIGGER_AT: str(clock() - 4)})
    await SlackOutbox(client, clock=clock).send(where, modal)
    assert stub.of("views.open") == []
    (answer,) = stub.responds
    assert answer.body["response_type"] == "ephemeral"
    assert answer.body["text"] == "Type /activity submit id:3 answer:..."


async def test_a_form_whose_saved_answer_is_too_long_for_slack_becomes_its_fallback(
    stub: SlackStub, client: AsyncWebClient, clock: WallClock
) -> None:
    # Typed as a command, an answer holds 4,000 characters; Slack's text input 3,000.
    saved = ModalField(name="answer", label="Answer", max_length=4000, default="x" * 3500)
    modal = Modal(
        title="Answer",
        fields=(saved,),
        submit_action="/activity submit id:3",
        fallback="Type /activity submit id:3 answer:...",
    )
    where = _destination(stub, clock, **{out.TRIGGER_ID: "t-1", out.TRIGGER_AT: str(clock())})
    await SlackOutbox(client, clock=clock).send(where, modal)
    assert stub.of("views.open") == []  # it would come back cut to 3,000
    (answer,) = stub.responds
    assert answer.body["text"] == (
        "What you saved is longer than a Slack form holds (3,000 characters), so the form"
        " cannot open with it. Type /activity submit id:3 answer:..."
    )


PNG = b"\x89PNG\r\n\x1a\n fox"
FOX = Image(
    filename="fox.png",
    data=PNG,
    alt="a fox",
    caption="a red fox",
    buttons=(Button(label="Reroll", action="/imagine reroll"),),
)


def _texts(stub: SlackStub) -> list[str]:
    """Every message text that reached the channel, by any route."""
    sent = [r.body.get("text", "") for r in stub.responds]
    sent += [c.params.get("text", "") for c in stub.of("chat.postMessage") + stub.of("chat.update")]
    return [str(t) for t in sent]


async def test_a_refused_upload_raises_and_leaves_the_progress_not_a_caption(
    stub: SlackStub, client: AsyncWebClient, clock: WallClock
) -> None:
    box = SlackOutbox(client, clock=clock)
    where = _destination(stub, clock)
    await box.send(where, Progress(step=3, total=4, label="drawing"), key="job:9")
    stub.fail["files.completeUploadExternal"] = "not_in_channel"
    for _ in range(2):  # the job relay tries again
        with pytest.raises(FileNotDelivered, match="not_in_channel"):
            await box.send(where, FOX, key="job:9")
    assert not any("a red fox" in text for text in _texts(stub))
    assert len(stub.of("files.completeUploadExternal")) == 2
    # The requester hears why once, not once per try.
    (told,) = [r for r in stub.responds if r.body["response_type"] == "ephemeral"]
    assert "Slack did not take the file fox.png (not_in_channel)" in told.body["text"]

    del stub.fail["files.completeUploadExternal"]
    await box.send(where, FOX, key="job:9")
    final = stub.responds[-1]
    assert final.body["replace_original"] is True
    assert final.body["blocks"][0]["text"]["text"] == "a red fox"
    assert len(stub.uploads) == 3


async def test_a_refused_upload_without_a_key_posts_no_caption(
    stub: SlackStub, client: AsyncWebClient, clock: WallClock
) -> None:
    stub.fail["files.getUploadURLExternal"] = "invalid_channel"
    where = _destination(stub, clock)
    plain = Image(filename="fox.png", data=PNG, caption="a red fox")
    with pytest.raises(FileNotDelivered):
        await SlackOutbox(client, clock=clock).send(where, plain)
    assert stub.uploads == [] and stub.of("files.completeUploadExternal") == []
    assert not any("a red fox" in text for text in _texts(stub))
    (told,) = stub.responds
    assert told.body["response_type"] == "ephemeral" and "invalid_channel" in told.body["text"]


async def test_a_caption_that_failed_after_the_upload_is_retried_without_a_second_upload(
    stub: SlackStub, client: AsyncWebClient, clock: WallClock
) -> None:
    box = SlackOutbox(client, clock=clock)
    where = _destination(stub, clock, age=3600)  # no response_url left: the Web API only
    await box.send(where, Progress(step=1, total=2), key="job:5")
    stub.fail["chat.update"] = "message_not_found"
    stub.fail["chat.postMessage"] = "ratelimited"
    with pytest.raises(SlackApiError):
        await box.send(where, FOX, key="job:5")
    assert len(stub.uploads) == 1
    stub.fail.clear()
    await box.send(where, FOX, key="job:5")
    assert len(stub.uploads) == 1  # the file went out the first time
    refused, update = [u for u in stub.of("chat.update") if u.params["text"] == "a red fox"]
    assert update.params["ts"] == refused.params["ts"] == where.handle[ts_key("job:5")]


async def test_the_roster_pages_through_members_and_drops_bots_and_instructors(
    stub: SlackStub, client: AsyncWebClient
) -> None:
    students = [f"U{i:04d}" for i in range(230)]
    stub.channels["C0CLASS"] = [*students, "UBOT", "UGONE", "U0ADMIN", "U0TEACH"]
    stub.users.update({u: {"id": u, "name": u.lower(), "profile": {}} for u in students})
    stub.users["U0001"]["profile"]["display_name"] = "Ana"
    stub.users["UBOT"] = {"id": "UBOT", "name": "classbot", "is_bot": True}
    stub.users["UGONE"] = {"id": "UGONE", "name": "gone", "deleted": True}
    roster = SlackRoster(client, People(client, ["U0TEACH"]))
    members = await roster.students("T0CLASS", "C0CLASS")
    assert members is not None
    assert [m.user_id for m in members] == students
    assert members[1] == Member(user_id="U0001", display_name="Ana")
    assert members[2].display_name == "u0002"
    pages = stub.of("conversations.members")
    assert [p.params.get("cursor") for p in pages] == [None, "200"]
    assert "U0TEACH" not in [c.params["user"] for c in stub.of("users.info")]


async def test_the_roster_says_none_when_slack_will_not_tell(
    stub: SlackStub, client: AsyncWebClient
) -> None:
    roster = SlackRoster(client, People(client, []))
    assert await roster.students("T0CLASS", "C0UNKNOWN") is None
