"""How fast does the Slack adapter ack slash commands while it is busy? Prints one JSON object.

Three processes, as in production: the bot (the real core app and the real Bolt app, served
over HTTP on loopback by the adapter's own aiohttp server), a Slack Web API stand-in
(tests/slack/webapi_stub.py: auth.test, users.info, the response_urls), and this driver
playing Slack: it sends bursts of correctly signed slash-command requests, each on its own
connection, and times each to its HTTP status line. Per round, three bursts:

- `bare_aiohttp`: the same burst to a handler that only answers 200 in the same server: the
  floor of the transport on this machine;
- `idle`: 200 `/help` from 200 different students at once (`--burst note`: 200 `/note`, a
  durable command, so each is saved in the inbox before its ack);
- `busy`: the same while `--crunch` slow commands run (real CPU work: PBKDF2 in worker
  threads, with progress edits).

Every command's work (users.info, the database, rendering, the response_url post) runs in the
bot process while the other acks are pending; `all_answered_s` is when the last of the burst's
replies reached its response_url. Slack wants the ack within 3 s; the goal is p99 ≤ 100 ms.

    .venv/bin/python bench/bench_slack_ack.py [--requests 200] [--crunch 2] [--rounds 3]
        [--burst help|note]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import AsyncIterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.slack import SlackAdapter, start_http  # noqa: E402
from bot.app import create_app  # noqa: E402
from bot.commands import all_commands  # noqa: E402
from bot.replies import Progress, Reply, Text  # noqa: E402
from bot.router import Command, Context, Option, Router  # noqa: E402
from tests.slack.harness import SECRET, sign  # noqa: E402
from tests.slack.webapi_stub import SlackStub  # noqa: E402
from tests.support.botdriver import settings_for_tests  # noqa: E402

STUDENTS = 1000


async def crunch(ctx: Context, steps: int) -> AsyncIterator[Reply]:
    """Real CPU work in a worker thread, step by step, with progress."""
    for step in range(1, steps + 1):
        await asyncio.to_thread(hashlib.pbkdf2_hmac, "sha256", b"pw", b"salt", 150_000)
        yield Progress(step=step, total=steps, label="crunching")
    yield Text(text="crunched")


CRUNCH = Command(
    name="crunch",
    handler=crunch,
    options=(Option("steps", int, "Steps", default=8),),
    rate_limited=False,
)


async def note(ctx: Context, text: str) -> Reply:
    """Keep a note (a durable command that does next to nothing: the inbox's own cost)."""
    return Text(text=f"noted: {text}", private=True)


NOTE = Command(
    name="note",
    handler=note,
    options=(Option("text", str, "The note", required=True, rest=True, max_length=200),),
    rate_limited=False,
    durable=True,
)


# -- the bot process ---------------------------------------------------------------------------


def bot_process(conn: Connection, api_url: str, workdir: str) -> None:
    asyncio.run(_bot(conn, api_url, Path(workdir)))


async def _bot(conn: Connection, api_url: str, workdir: Path) -> None:
    from aiohttp import web

    settings = settings_for_tests(workdir, slack_api_url=api_url, log_level="WARNING")
    app = await create_app(settings)
    app.router = Router([*all_commands(), CRUNCH, NOTE], app.services)
    adapter = SlackAdapter(app, bot_token="xoxb-bench", signing_secret=SECRET)

    async def bare(request: web.Request) -> web.Response:
        await request.read()
        return web.Response()

    application = adapter.web_app()
    application.router.add_post("/bare", bare)
    runner, port = await start_http(application, "127.0.0.1", 0)
    conn.send(f"http://127.0.0.1:{port}/slack/events")
    await asyncio.to_thread(conn.recv)  # "stop"
    await adapter.close()
    await runner.cleanup()
    await app.close()


# -- the Slack stand-in process ----------------------------------------------------------------


def stub_process(conn: Connection) -> None:
    asyncio.run(_stub(conn))


async def _stub(conn: Connection) -> None:
    users = {f"U{i:04d}": {"id": f"U{i:04d}", "name": f"student{i}"} for i in range(STUDENTS)}
    stub = await SlackStub(users=users).start()
    conn.send(stub.base)
    while (request := await asyncio.to_thread(conn.recv)) != "stop":
        conn.send(sum(1 for r in stub.responds if r.url_id.startswith(str(request))))
    await stub.close()


# -- the driver (Slack) ------------------------------------------------------------------------


def _body(stub_base: str, command: str, text: str, user: int, url_id: str) -> str:
    return urllib.parse.urlencode(
        {
            "team_id": "T0BENCH",
            "channel_id": "C0BENCH",
            "user_id": f"U{user:04d}",
            "user_name": f"student{user}",
            # One slash command, the classbot command as its first word (the default Slack
            # namespace, adapters/slack/namespace.py).
            "command": "/classbot",
            "text": f"{command.removeprefix('/')} {text}".strip(),
            "response_url": f"{stub_base}/respond/{url_id}",
            "trigger_id": f"trigger-{url_id}",
        }
    )


def _request(url: str, body: str) -> bytes:
    """The whole HTTP request, signed, built before the clock starts."""
    parts = urllib.parse.urlsplit(url)
    headers = {
        **sign(body),
        "Host": parts.netloc,
        "Content-Length": str(len(body.encode())),
        "Connection": "close",
    }
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"POST {parts.path} HTTP/1.1\r\n{head}\r\n{body}".encode()


async def _post(url: str, request: bytes) -> tuple[float, int]:
    """One request on its own connection (as Slack's many senders would): seconds to the
    status line of the answer, and the status. Raw sockets keep this side's cost small."""
    parts = urllib.parse.urlsplit(url)
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(request)
    status_line = await reader.readline()
    seconds = time.perf_counter() - started
    await reader.read()
    writer.close()
    return seconds, int(status_line.split()[1])


async def _answered(stub: Connection, prefix: str) -> int:
    stub.send(prefix)
    return int(await asyncio.to_thread(stub.recv))


def _stats(latencies_s: list[float], statuses: list[int]) -> dict[str, Any]:
    ms = sorted(seconds * 1000 for seconds in latencies_s)
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p90_ms": round(ms[int(0.90 * len(ms)) - 1], 1),
        "p99_ms": round(ms[int(0.99 * len(ms)) - 1], 1),
        "max_ms": round(ms[-1], 1),
        "not_200": sum(1 for status in statuses if status != 200),
    }


async def _wait_answers(stub: Connection, prefix: str, count: int, since: float) -> float:
    while await _answered(stub, prefix) < count and time.perf_counter() - since < 120:
        await asyncio.sleep(0.02)
    return time.perf_counter() - since


async def drive(
    bot_url: str, stub_base: str, stub: Connection, args: argparse.Namespace
) -> dict[str, Any]:
    def request(command: str, text: str, user: int, url_id: str) -> bytes:
        return _request(bot_url, _body(stub_base, command, text, user, url_id))

    async def burst(url: str, requests: list[bytes]) -> tuple[list[float], list[int]]:
        results = await asyncio.gather(*(_post(url, req) for req in requests))
        return [seconds for seconds, _ in results], [status for _, status in results]

    for i in range(20):  # warm up: auth.test, the database, the first users
        await _post(bot_url, request("/help", "", i, f"w{i}"))
    await _wait_answers(stub, "w", 20, time.perf_counter())
    scenarios: dict[str, list[dict[str, Any]]] = {"bare_aiohttp": [], "idle": [], "busy": []}
    bare_url = bot_url.replace("/slack/events", "/bare")
    user = 100
    for r in range(args.rounds):
        # The transport's own floor: the same burst to a handler that only answers 200.
        bare = [request("/help", "", 0, "bare") for _ in range(args.requests)]
        scenarios["bare_aiohttp"].append(_stats(*await burst(bare_url, bare)))
        for scenario in ("idle", "busy"):
            crunches = args.crunch if scenario == "busy" else 0
            for c in range(crunches):
                await _post(bot_url, request("/crunch", "steps:8", 900 + c, f"c{r}x{c}"))
            # Each burst starts from a quiet machine (the last one's sockets closed); with
            # crunches, they are mid-work by then.
            await asyncio.sleep(0.5)
            prefix = f"{scenario}{r}x"
            requests = []
            for _ in range(args.requests):
                text = f"from student {user}" if args.burst == "note" else ""
                requests.append(request(f"/{args.burst}", text, user % 900, f"{prefix}{user}"))
                user += 1
            fired = time.perf_counter()
            seconds, statuses = await burst(bot_url, requests)
            answered = await _wait_answers(stub, prefix, len(requests), fired)
            scenarios[scenario].append(
                {
                    **_stats(seconds, statuses),
                    "all_answered_s": round(answered, 2),
                    "answered": await _answered(stub, prefix),
                }
            )
            await _wait_answers(stub, f"c{r}x", crunches, time.perf_counter())
    return scenarios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--crunch", type=int, default=2, help="slow commands while busy")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--burst", choices=("help", "note"), default="help", help="the command of each burst"
    )
    args = parser.parse_args()
    spawn = multiprocessing.get_context("spawn")
    stub_conn, stub_child = spawn.Pipe()
    bot_conn, bot_child = spawn.Pipe()
    with tempfile.TemporaryDirectory() as workdir:
        stub = spawn.Process(target=stub_process, args=(stub_child,), daemon=True)
        stub.start()
        stub_base = stub_conn.recv()
        bot = spawn.Process(target=bot_process, args=(bot_child, stub_base + "/api/", workdir))
        bot.daemon = True
        bot.start()
        bot_url = bot_conn.recv()
        try:
            result = asyncio.run(drive(bot_url, stub_base, stub_conn, args))
        finally:
            bot_conn.send("stop")
            bot.join(30)
            stub_conn.send("stop")
            stub.join(10)
    worst = {name: max(r["p99_ms"] for r in rounds) for name, rounds in result.items()}
    print(
        json.dumps(
            {
                "bench": "slack_ack",
                "requests_per_burst": args.requests,
                "burst_command": args.burst,
                "slow_commands_while_busy": args.crunch,
                "transport": "HTTP/1.1 on loopback, one connection per request, signed",
                "goal_p99_ms": 100,
                "cpus": os.cpu_count(),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "worst_p99_ms": worst,
                "busy_meets_goal": worst["busy"] <= 100,
                "rounds": result,
            }
        )
    )


if __name__ == "__main__":
    main()
