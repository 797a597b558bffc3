"""Router overhead: parse + validate + role/rate checks + handler, for /help, on SQLite.

Prints JSON: p50/p99 milliseconds per command: sequential (each a new student), 200 new
students at once, and the same 200 again.
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


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{tmp}/bench.db",
            rate_limit_per_minute=100_000,
            rate_limit_burst=100_000,
        )
        app = await create_app(settings)

        async def one(i: int) -> float:
            actor = Actor("console", f"u{i}", "u", Role.STUDENT, "g", "c")
            started = time.perf_counter()
            async for _ in app.router.run_line("/help help", actor):
                pass
            return (time.perf_counter() - started) * 1000

        for i in range(20):  # warm up
            await one(i)
        sequential = [await one(i) for i in range(300)]
        started = time.perf_counter()
        # 200 students typing their very first command at once: each one is a database write.
        first = await asyncio.gather(*(one(1000 + i) for i in range(200)))
        first_wall = time.perf_counter() - started
        started = time.perf_counter()
        # The same 200 again: the steady state of a class.
        concurrent = await asyncio.gather(*(one(1000 + i) for i in range(200)))
        wall = time.perf_counter() - started
        await app.close()
    print(
        json.dumps(
            {
                "bench": "router",
                "sequential_p50_ms": round(statistics.median(sequential), 2),
                "sequential_p99_ms": round(percentile(sequential, 0.99), 2),
                "first_commands200_p50_ms": round(statistics.median(first), 2),
                "first_commands200_p99_ms": round(percentile(first, 0.99), 2),
                "first_commands200_wall_s": round(first_wall, 3),
                "concurrent200_p50_ms": round(statistics.median(concurrent), 2),
                "concurrent200_p99_ms": round(percentile(concurrent, 0.99), 2),
                "concurrent200_wall_s": round(wall, 3),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
