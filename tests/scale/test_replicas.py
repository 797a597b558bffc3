"""Bot replicas on one PostgreSQL: each job is delivered once, by a replica that serves its
platform; replicas that start together on a fresh database all start (migrations take
turns under an advisory lock)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bot.delivery import Destination
from bot.jobs.protocol import JobRequest
from bot.replies import Card, Text
from tests.jobs.support import job_bot, until
from tests.scale.support import REPO, Cluster
from tests.scale.test_workers import UNUSED, USERS
from tests.support.outbox import RecordingOutbox

START = """
import asyncio, sys
from bot.app import create_app
from bot.config import Settings

async def main():
    app = await create_app(Settings(_env_file=None, database_url=sys.argv[1]))
    await app.close()

asyncio.run(main())
print("started")
"""


def test_replicas_started_together_on_a_fresh_database_all_start(postgres_url: str) -> None:
    replicas = [
        subprocess.Popen(
            [sys.executable, "-c", START, postgres_url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [r.communicate(timeout=120)[0] for r in replicas]
    assert [r.returncode for r in replicas] == [0, 0, 0], outputs
    assert all("started" in out for out in outputs)


async def test_two_replicas_deliver_each_job_once_on_its_own_platform(
    cluster: Cluster, tmp_path: Path, tiny_model_dir: Path, postgres_url: str
) -> None:
    cluster.start_worker()
    cluster.wait_workers(1)
    common = {"database_url": postgres_url, "max_queued_jobs_per_user": 10}
    async with (
        job_bot(tmp_path / "a", UNUSED, tiny_model_dir, links=cluster.links(), **common) as a,
        job_bot(tmp_path / "b", UNUSED, tiny_model_dir, links=cluster.links(), **common) as b,
    ):
        # Replica b serves "slack" only; replica a serves "console" only.
        slack = RecordingOutbox()
        outboxes = b.driver.app.services.outboxes
        outboxes.pop("console")
        outboxes["slack"] = slack
        on_console = [
            await a.generate(f'/generate prompt:"c{i}" seed:{i} max_new_tokens:16', user=USERS[i])
            for i in range(5)
        ]
        template = (await a.jobs())[on_console[0]]
        on_slack = []
        for i in range(5):
            params = {k: v for k, v in template.params.items() if not k.startswith("_")}
            ticket = await b.engine.submit(
                JobRequest(
                    kind=template.kind,
                    params={**params, "seed": 100 + i},
                    guild_pk=template.guild_id,
                    user_pk=template.user_id,
                    destination=Destination("slack", "T1", "C1", f"U{i}"),
                    batch_key=template.params["_batch"]["key"],
                )
            )
            b.engine.release(ticket.job_id)
            on_slack.append(ticket.job_id)
        deadline = time.monotonic() + 180
        while True:
            jobs = await a.jobs()
            if all(jobs[i].delivered_at for i in on_console + on_slack):
                break
            assert time.monotonic() < deadline, {i: jobs[i].state for i in jobs}
            await _sleep()
    console = [d.key for d in a.outbox.finals()]
    assert sorted(console) == sorted(f"job:{i}" for i in on_console)  # once each, no slack
    assert sorted(d.key for d in slack.finals()) == sorted(f"job:{i}" for i in on_slack)
    assert all(isinstance(d.reply, Card) for d in a.outbox.finals() + slack.finals())
    assert not b.outbox.finals()  # b never used a console outbox
    assert {jobs[i].attempt for i in jobs} == {1}


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.2)


async def test_a_cancel_from_another_replica_reaches_the_worker_at_once(
    cluster: Cluster, tmp_path: Path, tiny_model_dir: Path, postgres_url: str
) -> None:
    cluster.start_worker()
    cluster.wait_workers(1)
    common = {"database_url": postgres_url}
    async with (
        job_bot(tmp_path / "a", UNUSED, tiny_model_dir, links=cluster.links(), **common) as a,
        job_bot(tmp_path / "b", UNUSED, tiny_model_dir, links=cluster.links(), **common) as b,
    ):
        job = await a.generate('/generate prompt:"b" max_new_tokens:256 seed:3', user="ana")
        await until(
            lambda: any("generating" in getattr(r, "label", "") for r in a.outbox.for_job(job)),
            what="generation to start",
            timeout=120,
        )

        # Replica a no longer sweeps (as if it died with the job on the shared worker):
        # the cancel must not wait for a's sweep to pass it on.
        async def no_sweep(*, first: bool = False) -> None:
            return None

        a.engine._sweep = no_sweep  # type: ignore[method-assign]
        stopping = await b.run(f"/jobs cancel id:{job}", user="ana")
        assert isinstance(stopping, Text) and "Stopping" in stopping.text
        await until(lambda: bool(a.outbox.finals()), what="the job to end", timeout=60)
        assert a.outbox.final(job) == Text(text=f"Job {job} was cancelled.", shareable=False)
