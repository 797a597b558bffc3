"""A task kind with a hosted runner runs through the engine on the hf-inference provider's
task payload; a kind without one fails with a plain message."""

from __future__ import annotations

from dataclasses import replace

from bot.replies import Text, as_plain_text
from tests.hosted.sample_task import CLASSIFY, ClassifyParams
from tests.jobs.support import JobBot
from tests.support.providers_stub import ProvidersStub


async def _submit(bot: JobBot, kind: object, params: ClassifyParams) -> int:
    first = await bot.generate('/generate prompt:"Hi" max_new_tokens:2')
    await bot.idle(10)
    row = (await bot.jobs())[first]
    destination = bot.outbox.sent[-1].destination
    request = CLASSIFY.request(
        params, guild_pk=row.guild_id, user_pk=row.user_id, destination=destination
    )
    request = replace(request, kind=kind.name)  # type: ignore[attr-defined]
    ticket = await bot.driver.app.services.jobs.submit(request)
    bot.driver.app.services.jobs.release(ticket.job_id)
    await bot.idle(10)
    return ticket.job_id


async def test_a_task_kind_runs_hosted_through_its_seam(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    engine = hosted_bot.engine
    assert engine.pool is not None
    engine.kinds["classify"] = CLASSIFY
    engine.pool.links[0].kinds["classify"] = CLASSIFY  # type: ignore[attr-defined]
    job = await _submit(
        hosted_bot, CLASSIFY, ClassifyParams("classbot-test/sentiment", "I love it")
    )
    reply = hosted_bot.outbox.final(job)
    assert isinstance(reply, Text), as_plain_text(reply)
    assert reply.text == "POSITIVE 0.90, NEGATIVE 0.10"
    [seen] = providers.requests("/hf-inference/models/classbot-test/sentiment")
    assert seen.body["inputs"] == "I love it"


async def test_a_kind_without_a_hosted_runner_fails_plainly(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    local_only = replace(CLASSIFY, name="local-only", hosted=None)
    engine = hosted_bot.engine
    assert engine.pool is not None
    engine.kinds["local-only"] = local_only
    engine.pool.links[0].kinds["local-only"] = local_only  # type: ignore[attr-defined]
    job = await _submit(hosted_bot, local_only, ClassifyParams("classbot-test/sentiment", "x"))
    text = as_plain_text(hosted_bot.outbox.final(job))
    assert "run only on the bot's own workers" in text
