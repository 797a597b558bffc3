"""The model worker's one reader of its pipe: the main thread between batches, the control
thread while a batch runs (bot/jobs/worker.py's _Reader), with a real pipe and no torch."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection

import pytest

from bot.jobs.worker import _Reader


@pytest.fixture
def piped() -> Iterator[tuple[_Reader, Connection]]:
    ours, theirs = multiprocessing.Pipe()
    reader = _Reader(theirs)
    reader.started = True
    threading.Thread(target=reader.watch, daemon=True).start()
    try:
        yield reader, ours
    finally:
        ours.close()


def _run(job: int) -> dict[str, object]:
    return {"op": "run", "batch": f"b{job}", "kind": "run", "jobs": [{"id": job, "params": {}}]}


def _until(done: Callable[[], bool], within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(0.005)
    return False


def test_between_batches_the_main_thread_reads_and_notes_cancels(
    piped: tuple[_Reader, Connection],
) -> None:
    reader, bot = piped
    bot.send({"op": "cancel", "id": 7})
    bot.send(_run(1))
    assert reader.next_run() == _run(1)
    assert 7 in reader.cancelled


def test_while_a_batch_runs_cancels_arrive_and_runs_wait_their_turn(
    piped: tuple[_Reader, Connection],
) -> None:
    reader, bot = piped
    bot.send(_run(1))
    batch = reader.next_run()
    assert batch == _run(1)
    with reader.busy():
        bot.send({"op": "cancel", "id": 1})
        assert _until(lambda: 1 in reader.cancelled)  # reaches the batch in hand
        bot.send(_run(2))
        bot.send({"op": "stop"})
        time.sleep(3 * 0.05)  # the control thread reads them meanwhile
    assert reader.next_run() == _run(2)  # in order, after the batch
    assert reader.next_run() is None  # then the stop


def test_a_stop_while_idle_ends_the_loop(piped: tuple[_Reader, Connection]) -> None:
    reader, bot = piped
    bot.send({"op": "stop"})
    assert reader.next_run() is None
