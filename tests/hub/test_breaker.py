"""The circuit breaker on its own: closed, open for a cool-down, one probe, closed again."""

from __future__ import annotations

import pytest

from bot.hub.breaker import CircuitBreaker
from bot.hub.errors import HubCircuitOpen


def test_it_opens_after_failures_in_a_row_and_probes_once_after_the_cooldown() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown=30, monotonic=lambda: now[0])
    for _ in range(2):
        breaker.before_call()
        breaker.failed()
    breaker.before_call()
    breaker.succeeded()  # an answer in between: the count starts again
    for _ in range(3):
        breaker.before_call()
        breaker.failed()
    assert breaker.is_open
    now[0] = 10
    with pytest.raises(HubCircuitOpen) as caught:
        breaker.before_call()
    assert caught.value.seconds == 20 and caught.value.todo.startswith("Try again in 20 s")

    now[0] = 31
    breaker.before_call()  # the probe
    with pytest.raises(HubCircuitOpen):
        breaker.before_call()  # others still fail fast while it is out
    breaker.failed()  # the probe failed: open for another cool-down
    with pytest.raises(HubCircuitOpen):
        breaker.before_call()
    now[0] = 62
    breaker.before_call()
    breaker.succeeded()
    assert not breaker.is_open
    breaker.before_call()
    breaker.before_call()


def test_an_abandoned_probe_lets_the_next_call_probe() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=1, cooldown=5, monotonic=lambda: now[0])
    breaker.failed()
    now[0] = 6
    breaker.before_call()
    breaker.abandoned()
    breaker.before_call()  # not refused: the first probe never reported
