"""/generate and /imagine through the hf backend, against the providers' stand-in."""

from __future__ import annotations

from pathlib import Path

from bot.replies import Card, Error, Image, Progress, as_plain_text
from tests.hosted.conftest import hosted_job_bot
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
    assert seen.headers["authorization"].startswith("Bearer hf_")
    # A chat has no field for them: the card says which settings did nothing.
    assert "served as a chat" in (reply.footer or "")


async def test_an_empty_stream_is_no_answer(hosted_bot: JobBot, providers: ProvidersStub) -> None:
    sse = {"Content-Type": "text/event-stream"}
    providers.fail("/chat/completions", 200, headers=sse, body=b"")
    job = await hosted_bot.generate('/generate prompt:"Hi" max_new_tokens:4')
    await hosted_bot.idle(10)
    reply = hosted_bot.outbox.final(job)
    assert isinstance(reply, Error), as_plain_text(reply)
    assert reply.what.endswith("sent back an answer I could not read.")


async def test_streamed_jobs_one_after_another_reuse_one_connection(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    """A streamed answer is read to its end, so its connection serves the next job instead
    of every job paying for a new one (a TLS handshake with the real router)."""
    for i in range(4):
        job = await hosted_bot.generate(f'/generate prompt:"Story {i}" max_new_tokens:5')
        await hosted_bot.idle(10)
        assert isinstance(hosted_bot.outbox.final(job), Card)
    connections = [s.connection for s in providers.requests("/chat/completions")]
    assert len(connections) == 4 and len(set(connections)) == 1, connections


async def test_a_seed_is_passed_and_gives_the_same_text_again(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    line = '/generate prompt:"Hello" seed:7 temperature:0.8 max_new_tokens:6'
    first = await hosted_bot.generate(line)
    second = await hosted_bot.generate(line)
    await hosted_bot.idle(10)
    a, b = hosted_bot.outbox.final(first), hosted_bot.outbox.final(second)
    assert isinstance(a, Card) and isinstance(b, Card)
    assert a.description == b.description
    assert a.description != "the cat the cat the"
    assert [s.body["seed"] for s in providers.requests("/chat/completions")] == [7, 7]
    assert "seed 7" in as_plain_text(a)


async def test_text_generation_on_hf_inference_uses_its_task_payload(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    job = await hosted_bot.generate(
        '/generate prompt:"Hi" model:classbot-test/complete-tiny max_new_tokens:4'
    )
    await hosted_bot.idle(10)
    reply = hosted_bot.outbox.final(job)
    assert isinstance(reply, Card), as_plain_text(reply)
    assert reply.description == "the cat the cat"
    assert "served as a chat" not in (reply.footer or "")  # a completion: all applied
    [seen] = providers.requests("/hf-inference/models/classbot-test/complete-tiny")
    assert seen.body["inputs"] == "Hi"
    assert seen.body["parameters"]["max_new_tokens"] == 4


async def test_imagine_returns_the_providers_image_through_the_same_path(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    job = await hosted_bot.generate('/imagine prompt:"a red fox" seed:3 size:256')
    await hosted_bot.idle(10)
    reply = hosted_bot.outbox.final(job)
    assert isinstance(reply, Image), as_plain_text(reply)
    assert reply.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert "seed 3" in reply.caption and "256×256" in reply.caption
    [seen] = providers.requests("/hf-inference/models/classbot-test/draw-tiny")
    assert seen.body["parameters"]["seed"] == 3
    assert seen.body["parameters"]["height"] == 256


async def test_compare_runs_both_models_at_once(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    providers.latency = 0.3
    job = await hosted_bot.generate(
        '/generate prompt:"Hi" compare:classbot-test/complete-tiny max_new_tokens:4'
    )
    await hosted_bot.idle(10)
    reply = hosted_bot.outbox.final(job)
    assert isinstance(reply, Card), as_plain_text(reply)
    assert len(reply.fields) == 2
    assert providers.most_in_flight == 2


async def test_a_model_no_provider_serves_is_refused_before_queueing(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    reply = await hosted_bot.run('/generate prompt:"Hi" model:classbot-test/unserved')
    text = as_plain_text(reply)
    assert "not served by any Inference Provider" in text
    reply = await hosted_bot.run('/generate prompt:"Hi" model:classbot-test/sentiment')
    assert "served as: hf-inference (text-classification)" in as_plain_text(reply)
    assert providers.requests() == []


async def test_streamed_text_shows_live_while_it_arrives(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    providers.chunk_delay = 0.05
    job = await hosted_bot.generate('/generate prompt:"Hi" max_new_tokens:10')
    await hosted_bot.idle(10)
    live = [
        r.label
        for r in hosted_bot.outbox.for_job(job)
        if isinstance(r, Progress) and r.label.startswith("generating:")
    ]
    assert any("…the cat" in label and "/10 tokens" in label for label in live), live
    assert isinstance(hosted_bot.outbox.final(job), Card)


async def test_a_named_provider_and_billing_organisation(
    tmp_path: Path, providers: ProvidersStub
) -> None:
    async with hosted_job_bot(
        tmp_path, providers, hf_provider="hf-inference", hf_bill_to="my-school"
    ) as bot:
        refused = as_plain_text(await bot.run('/generate prompt:"Hi"'))
        assert "not served by the provider hf-inference" in refused
        assert "together (conversational)" in refused
        job = await bot.generate('/generate prompt:"Hi" model:classbot-test/complete-tiny')
        await bot.idle(10)
        assert isinstance(bot.outbox.final(job), Card)
        [seen] = providers.requests("/hf-inference/")
        assert seen.headers["x-hf-bill-to"] == "my-school"


async def test_imagine_keeps_its_word_filter_audit_and_reroll(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    refused = await hosted_bot.run('/imagine prompt:"a sh1t castle" seed:1')
    assert isinstance(refused, Error)
    assert providers.requests() == []  # the filter runs before anything is sent
    job = await hosted_bot.generate('/imagine prompt:"a red fox" seed:3 size:256')
    await hosted_bot.idle(10)
    again = await hosted_bot.generate(f"/imagine reroll job:{job}")
    await hosted_bot.idle(10)
    reply = hosted_bot.outbox.final(again)
    assert isinstance(reply, Image), as_plain_text(reply)
    seeds = [s.body["parameters"]["seed"] for s in providers.requests("/draw-tiny")]
    assert seeds[0] == 3 and seeds[1] != 3
    audit = as_plain_text(await hosted_bot.run("/imagine audit", user="tom", role="instructor"))
    assert "a red fox" in audit and "succeeded" in audit


async def test_the_card_shows_what_a_chat_completion_applied(
    hosted_bot: JobBot, providers: ProvidersStub
) -> None:
    job = await hosted_bot.generate(
        '/generate prompt:"Hi" seed:2 top_k:20 repetition_penalty:1.3 max_new_tokens:4'
    )
    await hosted_bot.idle(10)
    card = hosted_bot.outbox.final(job)
    assert isinstance(card, Card)
    decoding = next(f.value for f in card.fields if f.name == "Decoding")
    assert "no top-k" in decoding and "repetition penalty" not in decoding
    assert "top-k and the repetition penalty were not applied" in (card.footer or "")
    [seen] = providers.requests("/chat/completions")
    assert "top_k" not in seen.body and seen.body["seed"] == 2
