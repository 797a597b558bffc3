"""A bot on the RQ backend in its own process, for tests that SIGKILL it.

    python -m tests.scale.botproc TMP QUEUE MODEL_DIR JOBS

Submits JOBS /generate jobs from seven students, writes their ids to TMP/ids.json, then
serves until killed. Every reply it sends is appended to TMP/sends.jsonl as it goes out.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from bot.delivery import Destination
from bot.replies import Progress, Reply
from tests.jobs.support import job_bot
from tests.scale.support import Cluster
from tests.scale.test_workers import UNUSED, USERS


class FileOutbox:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, destination: Destination, reply: Reply, *, key: str | None = None) -> None:
        with self.path.open("a") as out:
            out.write(json.dumps({"key": key, "final": not isinstance(reply, Progress)}) + "\n")
            out.flush()


async def main(tmp: Path, queue: str, model_dir: Path, count: int) -> None:
    cluster = Cluster(queue, tmp)
    async with job_bot(
        tmp / "bot", UNUSED, model_dir, links=cluster.links(), max_queued_jobs_per_user=10
    ) as bot:
        bot.driver.app.services.outboxes["console"] = FileOutbox(tmp / "sends.jsonl")  # type: ignore[assignment]
        ids = [
            await bot.generate(
                f'/generate prompt:"k{i}" seed:{i} max_new_tokens:120', user=USERS[i % 7]
            )
            for i in range(count)
        ]
        (tmp / "ids.json").write_text(json.dumps(ids))
        await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])))
