"""A per-user token bucket: a short burst is fine, a flood is slowed down.

`RateLimiter` keeps the buckets in this process (one bot). With the RQ backend several bot
replicas may serve one class, and a student's commands reach whichever replica the platform
picks: `RedisRateLimiter` keeps the buckets in Redis, so the replicas share one budget.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.config import ConfigError
from bot.logs import Occasional

log = logging.getLogger(__name__)


class Limiter(Protocol):
    async def check(self, key: str) -> float:
        """Take one token for `key`; returns 0 when allowed, else seconds until the next one."""
        ...

    async def peek(self, key: str) -> float:
        """What `check` would return now, taking nothing."""
        ...


class RateLimiter:
    def __init__(
        self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    async def check(self, key: str) -> float:
        now = self.clock()
        tokens = self._tokens(key, now)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    async def peek(self, key: str) -> float:
        tokens = self._tokens(key, self.clock())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _tokens(self, key: str, now: float) -> float:
        tokens, last = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate)


# The same bucket as RateLimiter, in one script so that two replicas taking a token for one
# student at once cannot both see the last one. Time is Redis's own (TIME), so replicas with
# skewed clocks agree. The result is a string: Redis would cut a Lua number to an integer.
# ARGV[4] is 'take' (check) or 'peek' (the same answer, the bucket left as it was).
_TAKE = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
if ARGV[4] == 'take' then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return tostring(wait)
"""


class RedisRateLimiter:
    """The token bucket in Redis, shared by every bot on `redis` (keys `prefix:<key>`)."""

    def __init__(
        self, redis: Redis, per_minute: int, burst: int, *, prefix: str = "classbot:rate"
    ) -> None:
        self.redis = redis
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.prefix = prefix
        # A bucket that has had time to fill up again is the same as no bucket: let it go.
        self._ttl_ms = math.ceil(self.burst / self.rate * 1000) + 1000
        self._take = redis.register_script(_TAKE)
        self._away = Occasional(log)

    async def check(self, key: str) -> float:
        return await self._run(key, "take")

    async def peek(self, key: str) -> float:
        return await self._run(key, "peek")

    async def _run(self, key: str, mode: str) -> float:
        try:
            waited = await self._take(
                keys=[f"{self.prefix}:{key}"], args=[self.rate, self.burst, self._ttl_ms, mode]
            )
        except (RedisError, OSError) as error:
            # Redis away: the class goes on without the limit rather than stop at every
            # command (what needs Redis to work, the job queue, says so itself).
            self._away.warning("the rate limit is off while Redis does not answer: %s", error)
            return 0.0
        return float(waited.decode() if isinstance(waited, bytes) else waited)


async def redis_at(url: str) -> Redis:
    """A client of the Redis the settings name, checked now: a bot told to share its state
    through Redis must not start without it (each replica would count on its own)."""
    redis = Redis.from_url(url, socket_connect_timeout=3)
    try:
        await redis.ping()
    except (RedisError, OSError) as error:
        await redis.aclose()
        raise ConfigError(
            f"CLASSBOT_QUEUE_BACKEND=rq needs Redis at CLASSBOT_REDIS_URL "
            f"({_without_password(url)}), which does not answer ({error}). Start Redis, or "
            "fix CLASSBOT_REDIS_URL, or set CLASSBOT_QUEUE_BACKEND=embedded for one machine."
        ) from None
    return redis


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}{sep}{user}:***@{host}" if ":" in credentials else url
