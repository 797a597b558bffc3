"""/generate and /imagine through the hf backend, against the providers' stand-in."""

from __future__ import annotations

from bot.replies import Card, as_plain_text
from tests.jobs.support import JobBot
from tests.support.providers_stub import ProvidersStub


async def test_generate_streams_a_chat_completion_from_the_mapped_provider(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    job = await hosted_bot.generate('/generate prompt:"Once upon a time" max_new_tokens:8')
    await hosted_bot.idle(10)
    reply = hosted_bot.outbox.final(job)
    assert isinstance(reply, Card), as_plain_text(reply)
    assert reply.description == "the cat the cat the cat the cat"
    text = as_plain_text(reply)
    assert "Repetition" in text
    [seen] = providers.requests("/together/v1/chat/completions")
    assert seen.body["stream"] is True
    assert seen.body["model"] == "tiny-chat"  # the provider's id from the Hub's mapping
    assert seen.body["max_tokens"] == 8
    assert seen.headers["Authorization"].startswith("Bearer hf_")
