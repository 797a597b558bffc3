"""With the RQ backend, replicas share what must agree through Redis: a student's command
budget is one, whichever replica their commands reach; a replica does not start without
the Redis it was told to use."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.app import App, create_app
from bot.cli import main
from bot.config import ConfigError
from bot.identity import Actor, Role
from bot.ratelimit import RedisRateLimiter
from bot.replies import Error, Reply
from tests.scale.support import REDIS_URL, redis_or_skip
from tests.support.botdriver import FakeClock, settings_for_tests


def _student() -> Actor:
    # A fresh id per test: the buckets live in the machine's shared Redis.
    return Actor("slack", f"U{uuid.uuid4().hex[:8]}", "Ana", Role.STUDENT, "T0CLASS", "C0CLASS")


async def _jobs(app: App, actor: Actor) -> list[Reply]:
    return [reply async for reply in app.router.run_line("/jobs", actor)]


def _limited(replies: list[Reply]) -> bool:
    return any(isinstance(r, Error) and "faster than the class limit" in r.what for r in replies)


async def test_two_replicas_share_one_students_budget(tmp_path: Path) -> None:
    redis_or_skip()
    limits = {
        "queue_backend": "rq",
        "redis_url": REDIS_URL,
        "rate_limit_per_minute": 6,
        "rate_limit_burst": 3,
        "database_url": f"sqlite:///{tmp_path / 'shared.db'}",
    }
    a = await create_app(settings_for_tests(tmp_path / "a", **limits), clock=FakeClock())
    b = await create_app(settings_for_tests(tmp_path / "b", **limits), clock=FakeClock())
    try:
        assert isinstance(a.router.rate_limiter, RedisRateLimiter)
        ana, ben = _student(), _student()
        # Three commands (the burst) spread over both replicas, then the fourth is refused
        # on either one: each replica alone would still have allowed it.
        for app in (a, b, a):
            assert not _limited(await _jobs(app, ana))
        refused = [r for r in await _jobs(b, ana) if isinstance(r, Error)]
        assert _limited(refused) and refused[0].todo == "Try again in 10 s."
        assert _limited(await _jobs(a, ana))
        # Another student has a budget of their own.
        assert not _limited(await _jobs(b, ben))
    finally:
        await a.close()
        await b.close()


async def test_the_bucket_refills_at_the_class_rate(tmp_path: Path) -> None:
    redis = redis_or_skip()
    shared = Redis.from_url(REDIS_URL)
    prefix = f"classbot-test:{uuid.uuid4().hex[:8]}"
    try:
        # 600 a minute: one token every 0.1 s, a burst of 2.
        one = RedisRateLimiter(shared, per_minute=600, burst=2, prefix=prefix)
        other = RedisRateLimiter(shared, per_minute=600, burst=2, prefix=prefix)
        # A peek takes nothing: two looks, then the burst's two tokens.
        assert [await one.peek("ana"), await other.peek("ana")] == [0.0, 0.0]
        assert [await one.check("ana"), await other.check("ana")] == [0.0, 0.0]
        peeked = await other.peek("ana")
        wait = await one.check("ana")
        assert 0.0 < wait <= peeked <= 0.1
        assert 0.0 < wait <= 0.1
        # Refused takes no token: after the wait, the next one is allowed.
        await asyncio.sleep(wait + 0.02)
        assert await other.check("ana") == 0.0
        # The key expires once the bucket would be full again (no state left behind).
        ttl = redis.pttl(f"{prefix}:ana")
        assert 0 < ttl <= 2 / 10 * 1000 + 1000
    finally:
        await shared.aclose()


async def test_commands_go_on_while_redis_is_away(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    redis_or_skip()
    limits = {"queue_backend": "rq", "redis_url": REDIS_URL, "rate_limit_burst": 1}
    app = await create_app(settings_for_tests(tmp_path, **limits), clock=FakeClock())
    try:
        limiter = app.router.rate_limiter
        assert isinstance(limiter, RedisRateLimiter)
        # Redis stops answering (restarted, or the network between).
        limiter.redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
        limiter._take = limiter.redis.register_script(limiter._take.script)
        ana = _student()
        with caplog.at_level(logging.WARNING, logger="bot.ratelimit"):
            for _ in range(3):  # past the burst of 1: the limit is off, not every command
                replies = await _jobs(app, ana)
                assert not any(isinstance(r, Error) for r in replies), replies
        warned = [r for r in caplog.records if "rate limit is off" in r.getMessage()]
        assert len(warned) == 1  # said once, not at every command
        await limiter.redis.aclose()
    finally:
        await app.close()


async def test_a_replica_does_not_start_without_its_redis(tmp_path: Path) -> None:
    settings = settings_for_tests(
        tmp_path, queue_backend="rq", redis_url="redis://:s3cret@127.0.0.1:1/0"
    )
    with pytest.raises(ConfigError) as refused:
        await create_app(settings)
    message = str(refused.value)
    assert "CLASSBOT_REDIS_URL" in message and "does not answer" in message
    assert "s3cret" not in message  # the URL is shown without its password


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`classbot` sets up the process's logging (and captures warnings): undo it after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    logging.captureWarnings(False)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_the_command_line_says_so_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DISCORD_TOKEN", "SLACK_BOT_TOKEN", "CLASSBOT_DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLASSBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("CLASSBOT_QUEUE_BACKEND", "rq")
    monkeypatch.setenv("CLASSBOT_REDIS_URL", "redis://127.0.0.1:1/0")
    assert main(["run"]) == 2
    error = capsys.readouterr().err
    assert "needs Redis at CLASSBOT_REDIS_URL (redis://127.0.0.1:1/0)" in error
    assert "Traceback" not in error
