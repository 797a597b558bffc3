"""One long-lived model worker process per device, started with multiprocessing `spawn`.

The bot process never imports torch: the worker does, once, and keeps its models loaded
between jobs. `spawn` (not fork) gives the worker a clean interpreter: forking a process
that runs an asyncio loop, threads and database connections copies them half-alive, and
CUDA cannot be used after a fork at all.

Messages are small dicts over a Pipe. Bot → worker: {"op": "run", "batch", "kind", "jobs"},
{"op": "cancel", "id"}, {"op": "stop"}. Worker → bot: {"op": "ready"}, {"op": "progress",
"id", "step", "total", "label"}, {"op": "result", "id", "state", "result", "error"},
{"op": "batch_done", "batch"}; and, from the bot's reader thread when the pipe breaks,
{"op": "exit", "code"} (killed, out of memory, crashed).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol

log = logging.getLogger(__name__)

Message = dict[str, Any]
Sink = Callable[["WorkerLink", Message], None]


class WorkerLink(Protocol):
    """What the dispatcher needs of a place that runs batches: a worker process here, or
    (bot/jobs/rq.py) RQ workers on other machines."""

    # Bumped at each (re)start; messages carry it, so ones from a dead run are told apart.
    generation: int

    @property
    def alive(self) -> bool: ...

    @property
    def pid(self) -> int | None: ...

    def start(self) -> None: ...

    def send(self, message: Message) -> bool: ...

    def attach(self, sink: Sink | None) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


@dataclass(frozen=True)
class WorkerConfig:
    device: str  # a planned name: "cpu", "cuda:0", "mps" (bot.inference.devices)
    memory_budget_mb: int = 0
    hf_token: str | None = None
    # The worker sends at most one progress message per job this often (the bot coalesces
    # further for chat edits).
    progress_interval: float = 0.25
    log_level: str = "WARNING"


class WorkerProcess:
    """The bot's handle on one worker process; survives restarts of the process itself.

    Messages arrive on a reader thread and are handed to the attached sink (the engine
    re-posts them onto its event loop). Each spawn has a new `generation`, stamped on its
    messages, so late messages from a dead process are told apart.
    """

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.generation = 0
        self.info: Message = {}
        self.ready = threading.Event()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._sink: Sink | None = None
        self._lock = threading.Lock()

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
        with self._lock:
            self.generation += 1
            generation = self.generation
            self._process, self._conn = process, parent
            self.ready.clear()
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
                message: Message = conn.recv()
            except (EOFError, OSError):
                break
            if message.get("op") == "ready":
                self.info = message
                self.ready.set()
            self._emit(generation, message)
        process.join(timeout=5)
        self._emit(generation, {"op": "exit", "code": process.exitcode})

    def _emit(self, generation: int, message: Message) -> None:
        message["generation"] = generation
        with self._lock:
            sink = self._sink
        if sink is not None:
            # RuntimeError: the engine's event loop closed under us; nobody is listening.
            with contextlib.suppress(RuntimeError):
                sink(self, message)

    def attach(self, sink: Sink | None) -> None:
        with self._lock:
            self._sink = sink

    def send(self, message: Message) -> bool:
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
        """Ask the worker to finish its batch and exit; kill it if it does not."""
        process = self._process
        if process is None:
            return
        self.send({"op": "stop"})
        process.join(timeout)
        if process.is_alive():
            process.terminate()
            process.join(2)
        if process.is_alive():
            process.kill()
            process.join(2)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None


# -- inside the worker process ------------------------------------------------------------------


def worker_main(conn: Connection, config: WorkerConfig) -> None:
    """The worker's whole life: import the model stack once, then run batches in order."""
    with contextlib.suppress(OSError, AttributeError):
        # Chat comes first: when the CPU is short, the bot's event loop (acks, /help) must
        # not wait behind a batch of matrix multiplications.
        os.nice(10)
    logging.basicConfig(
        level=config.log_level, format="%(asctime)s %(levelname)s worker %(name)s: %(message)s"
    )
    runs: queue.Queue[Message | None] = queue.Queue()
    cancelled: set[int] = set()
    send_lock = threading.Lock()
    started = threading.Event()

    def send(message: Message) -> None:
        with send_lock:
            conn.send(message)

    def control() -> None:
        # Cancels must reach a batch that is running, so they are read on their own thread.
        while True:
            try:
                message: Message = conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the bot is gone: nobody is left to read results
            op = message.get("op")
            if op == "cancel":
                cancelled.add(int(message["id"]))
            elif op == "run":
                runs.put(message)
            elif op == "stop":
                if not started.is_set():
                    os._exit(0)  # still importing torch: nothing to finish
                runs.put(None)
                return

    threading.Thread(target=control, name="control", daemon=True).start()
    from bot.jobs.tasks import Runtime  # torch and transformers load here, in the worker

    runtime = Runtime(config, send, cancelled)
    started.set()
    send({"op": "ready", "device": str(runtime.device), "pid": os.getpid()})
    while (batch := runs.get()) is not None:
        runtime.run_batch(batch)
