"""The Slack inbox: durable commands are saved before their ack, marked done when they
finished, skipped when Slack sends them again, and replayed after a restart."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from bot.store.models import InboxEntry, Submission
from tests.slack.conftest import ADMIN, STUDENT
from tests.slack.harness import SlackWorld, sign, slack_world
from tests.slack.webapi_stub import SlackStub

POST = "post title:Cards minutes:30 What does a model card say?"


async def _entries(world: SlackWorld) -> list[InboxEntry]:
    async with world.app.services.store.session() as session:
        return list(await session.scalars(select(InboxEntry).order_by(InboxEntry.id)))


async def _submissions(world: SlackWorld) -> list[Submission]:
    async with world.app.services.store.session() as session:
        return list(await session.scalars(select(Submission)))


async def test_durable_commands_are_saved_and_marked_done_reads_are_not_saved(
    world: SlackWorld,
) -> None:
    status, _ = await world.command("activity", POST, user="U0ADMIN")
    assert status == 200
    await world.idle()
    status, _ = await world.command("activity", "submit id:1 it names the license")
    assert status == 200
    status, _ = await world.command("help")
    assert status == 200
    await world.idle()
    await world.app.services.store.close()  # writes the grouped done marks
    entries = await _entries(world)
    assert [e.command for e in entries] == ["activity post", "activity submit"]
    assert all(e.done_at is not None for e in entries)
    submit = entries[1]
    assert submit.platform == "slack" and submit.request_id.startswith("trigger:")
    assert submit.invocation["options"]["answer"] == "it names the license"
    assert submit.destination["handle"]["response_url"].startswith(world.stub.base)


async def test_a_request_slack_sends_again_is_acknowledged_and_run_once(
    world: SlackWorld,
) -> None:
    await world.command("activity", POST, user="U0ADMIN")
    await world.idle()
    url = world.stub.response_url()
    body = world.command_body("activity", "submit id:1 once only", response_url=url)
    first = await world.post(body, sign(body))
    # Slack's retry: the same request (same trigger_id), signed again.
    again = await world.post(body, {**sign(body), "X-Slack-Retry-Num": "1"})
    assert (first[0], again[0]) == (200, 200)
    await world.idle()
    answers = [r for r in world.stub.responds if r.url_id == url.rsplit("/", 1)[1]]
    assert len(answers) == 1, [a.body for a in answers]
    assert "Saved your answer to #1" in json.dumps(answers[0].body)
    assert [s.answer for s in await _submissions(world)] == ["once only"]


async def test_commands_acknowledged_before_a_crash_run_after_the_restart_once(
    tmp_path: Path,
) -> None:
    students = [f"U0S{n}" for n in range(5)]
    users = {"U0ADMIN": ADMIN, "U0STUDENT": STUDENT, **{s: {"id": s, "name": s} for s in students}}
    stub = SlackStub(users=users)
    async with slack_world(tmp_path, stub=stub) as world:
        await world.command("activity", POST, user="U0ADMIN")
        await world.idle()
        # The process dies right after the acks: none of the work after them runs.
        world.adapter.spawn = lambda work: work.close()  # type: ignore[method-assign]
        for student in students:
            status, _ = await world.command("activity", f"submit id:1 from {student}", user=student)
            assert status == 200
        assert await _submissions(world) == []
        pending = await world.adapter.inbox.pending("slack")
        assert [e.invocation.actor.user_id for e in pending] == students

    # The restarted bot talks to a new Slack stand-in: the old response_urls are dead.
    stub = SlackStub(users=users)
    async with slack_world(tmp_path, stub=stub) as world:
        assert await world.adapter.replay_saved() == len(students)
        await world.idle()
        saved = {s.answer for s in await _submissions(world)}
        assert saved == {f"from {s}" for s in students}
        # Each student is told, by the Web API since the saved response_url is dead.
        told = [
            c.params["user"]
            for c in stub.of("chat.postEphemeral")
            if "Saved your answer to #1" in json.dumps(c.params)
        ]
        assert sorted(told) == students
        await world.app.services.store.close()
        assert await world.adapter.inbox.pending("slack") == []
        # A second restart has nothing left to run.
        assert await world.adapter.replay_saved() == 0
    async with world.app.services.store.session() as session:
        count = await session.scalar(select(func.count()).select_from(Submission))
    assert count == len(students)
