"""A class answering an activity at once: 1,000 submissions from 300 students through the
real router into a real SQLite file (WAL). Prints one JSON object.

Counts what was stored (lost must be 0: submissions rows, every version row, and the kept
answer being the newest version) and the latency of each submit, as a student would feel
it: from the command to its reply.

Two arrival patterns:
- "burst": every submission dispatched at the same instant (the worst case: 1,000 commands
  in flight, edits of one student racing each other);
- "paced": the same submissions arriving evenly over --window seconds (a class hitting
  Submit in the last seconds before a deadline).

    .venv/bin/python bench/bench_activity.py [--students 300] [--submissions 1000] [--window 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import App, create_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.identity import Actor, Role  # noqa: E402
from bot.replies import Error, Text  # noqa: E402
from bot.router import Invocation  # noqa: E402
from bot.store.models import Submission, SubmissionVersion  # noqa: E402


def actor(name: str, role: Role = Role.STUDENT) -> Actor:
    return Actor("discord", name, name.title(), role, "G1", "C1")


def plan(students: int, submissions: int) -> list[tuple[str, str]]:
    """(student, answer) pairs: every student answers, the rest are edits; all distinct."""
    rows = []
    for n in range(submissions):
        student = f"s{n % students:03d}"
        rows.append((student, f"{student} draft {n // students}: " + "the bigger model " * 10))
    return rows


async def submit(app: App, student: str, activity_id: int, answer: str) -> tuple[float, bool]:
    # What an adapter does for a modal submit: typed options straight to dispatch.
    invocation = Invocation(
        ("activity", "submit"), {"id": activity_id, "answer": answer}, actor(student)
    )
    started = time.perf_counter()
    replies = [reply async for reply in app.router.dispatch(invocation)]
    elapsed = time.perf_counter() - started
    ok = len(replies) == 1 and isinstance(replies[0], Text)
    if not ok:
        print(f"failed: {replies}", file=sys.stderr)
    return elapsed, ok


async def scenario(db: Path, students: int, submissions: int, window: float) -> dict[str, Any]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{db}", out_dir=db.parent / "out"
    )
    app = await create_app(settings)
    try:
        posted = [
            reply
            async for reply in app.router.run_line(
                "/activity post title:Bench minutes:180 Answer as often as you like.",
                actor("teacher", Role.INSTRUCTOR),
            )
        ]
        assert not isinstance(posted[-1], Error), posted
        activity_id = 1
        work = plan(students, submissions)

        async def arrive(i: int, student: str, answer: str) -> tuple[float, bool]:
            if window > 0:
                await asyncio.sleep(window * i / len(work))
            return await submit(app, student, activity_id, answer)

        started = time.perf_counter()
        results = await asyncio.gather(*(arrive(i, s, a) for i, (s, a) in enumerate(work)))
        total = time.perf_counter() - started

        async with app.services.store.session() as session:
            rows = await session.scalar(select(func.count()).select_from(Submission))
            versions = await session.scalar(select(func.count()).select_from(SubmissionVersion))
            version_sum = await session.scalar(select(func.sum(Submission.version)))
            # The kept answer is the newest version's answer, for every student.
            matched = await session.scalar(
                select(func.count())
                .select_from(Submission)
                .join(
                    SubmissionVersion,
                    (SubmissionVersion.submission_id == Submission.id)
                    & (SubmissionVersion.version == Submission.version)
                    & (SubmissionVersion.answer == Submission.answer),
                )
            )
    finally:
        await app.close()

    latencies = sorted(ms * 1000 for ms, _ in results)
    return {
        "window_s": window,
        "failed_replies": sum(1 for _, ok in results if not ok),
        "submission_rows": rows,
        "expected_rows": min(students, submissions),
        "version_rows": versions,
        "lost": submissions - (versions or 0),
        "versions_consistent": version_sum == versions and matched == rows,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
        "max_ms": round(latencies[-1], 1),
        "total_s": round(total, 2),
        "per_second": round(submissions / total, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--window", type=float, default=10.0, help="paced arrivals over N s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        burst = await scenario(Path(tmp) / "burst.db", args.students, args.submissions, 0.0)
        paced = await scenario(Path(tmp) / "paced.db", args.students, args.submissions, args.window)
    report = {
        # Latency here is mostly waiting for a CPU: note how busy the machine was.
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "students": args.students,
        "submissions": args.submissions,
        "database": "sqlite (WAL, file)",
        "goal_p99_ms": 500,
        "lost": burst["lost"] + paced["lost"],
        "burst": burst,
        "paced": paced,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
