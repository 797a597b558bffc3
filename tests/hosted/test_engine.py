"""Hosted jobs keep the queue's behaviour: they overlap, cancel abandons the request, the
class budget holds, and the openai backend serves /generate by the server's model names."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot.replies import Card, as_plain_text
from tests.hosted.conftest import hosted_job_bot
from tests.jobs.support import JobBot, until
from tests.support.providers_stub import ProvidersStub


async def test_hosted_jobs_overlap_instead_of_queueing(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    providers.latency = 0.5
    started = time.monotonic()
    jobs = await asyncio.gather(
        *(
            hosted_bot.generate(f'/generate prompt:"Hi {i}" max_new_tokens:3', user=f"s{i}")
            for i in range(12)
        )
    )
    await hosted_bot.idle(15)
    took = time.monotonic() - started
    assert all(isinstance(hosted_bot.outbox.final(j), Card) for j in jobs)
    assert providers.most_in_flight >= 6
    assert took < 12 * 0.5 / 2


async def test_cancel_abandons_the_http_request(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    providers.latency = 5.0
    job = await hosted_bot.generate('/generate prompt:"Hi" max_new_tokens:3')
    await until(lambda: providers.in_flight == 1, 5, "the request to start")
    await hosted_bot.run(f"/jobs cancel id:{job}")
    await hosted_bot.idle(3)
    await until(lambda: providers.abandoned == 1, 3, "the stand-in to see the request dropped")
    assert "ancel" in as_plain_text(hosted_bot.outbox.final(job))
    jobs = await hosted_bot.jobs()
    assert jobs[job].state == "cancelled"


async def test_cancel_mid_stream_drops_the_rest_of_the_stream(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    """A response closed early reads what is left of its body (so its connection serves
    the next job), but a job cancelled while its text streams in does not wait for the
    rest (30 tokens, 6 s here): the request is dropped at once."""
    providers.chunk_delay = 0.2
    job = await hosted_bot.generate('/generate prompt:"Hi" max_new_tokens:30')
    await until(lambda: providers.in_flight == 1, 5, "the stream to start")
    await asyncio.sleep(0.3)
    cancelled = time.monotonic()
    await hosted_bot.run(f"/jobs cancel id:{job}")
    await hosted_bot.idle(3)
    assert (await hosted_bot.jobs())[job].state == "cancelled"
    await until(lambda: providers.in_flight == 0, 3, "the stand-in to see the stream dropped")
    assert time.monotonic() - cancelled < 3


async def test_the_daily_budget_is_a_clear_reply(tmp_path: Path, providers: ProvidersStub) -> None:
    async with hosted_job_bot(tmp_path, providers, hosted_daily_jobs_per_student=2) as bot:
        for _ in range(2):
            await bot.generate('/generate prompt:"Hi" max_new_tokens:2')
        await bot.idle(10)
        refused = as_plain_text(await bot.run('/generate prompt:"Hi" max_new_tokens:2'))
        assert "used your 2 hosted model runs for today" in refused
        # Instructors are not counted against a student's budget.
        job = await bot.generate('/generate prompt:"Hi" max_new_tokens:2', role="instructor")
        await bot.idle(10)
        assert isinstance(bot.outbox.final(job), Card)
    (tmp_path / "b").mkdir()
    async with hosted_job_bot(tmp_path / "b", providers, hosted_daily_jobs_per_class=1) as bot:
        await bot.generate('/generate prompt:"Hi" max_new_tokens:2', user="a")
        refused = as_plain_text(await bot.run('/generate prompt:"Hi"', user="b"))
        assert "This class has used its 1 hosted model runs for today" in refused


async def test_a_run_the_provider_failed_does_not_use_the_day(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    async with hosted_job_bot(tmp_path, providers, hosted_daily_jobs_per_student=1) as bot:
        providers.fail("chat/completions", 500)
        failed = await bot.generate('/generate prompt:"Hi" max_new_tokens:2')
        await bot.idle(10)
        assert "answered with an error (500)" in as_plain_text(bot.outbox.final(failed))
        job = await bot.generate('/generate prompt:"Hi" max_new_tokens:2')  # still allowed
        await bot.idle(10)
        assert isinstance(bot.outbox.final(job), Card)
        refused = as_plain_text(await bot.run('/generate prompt:"Hi" max_new_tokens:2'))
        assert "used your 1 hosted model runs for today" in refused


async def test_commands_at_once_cannot_pass_the_daily_cap_together(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    """The cap is counted in the statement that inserts the job: five commands sent at
    once by a student with two runs left start two jobs, and the other three are told."""
    async with hosted_job_bot(tmp_path, providers, hosted_daily_jobs_per_student=2) as bot:
        line = '/generate prompt:"Hi" max_new_tokens:2'
        replies = await asyncio.gather(*(bot.run(line) for _ in range(5)))
        await bot.idle(10)
        texts = [as_plain_text(r) for r in replies]
        refused = [t for t in texts if "used your 2 hosted model runs for today" in t]
        assert len(refused) == 3, texts
        assert len(await bot.jobs()) == 2


async def test_openai_backend_serves_generate_by_the_servers_model_names(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    async with hosted_job_bot(
        tmp_path,
        providers,
        backend="openai",
        hf_token=None,
        openai_base_url=providers.url + "/v1",
        openai_api_key="sk-local-secret",
        text_model="tiny-chat",
    ) as bot:
        job = await bot.generate('/generate prompt:"Hi" max_new_tokens:4')
        await bot.idle(10)
        reply = bot.outbox.final(job)
        assert isinstance(reply, Card), as_plain_text(reply)
        assert reply.description == "the cat the cat"
        [seen] = providers.requests("/v1/chat/completions")
        assert seen.path == "/v1/chat/completions"
        assert seen.headers["authorization"] == "Bearer sk-local-secret"
        refused = as_plain_text(await bot.run('/generate prompt:"Hi" model:gpt-9'))
        assert "does not serve gpt-9" in refused and "tiny-chat" in refused
        refused = as_plain_text(await bot.run('/imagine prompt:"a fox"'))
        assert "serves text models only" in refused


async def test_a_request_in_flight_at_a_restart_is_reissued_and_delivered_once(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    providers.latency = 3.0
    async with hosted_job_bot(tmp_path, providers) as bot:
        bot.engine.stop_grace = 0.2
        job = await bot.generate('/generate prompt:"Hi" max_new_tokens:3')
        await until(lambda: providers.in_flight == 1, 5, "the request to start")
        first_outbox = bot.outbox
    # The bot stopped with the request in flight: it was abandoned, the job went back.
    assert first_outbox.finals() == []
    await until(lambda: providers.abandoned == 1, 5, "the stand-in to see the request dropped")
    providers.latency = 0.0
    async with hosted_job_bot(tmp_path, providers) as bot:
        await bot.idle(10)
        reply = bot.outbox.final(job)  # exactly one result
        assert isinstance(reply, Card), as_plain_text(reply)
        jobs = await bot.jobs()
        assert jobs[job].state == "succeeded"
    assert len(providers.requests("/chat/completions")) == 2


async def test_calls_in_flight_stay_within_the_backends_bound(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    providers.latency = 0.2
    async with hosted_job_bot(tmp_path, providers, hosted_concurrency=3) as bot:
        jobs = [
            await bot.generate(f'/generate prompt:"Hi {i}" max_new_tokens:2', user=f"s{i}")
            for i in range(8)
        ]
        await bot.idle(15)
        assert all(isinstance(bot.outbox.final(j), Card) for j in jobs)
    assert providers.most_in_flight == 3


async def test_the_budget_counts_on_postgresql(
    tmp_path: Path, providers: ProvidersStub, postgres_url: str
) -> None:
    async with hosted_job_bot(
        tmp_path, providers, database_url=postgres_url, hosted_daily_jobs_per_student=1
    ) as bot:
        job = await bot.generate('/generate prompt:"Hi" max_new_tokens:2')
        await bot.idle(10)
        assert isinstance(bot.outbox.final(job), Card)
        refused = as_plain_text(await bot.run('/generate prompt:"Hi" max_new_tokens:2'))
        assert "used your 1 hosted model runs for today" in refused
