"""Roles, bad input, guilds kept apart, and submits that race each other."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.identity import Actor, Role
from bot.replies import Card, Error, Modal, Reply, Table, Text
from bot.router import Invocation
from bot.store.models import Submission, SubmissionVersion
from tests.activity.conftest import POST, post, run_as
from tests.support.botdriver import BotDriver


@pytest.mark.parametrize(
    "line",
    [
        POST.format(minutes=10),
        "/activity close id:1",
        "/activity extend id:1 minutes:5",
        "/activity results id:1",
    ],
)
async def test_instructor_commands_refuse_students(bot: BotDriver, line: str) -> None:
    await post(bot)
    reply = await bot.run(line, user="ana")
    assert isinstance(reply, Error) and "is for instructors" in reply.what


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/activity submit id:1 " + "x" * 4001, "is 4,001 characters; the limit is 4,000"),
        ("/activity submit id:99 hello", "There is no activity #99 here."),
        ("/activity submit id:0 hello", "id: must be at least 1."),
        ("/activity form id:99", "There is no activity #99 here."),
    ],
)
async def test_bad_answers_get_a_clear_reply(bot: BotDriver, line: str, expected: str) -> None:
    await post(bot)
    reply = await bot.run(line, user="ana")
    assert isinstance(reply, Error) and reply.private
    assert expected in reply.what
    async with bot.app.services.store.session() as session:
        assert await session.scalar(select(func.count()).select_from(Submission)) == 0


@pytest.mark.parametrize(
    "line", ["/activity submit", "/activity submit id:1", '/activity submit answer:"  "']
)
async def test_submit_without_an_answer_opens_the_answer_form(bot: BotDriver, line: str) -> None:
    # Typed alone on Slack or the console: the form the Submit button opens, saving nothing.
    await post(bot)
    reply = await bot.run(line, user="ana")
    assert isinstance(reply, Modal) and reply.private
    assert reply.submit_action == "/activity submit id:1"
    assert [f.name for f in reply.fields] == ["answer"]
    async with bot.app.services.store.session() as session:
        assert await session.scalar(select(func.count()).select_from(Submission)) == 0


async def test_an_id_inside_a_typed_answer_gets_told_how_to_keep_it(bot: BotDriver) -> None:
    await post(bot)
    # Inside the answer, id:2 is part of it; at its end it reads as the option.
    inside = await bot.run("/activity submit Note: the 8B model was refused; id:2 was faster")
    assert isinstance(inside, Text) and inside.text.startswith("Saved your answer to #1")
    reply = await bot.run("/activity submit Note: the 8B model was slower than id:2")
    assert isinstance(reply, Error) and reply.what == "There is no activity #2 here."
    assert "If id:2 is part of your answer, write it another way (id 2)" in reply.todo
    form = await bot.run("/activity form id:2")  # no answer typed: the plain words
    assert isinstance(form, Error) and "part of your answer" not in form.todo


async def test_a_misspelt_option_at_the_edge_of_a_prompt_is_named(bot: BotDriver) -> None:
    post_line = "/activity post title:Lab minutes:10 Choose a task and run two models."
    for typo, meant in ((" chanel:#lab", "channel"), (" minuts:5", "minutes")):
        reply = await bot.run(post_line + typo, user="teacher", role="instructor")
        assert isinstance(reply, Error), typo
        assert reply.what == f"Unknown option {typo.strip().split(':')[0]}:. Did you mean {meant}:?"
    answer = await bot.run("/activity submit The best were ids:1-3", user="ana")
    assert isinstance(answer, Error) and answer.what == "Unknown option ids:. Did you mean id:?"
    assert answer.todo == "If ids:1-3 is part of your text, write it without the colon."
    # Inside the prompt, or far from any option's name, words with colons are the prompt's.
    kept = "Note: compare ratio:speed with gpt2 and bert, then ids:1-3 ratio:0.5"
    posted = await bot.run(
        f"/activity post title:Lab minutes:10 {kept}", user="teacher", role="instructor"
    )
    assert isinstance(posted, Card) and posted.description == kept


async def test_an_option_typed_inside_the_prompt_is_named_when_it_is_missing(
    bot: BotDriver,
) -> None:
    # An unquoted title of several words: the prompt starts at "1:", minutes:5 is inside it.
    line = "/activity post title:Lab 1: Models hub minutes:5 Run two models."
    reply = await bot.run(line, user="teacher", role="instructor")
    assert isinstance(reply, Error)
    assert reply.what == (
        "minutes is required: the minutes:5 you typed is inside your prompt, where it is "
        "read as part of the prompt."
    )
    assert reply.todo == (
        "Give the options before the prompt, and a value of several words in quotes "
        '(title:"like this").'
    )
    plain = await bot.run(
        "/activity post title:Lab Run two models.", user="teacher", role="instructor"
    )
    assert isinstance(plain, Error) and plain.what == "minutes is required." and not plain.todo


async def test_an_answer_named_as_an_option_keeps_only_the_answer(bot: BotDriver) -> None:
    await post(bot)
    typed = {"ana": "answer:Paris is big", "cyd": "answer:Paris is big id:1"}
    for user, answer in typed.items():
        reply = await bot.run(f"/activity submit {answer}", user=user)
        assert isinstance(reply, Text) and reply.text.startswith("Saved your answer to #1"), answer
    # With a space after the colon, as in a sentence, the name is part of the answer.
    sentence = await bot.run("/activity submit answer: Paris", user="ben")
    assert isinstance(sentence, Text)
    async with bot.app.services.store.session() as session:
        saved = (await session.scalars(select(SubmissionVersion.answer))).all()
    assert sorted(saved) == ["Paris is big", "Paris is big", "answer: Paris"]


async def test_an_answer_of_exactly_4000_characters_is_kept(bot: BotDriver) -> None:
    await post(bot)
    reply = await bot.run("/activity submit id:1 " + "x" * 4000, user="ana")
    assert isinstance(reply, Text) and "Saved" in reply.text


@pytest.mark.parametrize("minutes", ["0", "181", "ten"])
async def test_post_checks_the_time_limit(bot: BotDriver, minutes: str) -> None:
    reply = await bot.run(
        f"/activity post title:x minutes:{minutes} hi", user="teacher", role="instructor"
    )
    assert isinstance(reply, Error) and reply.what.startswith("minutes:")
    assert reply.usage is not None and "minutes:1-180" in reply.usage


async def test_without_an_id_the_choice_must_be_clear(bot: BotDriver) -> None:
    none_yet = await bot.run("/activity submit hello", user="ana")
    assert isinstance(none_yet, Error) and "no activity in this class yet" in none_yet.what

    for minutes, channel in ((10, "A"), (20, "B")):
        (posted,) = await run_as(
            bot, POST.format(minutes=minutes), role="instructor", channel=channel
        )
        assert isinstance(posted, Card)
    # From a third channel: neither is taken, both are named.
    elsewhere = await bot.run("/activity submit hello", user="ana")
    assert isinstance(elsewhere, Error)
    assert elsewhere.what == (
        "No activity is open in this channel; open in other channels: "
        "#1 Models hub (until 09:10 UTC); #2 Models hub (until 09:20 UTC)."
    )
    assert "id:1" in elsewhere.todo

    # Two open in one channel: the student says which.
    (posted,) = await run_as(bot, POST.format(minutes=30), role="instructor", channel="B")
    ambiguous = (await run_as(bot, "/activity submit hello", user="ana", channel="B"))[-1]
    assert isinstance(ambiguous, Error)
    assert ambiguous.what == (
        "2 activities are open: #2 Models hub (until 09:20 UTC); #3 Models hub (until 09:30 UTC)."
    )
    assert "id:2" in ambiguous.todo

    # In an activity's own channel, that one is meant.
    (saved,) = await run_as(bot, "/activity submit hello", user="ana", channel="A")
    assert isinstance(saved, Text) and saved.text.startswith("Saved your answer to #1 Models hub")


async def test_guilds_never_see_each_other(bot: BotDriver) -> None:
    activity_id = await post(bot)  # in the console's guild
    await bot.run("/activity submit mine, in guild one", user="ana")

    async def elsewhere(line: str, user: str = "ana", role: str = "student") -> Reply:
        # The same user id as in guild one: still a different person's data.
        replies = await run_as(bot, line, user=user, role=role, guild="G2", channel="C2")
        return replies[-1]

    for line in (
        f"/activity submit id:{activity_id} hi",
        f"/activity form id:{activity_id}",
        f"/activity results id:{activity_id}",
        f"/activity close id:{activity_id}",
        f"/activity extend id:{activity_id} minutes:5",
    ):
        reply = await elsewhere(line, user="teacher", role="instructor")
        assert isinstance(reply, Error), line
        assert reply.what == f"There is no activity #{activity_id} here.", line

    listed = await elsewhere("/activity list")
    assert isinstance(listed, Text) and listed.text.startswith("No activities yet")
    mine = await elsewhere("/activity mine")
    assert isinstance(mine, Text) and "not answered any" in mine.text
    missing = await elsewhere("/activity submit hi")
    assert isinstance(missing, Error) and "no activity in this class yet" in missing.what

    here = await bot.run("/activity list", user="ana")
    assert isinstance(here, Table) and here.rows[0][0] == f"#{activity_id}"


async def submit_at_once(bot: BotDriver, answers: list[str]) -> list[Reply]:
    """Submits of one student that arrive together (double clicks, two devices)."""
    router = bot.app.router
    actor = Actor("console", "ana", "Ana", Role.STUDENT, "console", "console")

    async def one(answer: str) -> Reply:
        invocation = Invocation(("activity", "submit"), {"id": "1", "answer": answer}, actor)
        return [reply async for reply in router.dispatch(invocation)][-1]

    return list(await asyncio.gather(*(one(answer) for answer in answers)))


async def test_concurrent_submits_lose_and_duplicate_nothing(bot: BotDriver) -> None:
    await post(bot)
    answers = [f"draft {i}" for i in range(5)]
    replies = await submit_at_once(bot, answers)
    assert all(isinstance(r, Text) for r in replies), replies
    async with bot.app.services.store.session() as session:
        (submission,) = (await session.scalars(select(Submission))).all()
        history = (
            await session.execute(
                select(SubmissionVersion.version, SubmissionVersion.answer).order_by(
                    SubmissionVersion.version
                )
            )
        ).all()
    assert [version for version, _ in history] == [1, 2, 3, 4, 5]
    assert sorted(answer for _, answer in history) == answers
    # The kept answer is the last version written.
    assert submission.version == 5 and submission.answer == history[-1][1]


async def test_the_same_answer_twice_at_once_is_stored_once(bot: BotDriver) -> None:
    await post(bot)
    replies = await submit_at_once(bot, ["same", "same"])
    texts = sorted(r.text for r in replies if isinstance(r, Text))
    assert len(texts) == 2 and "unchanged" in texts[1] and texts[0].startswith("Saved")
    async with bot.app.services.store.session() as session:
        assert await session.scalar(select(func.count()).select_from(SubmissionVersion)) == 1


async def test_a_class_answering_at_once_loses_nothing(bot: BotDriver) -> None:
    await post(bot)
    router = bot.app.router

    async def student(n: int) -> list[Reply]:
        actor = Actor("console", f"s{n}", f"S{n}", Role.STUDENT, "console", "console")
        replies = []
        for draft in range(2):
            answer = {"id": "1", "answer": f"s{n} draft {draft}"}
            invocation = Invocation(("activity", "submit"), answer, actor)
            replies += [reply async for reply in router.dispatch(invocation)]
        return replies

    replies = [r for batch in await asyncio.gather(*(student(n) for n in range(60))) for r in batch]
    assert len(replies) == 120 and all(isinstance(r, Text) for r in replies)
    async with bot.app.services.store.session() as session:
        submissions = (await session.scalars(select(Submission))).all()
        assert await session.scalar(select(func.count()).select_from(SubmissionVersion)) == 120
    assert len(submissions) == 60
    assert all(s.version == 2 and s.answer.endswith("draft 1") for s in submissions)
