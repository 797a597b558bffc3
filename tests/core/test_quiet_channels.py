"""Quiet channels: exploration answers are private with a Share button; /class turns them
public; Share re-posts the same answer (or a job's stored result) with the sharer's name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import create_app
from bot.commands.classroom import COMMAND as CLASS
from bot.commands.share import COMMAND as SHARE
from bot.delivery import Destination
from bot.identity import Actor, Role
from bot.jobs.worker import WorkerProcess
from bot.ratelimit import RateLimiter
from bot.replies import Button, Card, Error, Progress, Reply, Text
from bot.router import Command, Context, Router
from bot.share import QUIET_HANDLE, delivered
from tests.jobs.support import job_bot
from tests.support.botdriver import FakeClock, settings_for_tests

CALLS: list[str] = []


async def explore(ctx: Context) -> Reply:
    """Looks something up (a test command)."""
    CALLS.append(ctx.actor.user_id)
    return Card(
        title=f"Answer {len(CALLS)}",
        footer="from the Hub",
        buttons=(Button(label="More", action="/explore"),),
    )


async def fail(ctx: Context) -> Reply:
    """Always a user mistake."""
    return Error(what="No such model.")


async def say(ctx: Context) -> Reply:
    """Not an exploration: public as always."""
    return Text(text="Activity posted.")


COMMANDS = [
    Command(name="explore", handler=explore, exploration=True),
    Command(name="fail", handler=fail, exploration=True),
    Command(name="say", handler=say),
    SHARE,
    CLASS,
]


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[Router]:
    app = await create_app(settings_for_tests(tmp_path), clock=FakeClock())
    yield Router(COMMANDS, app.services, RateLimiter(per_minute=600, burst=100))
    await app.close()


def who(user: str = "ana", role: Role = Role.STUDENT, guild: str = "g1") -> Actor:
    return Actor("discord", user, user.title(), role, guild, "c1")


async def one(router: Router, line: str, actor: Actor | None = None) -> Reply:
    replies = [r async for r in router.run_line(line, actor or who())]
    assert len(replies) == 1, replies
    return replies[0]


async def test_an_exploration_answer_is_private_with_a_share_button(router: Router) -> None:
    reply = await one(router, "/explore")
    assert isinstance(reply, Card) and reply.private
    more, share = reply.buttons
    assert more.action == "/explore"
    assert share.label == "Share" and share.action.startswith("/share id:")
    assert len(share.action) <= 100  # a Discord custom id
    said = await one(router, "/say")
    assert said == Text(text="Activity posted.")  # not an exploration: public, no Share


async def test_share_posts_the_same_answer_publicly_with_the_name(router: Router) -> None:
    CALLS.clear()
    private = await one(router, "/explore")
    share = private.buttons[-1]
    shared = await one(router, share.action)
    assert isinstance(shared, Card) and not shared.private
    assert shared.title == "Answer 1"  # the kept answer: the command did not run again
    assert CALLS == ["ana"]
    assert shared.footer == "Shared by Ana · from the Hub"
    assert [b.label for b in shared.buttons] == ["More"]
    # A second press (a double click) does not post it twice.
    again = await one(router, share.action)
    assert again == Text(
        text="That was shared in this channel a moment ago: it is just above.", private=True
    )


async def test_only_the_requester_shares_and_only_in_their_class(router: Router) -> None:
    action = (await one(router, "/explore")).buttons[-1].action
    other = await one(router, action, who("ben"))
    assert isinstance(other, Error) and "Only the student who got that answer" in other.what
    elsewhere = await one(router, action, who("ana", guild="g2"))
    assert isinstance(elsewhere, Error) and "no longer kept" in elsewhere.what
    gone = await one(router, "/share id:nothing-0")
    assert isinstance(gone, Error) and gone.private


async def test_errors_stay_private_without_share(router: Router) -> None:
    reply = await one(router, "/fail")
    assert isinstance(reply, Error) and reply.private and reply.buttons == ()


async def test_the_class_setting_makes_answers_public(router: Router) -> None:
    teacher = who("teacher", Role.INSTRUCTOR)
    refused = await one(router, "/class replies:public")
    assert isinstance(refused, Error) and "is for instructors" in refused.what
    changed = await one(router, "/class replies:public", teacher)
    assert isinstance(changed, Text) and "now public" in changed.text
    reply = await one(router, "/explore")
    assert isinstance(reply, Card) and not reply.private
    assert [b.label for b in reply.buttons] == ["More"]
    # Per class: another guild keeps the default.
    assert (await one(router, "/explore", who(guild="g2"))).private
    await one(router, "/class replies:private", teacher)
    assert (await one(router, "/explore")).private
    shown = await one(router, "/class", teacher)
    assert isinstance(shown, Text) and "private: only the student who asked" in shown.text


def test_a_quiet_destination_makes_late_replies_private() -> None:
    quiet = Destination("slack", "T1", "C1", "U1", {QUIET_HANDLE: "1"})
    loud = replace(quiet, handle={})
    card = Card(title="done")
    result = delivered(quiet, card, "job:7")
    assert result.private and result.buttons[-1] == Button(label="Share", action="/share job:7")
    progress = delivered(quiet, Progress(step=1, total=4), "job:7")
    assert progress.private and progress.buttons == ()
    failed = delivered(quiet, Error(what="The job failed.", private=False), "job:7")
    assert failed.private and failed.buttons == ()
    assert delivered(loud, card, "job:7") == card
    # Reminders and closes (no quiet handle) stay public.
    assert delivered(loud, Text(text="5 minutes left"), None) == Text(text="5 minutes left")


async def test_share_a_job_result_reposts_its_stored_result(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir) as bot:
        first = await bot.run('/generate prompt:"Hello" seed:1 max_new_tokens:8')
        assert isinstance(first, Progress) and first.private
        job = await bot.generate('/generate prompt:"Hello" seed:1 max_new_tokens:8')
        await bot.idle()
        result = bot.outbox.final(job)
        (sent,) = [s for s in bot.outbox.sent if s.reply is result]
        assert sent.destination.handle.get(QUIET_HANDLE) == "1"
        private = delivered(sent.destination, result, sent.key)
        assert private.private and private.buttons[-1].action == f"/share job:{job}"
        runs_before = len(bot.outbox.sent)
        shared = await bot.run(private.buttons[-1].action)
        assert isinstance(shared, Card) and isinstance(result, Card) and not shared.private
        assert shared.description == result.description  # the stored text, not a new run
        assert shared.footer == f"Shared by student · {result.footer}"
        await bot.idle()
        assert len(bot.outbox.sent) == runs_before  # no job ran again
        other = await bot.run(f"/share job:{job}", user="ben")
        assert isinstance(other, Error) and "not yours" in other.what
        again = await bot.run(f"/share job:{job}")
        assert isinstance(again, Text) and again.private
        assert again.text.startswith("That was shared in this channel")


async def test_a_job_without_a_result_says_what_to_do_instead_of_sharing(
    tmp_path: Path, model_worker: WorkerProcess, tiny_model_dir: Path
) -> None:
    async with job_bot(tmp_path, model_worker, tiny_model_dir, start=False) as bot:
        job = await bot.generate('/generate prompt:"Hello" max_new_tokens:8')
        waiting = await bot.run(f"/share job:{job}")
        assert isinstance(waiting, Error) and waiting.todo == "Share it once its result is shown."
        await bot.run(f"/jobs cancel id:{job}")
        cancelled = await bot.run(f"/share job:{job}")
        assert isinstance(cancelled, Error)
        assert cancelled.what == f"Job {job} has no result to share (cancelled)."
        assert cancelled.todo == "Run it again, then share the new result."
        # Its reply in the quiet channel: private, and no Share button to press.
        await bot.idle()
        (sent,) = [s for s in bot.outbox.sent if s.key == f"job:{job}"][-1:]
        notice = delivered(sent.destination, sent.reply, sent.key)
        assert isinstance(notice, Text) and notice.text == f"Job {job} was cancelled."
        assert notice.private and notice.buttons == ()
