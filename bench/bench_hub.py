"""A class at once: 50 students send the same /search, then 50 open /search model:gpt2.

Runs the real bot (router, handlers, HubClient, huggingface_hub, SQLite) against the local
Hub stand-in and counts the requests that reach it (goal: 1 per distinct question). Each
case runs twice: with the stand-in answering at once, and with 200 ms of latency like a
real Hub far away (so the 50 overlap the one request in flight).

Then a sick Hub: 60 students ask 60 different questions of a Hub that never answers
(goal: every one answered, the slowest within 12 s, with the default 10 s timeout), and 60
more once the circuit breaker is open (goal: answered at once). Prints JSON.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile
from bot.app import create_app
from bot.config import Settings
from bot.identity import Actor, Role
from bot.replies import Error
from tests.support.hub_stub import HubStub, point_huggingface_hub_at

STUDENTS = 50


async def burst(hub: HubStub, line: str, prefix: str, delay: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{tmp}/bench.db",
            datasets_server_url=hub.viewer_url,
        )
        app = await create_app(settings)
        hub.reset()
        if delay:
            hub.inject("/", delay=delay, times=10_000)

        async def one(i: int) -> tuple[float, bool]:
            actor = Actor("console", f"student{i}", f"student{i}", Role.STUDENT, "class", "c1")
            started = time.perf_counter()
            replies = [r async for r in app.router.run_line(line, actor)]
            return (time.perf_counter() - started) * 1000, not isinstance(replies[-1], Error)

        started = time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in range(STUDENTS)))
        wall = (time.perf_counter() - started) * 1000
        await app.close()
    times = [t for t, _ in results]
    return {
        "command": line,
        "students": STUDENTS,
        "hub_latency_ms": round(delay * 1000),
        "answered": sum(ok for _, ok in results),
        "upstream_requests": hub.count(prefix),
        "upstream_requests_all": hub.count(),
        "p50_ms": round(statistics.median(times), 1),
        "p99_ms": round(percentile(times, 0.99), 1),
        "wall_ms": round(wall, 1),
    }


HANGING_STUDENTS = 60
KINDS = (
    "/search word{i}",
    "/search model:class/model-{i}",
    "/dataset id:class/data-{i}",
    "/generate prompt:Hello model:class/model-{i}",
)


async def hanging(hub: HubStub) -> list[dict[str, object]]:
    report: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{tmp}/bench.db",
            datasets_server_url=hub.viewer_url,
            rate_limit_per_minute=10_000,
            rate_limit_burst=10_000,
        )
        app = await create_app(settings)
        hub.reset()
        hub.inject("/", mode="hang", times=100_000)

        async def one(i: int, wave: str) -> tuple[float, bool]:
            actor = Actor("console", f"s{wave}{i}", f"s{wave}{i}", Role.STUDENT, "class", "c1")
            line = KINDS[i % len(KINDS)].format(i=f"{wave}{i}")
            started = time.perf_counter()
            replies = [r async for r in app.router.run_line(line, actor)]
            plain = isinstance(replies[-1], Error) and "Something went wrong" not in str(
                replies[-1]
            )
            return (time.perf_counter() - started) * 1000, plain

        for wave in ("first", "breaker_open"):
            started = time.perf_counter()
            results = await asyncio.gather(*(one(i, wave) for i in range(HANGING_STUDENTS)))
            wall = (time.perf_counter() - started) * 1000
            times = [t for t, _ in results]
            report.append(
                {
                    "case": f"hanging hub, {wave}",
                    "students": HANGING_STUDENTS,
                    "hub_timeout_s": settings.hub_timeout_seconds,
                    "answered_plainly": sum(ok for _, ok in results),
                    "p50_ms": round(statistics.median(times), 1),
                    "p99_ms": round(percentile(times, 0.99), 1),
                    "max_ms": round(max(times), 1),
                    "wall_ms": round(wall, 1),
                }
            )
        hub.reset()
        await app.close()
    return report


async def main() -> None:
    with HubStub() as hub, tempfile.TemporaryDirectory() as cache:
        point_huggingface_hub_at(hub.url, cache)
        cases = [
            ("/search task:text-generation sort:likes limit:5", "/api/models"),
            ("/search model:gpt2", "/api/models/gpt2"),
        ]
        report = [
            await burst(hub, line, prefix, delay) for delay in (0.0, 0.2) for line, prefix in cases
        ]
        report += await hanging(hub)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
