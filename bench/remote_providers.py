"""The providers' stand-in (tests/support/providers_stub.py) in a process of its own, for
the hosted bench: a real provider is another machine. In the bot's process the stand-in's
request parsing and answers would take turns with the bot on one interpreter lock, and
their time would count as the bot's."""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from typing import Any


def _serve(conn: Connection, latency: float) -> None:
    from tests.support.providers_stub import ProvidersStub

    stub = ProvidersStub().start()
    stub.latency = latency
    conn.send(stub.url)
    while True:
        try:
            command, argument = conn.recv()
        except EOFError:
            break
        if command == "stop":
            break
        if command == "reset":
            stub.reset()
            stub.latency = latency
            conn.send(None)
        elif command == "arrivals":  # when each request whose path has `argument` arrived
            conn.send([seen.at for seen in stub.requests(argument)])
        elif command == "most_in_flight":
            conn.send(stub.most_in_flight)
    stub.stop()


class RemoteProviders:
    """Starts the stand-in in a child process; `url` is where it listens. Arrival times are
    `time.monotonic()` there, which is the same clock here (one machine)."""

    def __init__(self, latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, latency), daemon=True)
        self._process.start()
        child.close()
        self.url: str = self._conn.recv()

    def _ask(self, command: str, argument: str = "") -> Any:
        self._conn.send((command, argument))
        return self._conn.recv()

    def reset(self) -> None:
        self._ask("reset")

    def arrivals(self, path: str) -> list[float]:
        arrived: list[float] = self._ask("arrivals", path)
        return arrived

    @property
    def most_in_flight(self) -> int:
        most: int = self._ask("most_in_flight")
        return most

    def stop(self) -> None:
        self._conn.send(("stop", ""))
        self._process.join(10)
