"""A bot killed with SIGKILL mid-way loses nothing: after a restart every job is delivered
once, and no job that finished runs again (results wait on the Redis stream until a bot
has recorded them)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bot.replies import Card
from tests.jobs.support import job_bot
from tests.scale.support import REPO, Cluster, read_sends
from tests.scale.test_workers import UNUSED
from tests.support.botdriver import FakeClock

JOBS = 10


async def test_a_bot_killed_mid_way_delivers_every_job_once_after_restart(
    cluster: Cluster, tmp_path: Path, tiny_model_dir: Path
) -> None:
    cluster.start_worker()
    cluster.wait_workers(1)
    sends = tmp_path / "sends.jsonl"
    bot = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.scale.botproc",
            str(tmp_path),
            cluster.queue,
            str(tiny_model_dir),
            str(JOBS),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 180
        # Killed once some results went out and others are still to come, while a batch
        # runs on the worker and no reply is between its send and its record (a crash
        # there sends that reply again: see bot/jobs/engine.py, _finish).
        while not _mid_way(sends, tmp_path / "bot" / "classbot.db", cluster):
            assert bot.poll() is None, "the bot process exited"
            assert time.monotonic() < deadline, "no results from the first bot"
            await asyncio.sleep(0.02)
    finally:
        bot.kill()
        bot.wait()
    ids = json.loads((tmp_path / "ids.json").read_text())
    before = Counter(str(s["key"]) for s in read_sends(sends) if s["final"])
    assert len(before) < JOBS, "everything finished before the kill: nothing tested"

    # The restarted bot's clock is past every lease the first one took: only the
    # heartbeats and the unrecorded results keep its jobs from running again.
    later = FakeClock(datetime(2026, 3, 2, 9, 10, tzinfo=UTC))
    async with job_bot(
        tmp_path / "bot",
        UNUSED,
        tiny_model_dir,
        clock=later,
        links=cluster.links(),
        max_queued_jobs_per_user=10,
    ) as restarted:
        deadline = time.monotonic() + 240
        while True:
            jobs = await restarted.jobs()
            if all(jobs[i].delivered_at is not None for i in ids):
                break
            assert time.monotonic() < deadline, {i: jobs[i].state for i in ids}
            await asyncio.sleep(0.2)
        after = Counter(str(s.key) for s in restarted.outbox.sent if isinstance(s.reply, Card))
        assert all(isinstance(r.reply, Card) for r in restarted.outbox.finals())
    total = before + after
    assert {f"job:{i}": 1 for i in ids} == dict(total)  # each delivered exactly once
    assert {jobs[i].attempt for i in ids} == {1}  # none ran twice
    assert all(jobs[i].state == "succeeded" for i in ids)


def _mid_way(sends: Path, database: Path, cluster: Cluster) -> bool:
    sent = {str(s["key"]) for s in read_sends(sends) if s["final"]}
    if len(sent) < 2 or cluster.worker_running_a_batch() is None:
        return False
    with sqlite3.connect(database) as db:
        recorded = {
            f"job:{i}" for (i,) in db.execute("SELECT id FROM jobs WHERE delivered_at IS NOT NULL")
        }
    return sent == recorded
