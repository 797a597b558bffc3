"""What the instructor sees: answers, who is missing, the CSV (parsed back)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from bot.activities.export import params_label, safe_cell
from bot.delivery import Member
from bot.replies import Card, Error, File, Image, Reply, Table, Text
from bot.store.models import User
from bot.store.usage import record_usage
from tests.activity.conftest import FixedRoster, post
from tests.support.botdriver import BotDriver, FakeClock

NINE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def ran_model(
    bot: BotDriver,
    user: str,
    model_id: str,
    params: int | None,
    when: datetime,
    command: str = "generate",
) -> None:
    async with bot.app.services.store.session() as session:
        person = (await session.scalars(select(User).where(User.external_id == user))).one()
        await record_usage(
            session,
            guild_id=person.guild_id,
            user_id=person.id,
            command=command,
            now=when,
            model_id=model_id,
            model_params=params,
        )


def parse_csv(reply: Reply) -> list[dict[str, str]]:
    assert isinstance(reply, File) and reply.mime == "text/csv" and reply.private
    assert reply.filename == "activity-1-models-hub.csv"
    assert reply.data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    return list(csv.DictReader(io.StringIO(reply.data.decode("utf-8-sig"))))


async def results(bot: BotDriver) -> tuple[Card, list[dict[str, str]]]:
    card, attachment = await bot.run_all("/activity results", user="teacher", role="instructor")
    assert isinstance(card, Card) and card.private
    return card, parse_csv(attachment)


async def test_results_with_the_platform_roster(bot: BotDriver, clock: FakeClock) -> None:
    roster = FixedRoster([Member("ana", "Ana"), Member("ben", "Ben"), Member("cara", "Cara")])
    bot.app.services.rosters["console"] = roster
    await post(bot, minutes=10)
    await bot.run("/activity submit small models are fast", user="ana")
    await bot.run("/activity submit gpt2 rambles", user="ben")
    clock.advance(minutes=2)
    await bot.run("/activity submit small models are fast, big ones stay on topic", user="ana")

    await ran_model(bot, "ana", "distilgpt2", 82_000_000, NINE - timedelta(minutes=1))  # before
    await ran_model(bot, "ana", "EleutherAI/gpt-neo-125m", 125_198_592, NINE + timedelta(minutes=1))
    await ran_model(bot, "ana", "gpt2", 137_022_720, NINE + timedelta(minutes=3))
    await ran_model(bot, "ana", "gpt2", 137_022_720, NINE + timedelta(minutes=4))  # listed once
    await ran_model(bot, "ben", "gpt2-xl", 1_557_611_200, NINE + timedelta(minutes=11))  # after

    card, rows = await results(bot)
    assert roster.asked == [("console", "console")]
    assert card.description.startswith("2 of 3 students submitted. Open until 09:10 UTC")
    assert [(field.name, field.value) for field in card.fields] == [
        ("ben · 09:00 UTC", "gpt2 rambles"),
        ("ana · 09:02 UTC · 1 edit", "small models are fast, big ones stay on topic"),
        ("Not submitted (1)", "Cara"),
    ]

    assert [row["name"] for row in rows] == ["ben", "ana", "Cara"]
    by_id = {row["user id"]: row for row in rows}
    assert by_id["ana"] == {
        "name": "ana",
        "user id": "ana",
        "submitted at (UTC)": "2026-03-02 09:02:00",
        "edits": "1",
        "answer": "small models are fast, big ones stay on topic",
        "models run": "EleutherAI/gpt-neo-125m (125M); gpt2 (137M)",
    }
    assert by_id["ben"]["edits"] == "0" and by_id["ben"]["models run"] == ""
    assert by_id["cara"]["submitted at (UTC)"] == "" and by_id["cara"]["answer"] == ""


async def test_without_a_roster_the_class_is_who_used_the_bot(bot: BotDriver) -> None:
    await post(bot)
    await bot.run("/help", user="dan")  # a student who has not answered
    await bot.run("/activity submit here", user="ana")
    await bot.run("/help", user="helper", role="instructor")  # instructors are not expected

    card, rows = await results(bot)
    assert card.description.startswith("1 of 2 students submitted.")
    assert {row["user id"] for row in rows} == {"ana", "dan"}
    assert card.footer == "Roster: bot users, instructors excluded."


@pytest.mark.parametrize(
    "roster", [None, FixedRoster([Member("ana", "Ana"), Member("dan", "Dan")])]
)
async def test_an_instructors_own_answer_is_not_a_students(
    bot: BotDriver, roster: FixedRoster | None
) -> None:
    if roster is not None:
        bot.app.services.rosters["console"] = roster
    await post(bot)
    await bot.run("/help", user="dan")
    await bot.run("/activity submit here", user="ana")
    # The instructor tries the activity out.
    await bot.run("/activity submit a model answer", user="teacher", role="instructor")

    card, rows = await results(bot)
    assert card.description.startswith("1 of 2 students submitted.")
    assert [(field.name, field.value) for field in card.fields] == [
        ("ana · 09:00 UTC", "here"),
        ("Not submitted (1)", "Dan" if roster else "dan"),
    ]
    assert [row["user id"] for row in rows] == ["ana", "dan"]

    listed = await bot.run("/activity list", user="teacher", role="instructor")
    assert isinstance(listed, Table) and listed.rows[0][3] == "1"
    closed = await bot.run("/activity close", user="teacher", role="instructor")
    assert isinstance(closed, Card) and closed.description == "1 submission. Thank you!"
    # Still the instructor's to see.
    mine = await bot.run("/activity mine", user="teacher", role="instructor")
    assert isinstance(mine, Card) and [f.value for f in mine.fields] == ["a model answer"]


async def test_the_csv_cannot_carry_a_formula(bot: BotDriver) -> None:
    await post(bot)
    answers = {
        "u1": '=HYPERLINK("http://evil.example","click")',
        "u2": "+1+1",
        "u3": "-2+3",
        "u4": "@SUM(A1:A9)",
        "u5": 'plain text, with a comma and "quotes"\nand a second line',
    }
    for user, answer in answers.items():
        reply = await bot.run(f"/activity submit id:1 answer:{_quoted(answer)}", user=user)
        assert isinstance(reply, Text), reply
    _, rows = await results(bot)
    cells = {row["user id"]: row["answer"] for row in rows}
    for user in ("u1", "u2", "u3", "u4"):
        assert cells[user] == "'" + answers[user]
    assert cells["u5"] == answers["u5"]


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def test_results_show_at_most_twenty_answers_and_students_see_only_their_own(
    bot: BotDriver,
) -> None:
    await post(bot)
    for i in range(23):
        await bot.run(f"/activity submit answer number {i}", user=f"s{i:02}")
    card, rows = await results(bot)
    assert len(rows) == 23
    assert card.fields[20].value == "3 more in the CSV."

    mine = await bot.run("/activity mine", user="s05")
    assert isinstance(mine, Card) and mine.private
    assert [field.value for field in mine.fields] == ["answer number 5"]


@pytest.mark.parametrize(
    ("params", "label"),
    [
        (125_198_592, "125M"),
        (137_022_720, "137M"),
        (66_955_010, "67M"),
        (1_100_048_384, "1.1B"),
        (7_000_000_000, "7B"),
        (4_400_000, "4.4M"),
        (600, "600"),
        (None, ""),
    ],
)
def test_model_sizes_read_like_the_hub(params: int | None, label: str) -> None:
    assert params_label(params) == label


def test_safe_cells() -> None:
    assert safe_cell("=1") == "'=1"
    assert safe_cell("\t=1") == "'\t=1"
    assert safe_cell("a=1") == "a=1"


async def test_results_chart_of_models_and_submissions(bot: BotDriver, clock: FakeClock) -> None:
    roster = FixedRoster([Member("ana", "Ana"), Member("ben", "Ben"), Member("cara", "Cara")])
    bot.app.services.rosters["console"] = roster
    activity = await post(bot, minutes=10)
    await bot.run("/activity submit small models are fast", user="ana")
    clock.advance(minutes=4)
    await bot.run("/activity submit gpt2 rambles", user="ben")
    await ran_model(bot, "ana", "gpt2", 137_022_720, NINE + timedelta(minutes=1))
    await ran_model(bot, "ben", "gpt2", 137_022_720, NINE + timedelta(minutes=2))
    await ran_model(
        bot, "ben", "stabilityai/sd-turbo", None, NINE + timedelta(minutes=3), command="imagine"
    )

    card, _ = await bot.run_all("/activity results", user="teacher", role="instructor")
    assert isinstance(card, Card)
    (see,) = card.buttons
    assert see.action == f"/activity results id:{activity} chart:true"
    (chart,) = await bot.run_all(see.action, user="teacher", role="instructor")

    assert isinstance(chart, Image) and chart.private and chart.mime == "image/png"
    picture = PILImage.open(io.BytesIO(chart.data))
    assert picture.format == "PNG" and picture.width >= 600
    assert chart.alt == (
        f"#{activity}: Models hub. Models the class ran: gpt2 (text-generation, 137M): "
        "2 students; stabilityai/sd-turbo (text-to-image, size unknown): 1 student. "
        "Submissions: 2 of 3, at 09:00 UTC, 09:04 UTC."
    )
    refused = await bot.run(see.action, user="ana")
    assert isinstance(refused, Error)


async def test_results_before_any_student_has_used_the_bot(bot: BotDriver) -> None:
    await post(bot)
    card, rows = await results(bot)
    assert card.description.startswith("0 of 0 students submitted.")
    assert card.fields[-1].value == (
        "No students yet: a student is listed after their first command to the bot."
    )
    assert rows == []


async def test_results_in_a_channel_without_students(bot: BotDriver) -> None:
    bot.app.services.rosters["console"] = FixedRoster([])
    await post(bot)
    await bot.run("/help", user="dan")  # a bot user, but not in the channel's roster
    card, _ = await results(bot)
    assert card.fields[-1].value == "This channel has no students."


async def test_a_student_whose_only_command_was_refused_is_not_submitted(bot: BotDriver) -> None:
    await post(bot)
    await bot.run("/activity submit here", user="ana")
    # Their first tries go wrong before anything runs: an id that is not a number, a
    # misspelt command.
    assert isinstance(await bot.run("/activity submit id:one my answer", user="eve"), Error)
    assert isinstance(await bot.run("/activty submit my answer", user="fay"), Error)

    card, rows = await results(bot)
    assert card.description.startswith("1 of 3 students submitted.")
    assert card.fields[-1].name == "Not submitted (2)"
    assert {row["user id"] for row in rows} == {"ana", "eve", "fay"}
