"""Run corpus lines through the router as a student and as an instructor, and say what went
wrong: internal errors, replies over a platform's limits or that would ping, and a database
that no longer agrees with what the students were told."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.jobs.protocol import ACTIVE_STATES, FINISHED_STATES
from bot.replies import Error, File, Progress, Reply, Text, as_plain_text
from bot.store.models import Job, Submission, SubmissionVersion, User
from tests.hostile.corpus import Line
from tests.hostile.limits import discord_problems, slack_problems, unencodable
from tests.support.botdriver import BotDriver

INTERNAL = "Something went wrong on our side"
# What starts a formula in Excel, LibreOffice and Sheets (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ROLES = ("student", "instructor")
_SAVED = re.compile(r"^(Saved|Updated) your answer to #(\d+)")
_VERSION = re.compile(r"\(version (\d+)\)")
_JOB = re.compile(r"\(job (\d+)\)")
# A Hub repo id, as the guard approves it: never a path.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


@dataclass
class Outcome:
    problems: list[str] = field(default_factory=list)
    replies: int = 0
    errors: int = 0
    # (user, activity id) → versions the user was told were saved
    saved: Counter[tuple[str, int]] = field(default_factory=Counter)
    latest: dict[tuple[str, int], int] = field(default_factory=dict)
    jobs_told: set[int] = field(default_factory=set)


async def run_corpus(bot: BotDriver, lines: list[Line]) -> Outcome:
    """Every line as each role; each reply checked as Discord and Slack would render it."""
    outcome = Outcome()
    for line in lines:
        for role in ROLES:
            replies = await bot.run_all(line.typed, user=role, role=role)
            note_problems(outcome, f"{line} [{role}]", replies)
            note_told(outcome, role, replies)
    return outcome


def note_problems(outcome: Outcome, where: str, replies: list[Reply]) -> None:
    """Count the replies to one command and note each problem they have."""
    if not replies:
        outcome.problems.append(f"{where}: no reply")
    for reply in replies:
        outcome.replies += 1
        outcome.errors += isinstance(reply, Error)
        outcome.problems.extend(f"{where}: {problem}" for problem in _reply_problems(reply))


def _reply_problems(reply: Reply) -> list[str]:
    problems = _spreadsheet_problems(reply)
    if isinstance(reply, Error) and INTERNAL in reply.what:
        problems.append(f"internal error (ref {reply.ref})")
    for platform, check in (
        ("bytes", unencodable),
        ("discord", discord_problems),
        ("slack", slack_problems),
    ):
        try:
            problems.extend(f"{platform}: {p}" for p in check(reply))
        except Exception as error:  # a renderer that raises is a reply never sent
            problems.append(f"{platform}: the renderer raised {error!r}")
    return problems


def _spreadsheet_problems(reply: Reply) -> list[str]:
    """A CSV an instructor opens must hold no cell that a spreadsheet runs as a formula."""
    if not isinstance(reply, File) or not reply.filename.endswith(".csv"):
        return []
    rows = csv.reader(io.StringIO(reply.data.decode("utf-8-sig"), newline=""))
    return [
        f"CSV cell would run as a formula: {cell[:40]!r}"
        for row in rows
        for cell in row
        if cell.startswith(FORMULA_START)
    ]


def note_told(outcome: Outcome, user: str, replies: list[Reply]) -> None:
    """What the replies told the user: an answer saved (which version), a job queued."""
    for reply in replies:
        if isinstance(reply, Text) and (saved := _SAVED.match(reply.text)):
            key = (user, int(saved.group(2)))
            version = _VERSION.search(reply.text)
            outcome.saved[key] += 1
            outcome.latest[key] = int(version.group(1)) if version else 1
        if isinstance(reply, Progress) and (job := _JOB.search(as_plain_text(reply))):
            outcome.jobs_told.add(int(job.group(1)))


async def database_problems(bot: BotDriver, outcome: Outcome, local_models: set[Path]) -> list[str]:
    """The store agrees with what every reply said, and is sound."""
    store = bot.app.services.store
    problems: list[str] = []
    async with store.session() as session:
        if session.bind.dialect.name == "sqlite":
            problems.extend(await _sqlite_problems(session))
        problems.extend(await _submission_problems(session, outcome))
        problems.extend(await _job_problems(session, outcome, local_models))
    return problems


async def _sqlite_problems(session: AsyncSession) -> list[str]:
    integrity = list((await session.execute(text("PRAGMA integrity_check"))).scalars())
    foreign = list(await session.execute(text("PRAGMA foreign_key_check")))
    problems = [] if integrity == ["ok"] else [f"integrity_check: {integrity}"]
    return problems + [f"foreign key broken: {row}" for row in foreign]


async def _submission_problems(session: AsyncSession, outcome: Outcome) -> list[str]:
    problems = []
    rows = await session.execute(
        select(User.external_id, Submission.activity_id, Submission.version, Submission.id).join(
            User, User.id == Submission.user_id
        )
    )
    stored: dict[tuple[str, int], tuple[int, int]] = {
        (user, activity): (version, pk) for user, activity, version, pk in rows
    }
    versions = Counter(await session.scalars(select(SubmissionVersion.submission_id)))
    for key in stored.keys() | outcome.latest.keys():
        version, pk = stored.get(key, (0, 0))
        told = outcome.latest.get(key, 0)
        if version != told:
            problems.append(f"{key}: version {version} stored, the student was told {told}")
        if versions[pk] != outcome.saved[key]:
            problems.append(
                f"{key}: {versions[pk]} versions kept, {outcome.saved[key]} saves were said"
            )
    return problems


async def _job_problems(
    session: AsyncSession, outcome: Outcome, local_models: set[Path]
) -> list[str]:
    problems = []
    allowed_local = {str(p.resolve()) for p in local_models}
    jobs = list(await session.scalars(select(Job)))
    for job in jobs:
        if job.state not in (*ACTIVE_STATES, *FINISHED_STATES):
            problems.append(f"job {job.id} in state {job.state!r}")
        if job.id not in outcome.jobs_told:
            problems.append(f"job {job.id} was queued without telling its student")
        for model in _models(job):
            local = model.get("source") == "local"
            if (local and model["id"] not in allowed_local) or (
                not local and not _HUB_ID.match(str(model["id"]))
            ):
                problems.append(f"job {job.id} would load {model['id']!r}")
    unknown = outcome.jobs_told - {job.id for job in jobs}
    problems.extend(f"job {number} was announced but is not stored" for number in unknown)
    return problems


def _models(job: Job) -> list[dict[str, object]]:
    params = job.params or {}
    found = [run["model"] for run in params.get("runs", []) if isinstance(run, dict)]
    if isinstance(params.get("model"), dict):
        found.append(params["model"])
    return found
