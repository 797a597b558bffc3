"""/help and the model pages say where models run on a hosted backend."""

from __future__ import annotations

from bot.replies import Card, as_plain_text
from tests.jobs.support import JobBot


async def test_help_says_models_run_on_inference_providers(hosted_bot: JobBot) -> None:
    reply = await hosted_bot.run("/help")
    assert isinstance(reply, Card)
    assert "run on Hugging Face Inference Providers" in (reply.description or "")


async def test_the_model_page_names_the_provider(hosted_bot: JobBot) -> None:
    reply = await hosted_bot.run("/search model:classbot-test/chat-tiny")
    assert isinstance(reply, Card), as_plain_text(reply)
    assert reply.footer == (
        "Try it: /generate model:classbot-test/chat-tiny "
        "(it runs on Hugging Face Inference Providers (together))"
    )
    unserved = await hosted_bot.run("/search model:classbot-test/unserved")
    assert isinstance(unserved, Card)
    assert "not served by any Inference Provider" in (unserved.footer or "")
