"""A circuit breaker: when the Hub keeps failing, fail at once instead of waiting on it.

Without it a hanging Hub holds every student for the whole timeout, one call after another.
After `threshold` failures in a row (timeouts, unreachable, 5xx, 429, unreadable answers)
the breaker opens: calls fail immediately with HubCircuitOpen for `cooldown` seconds, so
the cache can serve its older answers at once. Then one call is let through as a probe
(half-open): an answer closes the breaker, another failure opens it again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from bot.hub.errors import HubCircuitOpen


class CircuitBreaker:
    def __init__(
        self,
        threshold: int = 5,
        cooldown: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._monotonic = monotonic
        self._failures = 0
        self._open_until: float | None = None
        self._probing = False

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    def before_call(self) -> None:
        """Raise HubCircuitOpen unless this call may go to the Hub."""
        if self._open_until is None:
            return
        left = self._open_until - self._monotonic()
        if left > 0:
            raise HubCircuitOpen(math.ceil(left))
        if self._probing:  # one probe at a time; the others still fail fast
            raise HubCircuitOpen(math.ceil(self.cooldown))
        self._probing = True

    def succeeded(self) -> None:
        """The Hub answered (a "not found" is an answer too)."""
        self._failures = 0
        self._open_until = None
        self._probing = False

    def failed(self) -> None:
        """The Hub did not answer usefully (only outages count, not refusals)."""
        self._failures += 1
        if self._probing or self._failures >= self.threshold:
            self._open_until = self._monotonic() + self.cooldown
        self._probing = False

    def abandoned(self) -> None:
        """The call was cancelled before the Hub said anything: let another probe go."""
        self._probing = False

    def reset(self) -> None:
        self.succeeded()
