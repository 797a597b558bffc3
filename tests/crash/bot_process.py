"""The real `classbot slack --http` in a subprocess, driven as Slack drives it: signed
slash commands over HTTP, replies to a Web API stand-in in the test process (so what the
students were told survives the bot's restarts)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp

from tests.slack.harness import SECRET, TEAM, sign
from tests.slack.webapi_stub import SlackStub

ROOT = Path(__file__).resolve().parents[2]
TEACHER = "U0TEACH"
CHANNEL = "C0CLASS"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SlackBot:
    """One `classbot slack --http` process after another, on one database and one port."""

    def __init__(self, tmp_path: Path, stub: SlackStub) -> None:
        self.tmp_path = tmp_path
        self.stub = stub
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/slack/events"
        self.database = tmp_path / "class.db"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.response_urls: dict[str, str] = {}  # url id → the student it was given to

    def env(self) -> dict[str, str]:
        kept = {k: v for k, v in os.environ.items() if not k.startswith(("CLASSBOT_", "SLACK_"))}
        return {
            **kept,
            "PYTHONPATH": str(ROOT),
            "CLASSBOT_DATABASE_URL": f"sqlite:///{self.database}",
            "CLASSBOT_OUT_DIR": str(self.tmp_path / "out"),
            "CLASSBOT_SLACK_API_URL": self.stub.api_url,
            "CLASSBOT_INSTRUCTORS": TEACHER,
            "CLASSBOT_LOG_FILE": str(self.tmp_path / "bot.log"),
            "SLACK_BOT_TOKEN": "xoxb-crash-test",
            "SLACK_SIGNING_SECRET": SECRET,
        }

    async def start(self) -> None:
        self.starts += 1
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "slack", "--http", "--port", str(self.port)],
            env=self.env(),
            cwd=self.tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=(self.tmp_path / f"stderr-{self.starts}.txt").open("wb"),
        )
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                assert self.process.poll() is None, self.log()
                try:
                    async with http.post(self.url, data=b"") as response:
                        if response.status == 401:  # up, and refusing an unsigned request
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"the bot did not start\n{self.log()}")

    def signal(self, signum: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    async def wait(self, timeout: float = 60) -> int:
        assert self.process is not None
        return await asyncio.to_thread(self.process.wait, timeout)

    def log(self) -> str:
        parts = [p.read_text(errors="replace") for p in sorted(self.tmp_path.glob("stderr-*.txt"))]
        log = self.tmp_path / "bot.log"
        return "\n".join([*parts, log.read_text(errors="replace") if log.exists() else ""])[-6000:]

    def body(self, user: str, text: str, *, name: str = "") -> str:
        response_url = self.stub.response_url()
        self.response_urls[response_url.rsplit("/", 1)[1]] = user
        return urllib.parse.urlencode(
            {
                "team_id": TEAM,
                "channel_id": CHANNEL,
                "user_id": user,
                "user_name": name or user.lower(),
                "command": "/classbot",
                "text": text,
                "response_url": response_url,
                "trigger_id": f"trigger-{user}-{time.perf_counter_ns()}",
            }
        )

    async def send(self, http: aiohttp.ClientSession, body: str) -> int:
        async with http.post(self.url, data=body.encode(), headers=sign(body)) as response:
            await response.read()
            return response.status

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.database, timeout=10) as db:
            return db.execute(sql, params).fetchall()

    async def until(self, sql: str, expected: Any, timeout: float = 60) -> Any:
        """Poll the database until `sql`'s first value is `expected`; return the last value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = self.query(sql)[0][0]
            except sqlite3.OperationalError:  # no such table yet, or locked for a moment
                value = None
            if value == expected:
                return value
            await asyncio.sleep(0.1)
        return value
