"""The hosted link on its own: the messages the engine reads back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.inference.hosted.backend import HostedBackend
from bot.jobs.hosted.link import HostedLink
from bot.jobs.kinds import by_name
from tests.hosted.conftest import hosted_settings
from tests.support.providers_stub import ProvidersStub


async def test_a_cancel_sent_before_the_batch_begins_still_reports_the_job(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    link = HostedLink(HostedBackend("hf", hosted_settings(tmp_path, providers)), by_name(), 0)
    got: list[dict[str, Any]] = []
    link.attach(lambda _link, message: got.append(dict(message)))
    link.start()
    link.send({"op": "run", "batch": "b1", "kind": "generate", "jobs": [{"id": 5, "params": {}}]})
    link.send({"op": "cancel", "id": 5})  # before the batch's task has run at all
    for _ in range(100):
        if any(m["op"] == "batch_done" for m in got):
            break
        await asyncio.sleep(0.01)
    ops = [(m["op"], m.get("state")) for m in got]
    assert ops == [("ready", None), ("result", "cancelled"), ("batch_done", None)]
    assert providers.requests() == []
    link.stop()
