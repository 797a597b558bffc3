"""Jobs through one bot process: the RQ backend (one `classbot worker`) vs embedded workers.
Prints one JSON line per backend.

- jobs_per_s: N short /generate jobs from 8 students, submitted at once, until every result
  is delivered;
- per job, in the bot process only: CPU ms (router, queue, relay, Redis reader threads),
  SQL statements, Redis commands (goal: ≤ 5 SQL statements and ≤ 10 ms bot CPU per job).
  Redis commands include the links' idle polling over the run (a blocking read per link
  every 0.5 s, a heartbeat scan per second), which does not grow with the jobs.

    .venv/bin/python bench/bench_scale.py [--jobs 48] [--tokens 4]

Needs Redis on CLASSBOT_REDIS_URL (default redis://127.0.0.1:6379/0) for the RQ half;
without it that half is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import job_key, started_bot  # noqa: E402
from bench.common import student as _actor  # noqa: E402

REDIS_URL = os.environ.get("CLASSBOT_REDIS_URL", "redis://127.0.0.1:6379/0")


class Counts:
    """Redis commands sent by this process (pipelined ones each count)."""

    redis = 0

    @classmethod
    def install(cls) -> None:
        from redis.connection import AbstractConnection

        one, many = AbstractConnection.pack_command, AbstractConnection.pack_commands

        def pack_command(self: Any, *args: Any) -> Any:
            cls.redis += 1
            return one(self, *args)

        def pack_commands(self: Any, commands: Any) -> Any:
            commands = list(commands)
            cls.redis += len(commands)
            return many(self, commands)

        AbstractConnection.pack_command = pack_command  # type: ignore[method-assign]
        AbstractConnection.pack_commands = pack_commands  # type: ignore[method-assign]


@contextmanager
def rq_worker(queue: str) -> Iterator[None]:
    from redis import Redis

    from bot.jobs.rq import Keys

    env = {**os.environ, "PYTHONPATH": str(ROOT), "CLASSBOT_REDIS_URL": REDIS_URL}
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker", "--queue", queue],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    redis = Redis.from_url(REDIS_URL)
    try:
        deadline = time.monotonic() + 120
        while not Keys(queue).workers(redis):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the RQ worker did not start")
            time.sleep(0.1)
        yield
    finally:
        worker.terminate()
        worker.wait(30)
        for key in redis.scan_iter(match=f"{queue}*"):
            redis.delete(key)
        for key in redis.scan_iter(match=f"rq:*{queue}*"):
            redis.delete(key)


async def run(model_dir: Path, jobs: int, tokens: int, **overrides: Any) -> dict[str, Any]:
    from sqlalchemy import event

    async with started_bot(text_model=str(model_dir), **overrides) as (app, outbox):
        sql = [0]

        def count(*_: Any) -> None:
            sql[0] += 1

        engine = app.services.store.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)

        async def submit(i: int) -> str:
            line = f'/generate prompt:"Tokens {i}" seed:{i} max_new_tokens:{tokens}'
            replies = [r async for r in app.router.run_line(line, _actor(f"s{i % 8}"))]
            return job_key(replies[-1].label)

        # One warm-up job: the worker loads the model before the clock starts.
        await outbox.wait({await submit(10_000)})
        await app.wait_idle()
        sql[0], Counts.redis = 0, 0
        cpu, wall = time.process_time(), time.perf_counter()
        keys = set(await asyncio.gather(*(submit(i) for i in range(jobs))))
        await outbox.wait(keys)
        await app.wait_idle()
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        statements, commands = sql[0], Counts.redis
        event.remove(engine, "before_cursor_execute", count)
    return {
        "jobs": jobs,
        "jobs_per_s": round(jobs / wall, 1),
        "bot_cpu_ms_per_job": round(1000 * cpu / jobs, 2),
        "sql_per_job": round(statements / jobs, 2),
        "redis_commands_per_job": round(commands / jobs, 2),
        "seconds": round(wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=48)
    parser.add_argument("--tokens", type=int, default=4)
    args = parser.parse_args()
    from redis import Redis

    from tests.support.tiny_models import build_text_model

    Counts.install()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_text_model(Path(tmp) / "tiny-gpt-neo")
        embedded = asyncio.run(run(model_dir, args.jobs, args.tokens))
        print(json.dumps({"bench": "scale", "backend": "embedded", **embedded}))
        try:
            Redis.from_url(REDIS_URL, socket_timeout=2).ping()
        except Exception as error:
            print(json.dumps({"bench": "scale", "backend": "rq", "skipped": str(error)}))
            return
        queue = f"classbot-bench-{uuid.uuid4().hex[:8]}"
        os.environ["CLASSBOT_RQ_QUEUE"] = queue
        with rq_worker(queue):
            on_rq = asyncio.run(
                run(model_dir, args.jobs, args.tokens, queue_backend="rq", redis_url=REDIS_URL)
            )
        print(json.dumps({"bench": "scale", "backend": "rq", **on_rq}))


# The embedded worker is started with `spawn`, which re-imports this file: work under main.
if __name__ == "__main__":
    main()
