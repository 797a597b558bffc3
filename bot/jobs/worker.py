"""One long-lived model worker process per device, started with multiprocessing `spawn`.

The bot process never imports torch: the worker does, once, and keeps its models loaded
between jobs. `spawn` (not fork) gives the worker a clean interpreter: forking a process
that runs an asyncio loop, threads and database connections copies them half-alive, and
CUDA cannot be used after a fork at all.

Messages (bot/jobs/wire.py) go over a Pipe; when the pipe breaks, the bot's reader thread
makes the `exit` message (killed, out of memory, crashed).

The bot decides when its workers stop: a worker ignores SIGINT and SIGTERM, which Ctrl-C
and `systemctl stop` send to every process of the bot, so that the bot can hand the jobs
back to the queue instead of watching them fail. WorkerProcess.stop asks, then kills.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import multiprocessing
import multiprocessing.util
import os
import signal
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection

from bot.jobs import wire
from bot.jobs.links import LinkBase, LinkFactory, Sink, WorkerLink
from bot.jobs.wire import FromWorker, ToWorker, WorkerConfig
from bot.logs import WorkerLogging, setup_worker_logging

log = logging.getLogger(__name__)

# The bot's stop signals (bot/cli.py): the bot stops its workers itself.
IGNORED_SIGNALS = (signal.SIGINT, signal.SIGTERM)

__all__ = ["Sink", "WorkerConfig", "WorkerLink", "WorkerProcess", "local_links", "worker_main"]


class WorkerProcess(LinkBase):
    """The bot's handle on one worker process; survives restarts of the process itself.

    Messages arrive on a reader thread and are handed to the attached sink (the engine
    re-posts them onto its event loop). Each spawn has a new `generation`, stamped on its
    messages, so late messages from a dead process are told apart.
    """

    def __init__(self, config: WorkerConfig) -> None:
        super().__init__()
        self.config = config
        self.info: wire.Ready | None = None
        self.ready = threading.Event()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._reaper: multiprocessing.util.Finalize[None] | None = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=worker_main,
            args=(child, self.config),
            name=f"classbot-worker-{self.config.device}",
            daemon=True,  # never outlives the bot
        )
        process.start()
        child.close()  # so the bot sees EOF when the worker dies
        generation = self._next_generation()
        with self._lock:
            self._process, self._conn = process, parent
            self.ready.clear()
        self._watch_exit(process)
        threading.Thread(
            target=self._read,
            args=(parent, process, generation),
            name=f"classbot-worker-reader-{generation}",
            daemon=True,
        ).start()

    def _read(
        self, conn: Connection, process: multiprocessing.process.BaseProcess, generation: int
    ) -> None:
        while True:
            try:
                message: FromWorker = conn.recv()
            except (EOFError, OSError):
                break
            if message["op"] == "ready":
                self.info = message
                self.ready.set()
            self._emit(generation, message)
        process.join(timeout=5)
        self._emit(generation, {"op": "exit", "code": process.exitcode})

    def send(self, message: ToWorker) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            with self._lock:
                conn.send(message)
        except (OSError, ValueError):
            return False
        return True

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def kill(self) -> None:
        """Kill the process at once, as the kernel's out-of-memory killer would."""
        if self._process is not None and self._process.pid and self._process.is_alive():
            os.kill(self._process.pid, signal.SIGKILL)

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the worker to finish its batch and exit; kill it if it does not (it ignores
        SIGTERM, so there is no terminating it more gently)."""
        process = self._process
        if process is None:
            return
        self.send({"op": "stop"})
        process.join(timeout)
        _kill(process)
        process.join(2)
        if self._conn is not None:
            self._conn.close()
        if self._reaper is not None:
            self._reaper.cancel()
        self._process, self._conn, self._reaper = None, None, None

    def _watch_exit(self, process: multiprocessing.process.BaseProcess) -> None:
        """Kill the process when the bot exits without stopping it. multiprocessing's own
        clean-up at exit terminates daemonic children (SIGTERM, ignored here) and then waits
        for them: it would wait forever. Its finalizers run before that."""
        if self._reaper is not None:
            self._reaper.cancel()  # the process it watched is gone: this one replaces it
        self._reaper = multiprocessing.util.Finalize(self, _kill, args=(process,), exitpriority=0)


def _kill(process: multiprocessing.process.BaseProcess) -> None:
    # is_alive() reaps an exited child first, so its pid is never one reused since.
    if process.is_alive():
        process.kill()


# -- inside the worker process ------------------------------------------------------------------


def worker_main(conn: Connection, config: WorkerConfig) -> None:
    """The worker's whole life: import the model stack once, then run batches in order."""
    for signum in IGNORED_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        # Chat comes first: when the CPU is short, the bot's event loop (acks, /help) must
        # not wait behind a batch of matrix multiplications.
        os.nice(10)
    setup_worker_logging(WorkerLogging(config.log_level, config.log_file))
    send_lock = threading.Lock()

    def send(message: FromWorker) -> None:
        with send_lock:
            conn.send(message)

    reader = _Reader(conn)
    threading.Thread(target=reader.watch, name="control", daemon=True).start()
    with reader.busy():  # importing: a stop ends the worker at once
        from bot.jobs.tasks import Runtime  # torch and transformers load here

        runtime = Runtime(config, send, reader.cancelled)
    reader.started = True
    send({"op": "ready", "device": str(runtime.device), "pid": os.getpid()})
    while (batch := reader.next_run()) is not None:
        with reader.busy():
            runtime.run_batch(batch)


# How often the watcher looks again whether a batch still runs, while no message comes.
WATCH_EVERY = 0.05


class _Reader:
    """The one reader of the worker's end of the pipe, on two threads in turn.

    Between batches the main thread reads it itself, so a job starts the moment it arrives.
    Measured on a 2-core machine with a DistilBERT-sized /run: with a control thread that
    read every message and handed batches over through a queue, the forward pass took 3 to
    4 ms longer (34.6-37.1 ms against 30.6-32.9 ms, three runs of each in turn) besides
    the hand-over. While a batch runs, or torch imports, the `control` thread (watch) reads
    instead: cancels must reach the running batch, and a stop must end an import. Whoever
    holds `_lock` reads; a run or stop the control thread reads waits in `_later`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.cancelled: set[int] = set()
        self.started = False  # torch imported: a stop now waits for the batch in hand
        self._lock = threading.Lock()
        self._later: collections.deque[ToWorker] = collections.deque()
        self._running = threading.Event()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """While the main thread works, the control thread reads."""
        self._running.set()
        try:
            yield
        finally:
            self._running.clear()

    def next_run(self) -> wire.Run | None:
        """The next batch to run (cancels meanwhile noted); None once the bot says stop."""
        while True:
            with self._lock:
                message = self._later.popleft() if self._later else self._recv()
            if message["op"] == "run":
                return message
            if message["op"] == "stop":
                return None
            self._note(message)

    def watch(self) -> None:
        """The control thread: read while the main thread is busy."""
        while True:
            self._running.wait()
            if not self.conn.poll(WATCH_EVERY) or not self._lock.acquire(blocking=False):
                continue  # nothing came, or the main thread reads again
            try:
                if self._running.is_set() and self.conn.poll(0):
                    self._note(self._recv())
            finally:
                self._lock.release()

    def _note(self, message: ToWorker) -> None:
        if message["op"] == "cancel":
            self.cancelled.add(int(message["id"]))
        elif message["op"] == "stop" and not self.started:
            os._exit(0)  # still importing torch: nothing to finish
        else:
            self._later.append(message)  # a run or a stop: after the batch in hand

    def _recv(self) -> ToWorker:
        try:
            message: ToWorker = self.conn.recv()
        except (EOFError, OSError):
            os._exit(0)  # the bot is gone: nobody is left to read results
        return message


def local_links(config: WorkerConfig, devices: list[str]) -> LinkFactory:
    """The embedded backend: one worker process per planned device (started on first use)."""

    async def make(owner: str) -> list[WorkerLink]:
        return [WorkerProcess(dataclasses.replace(config, device=d)) for d in devices]

    return make
