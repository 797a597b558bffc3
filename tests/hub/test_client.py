"""HubClient against the Hub stand-in: the real huggingface_hub and httpx, one cache."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.hub.client import HubClient
from bot.hub.errors import (
    HubBadAnswer,
    HubRateLimited,
    HubUnavailable,
    NoPreview,
    RepoNotFound,
    retry_after,
    stale_note,
)
from tests.support.botdriver import FakeClock, settings_for_tests
from tests.support.hub_stub import HubStub


@pytest.fixture
async def client(
    tmp_path: Path, fresh_hub_stub: HubStub, clock: FakeClock
) -> AsyncIterator[HubClient]:
    settings = settings_for_tests(
        tmp_path, datasets_server_url=fresh_hub_stub.viewer_url, hub_timeout_seconds=2
    )
    hub = HubClient(settings, clock=clock, endpoint=fresh_hub_stub.url)
    yield hub
    await hub.aclose()


async def test_identical_concurrent_searches_reach_the_hub_once(
    client: HubClient, fresh_hub_stub: HubStub
) -> None:
    fresh_hub_stub.inject("/api/models", delay=0.3)  # all 30 arrive while the first is out
    pages = await asyncio.gather(
        *(client.search_models(task="summarization", sort="likes", limit=5) for _ in range(30))
    )
    assert fresh_hub_stub.count("/api/models") == 1
    assert len({p.value for p in pages}) == 1
    assert len(pages[0].value.items) == 5
    # A different search is a different key.
    await client.search_models(task="summarization", sort="downloads", limit=5)
    assert fresh_hub_stub.count("/api/models") == 2


async def test_pages_follow_the_hub_link_header(client: HubClient, fresh_hub_stub: HubStub) -> None:
    # The stand-in pages by 100: page 5 of 25 needs items 101-125 (+1 to know if more exist).
    page = await client.search_models(sort="downloads", limit=25, page=5)
    assert len(page.value.items) == 25 and page.value.has_more
    assert fresh_hub_stub.count("/api/models") == 2
    first = await client.search_models(sort="downloads", limit=25, page=1)
    assert not {m.id for m in first.value.items} & {m.id for m in page.value.items}


async def test_model_info_renames_and_not_found_is_cached(
    client: HubClient, fresh_hub_stub: HubStub
) -> None:
    bert = await client.model_info("bert-base-uncased")
    assert bert.value.id == "google-bert/bert-base-uncased"
    assert bert.value.params == 110_106_428

    for _ in range(3):
        with pytest.raises(RepoNotFound) as caught:
            await client.model_info("runwayml/stable-diffusion-v1-5")
        assert caught.value.suggestions[0] == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    # "Not found" is an answer: cached, so a class asking again does not ask the Hub again.
    assert fresh_hub_stub.count("/api/models/runwayml") == 1


async def test_hub_faults_become_typed_errors_without_retries(
    client: HubClient, fresh_hub_stub: HubStub
) -> None:
    fresh_hub_stub.inject("/api/models", status=500, times=10)
    with pytest.raises(HubUnavailable, match=r"error 500"):
        await client.search_models(text="bert")
    assert fresh_hub_stub.count("/api/models") == 1

    fresh_hub_stub.reset()
    fresh_hub_stub.inject("/api/models", retry_after=45)
    started = time.perf_counter()
    with pytest.raises(HubRateLimited) as limited:
        await client.search_models(text="bert")
    assert time.perf_counter() - started < 5
    assert limited.value.retry_after == 45 and limited.value.todo == "Try again in 45 s."

    fresh_hub_stub.inject("/api/datasets", garbage=True)
    with pytest.raises(HubBadAnswer):
        await client.search_datasets(text="imdb")

    client.timeout = 0.2
    fresh_hub_stub.inject("/api/models/gpt2", delay=0.6)
    with pytest.raises(HubUnavailable, match="did not answer in time"):
        await client.model_info("gpt2")
    await asyncio.sleep(0.6)  # let the stand-in finish the slow answer before the next test


async def test_an_old_answer_is_served_marked_stale_when_the_hub_fails(
    client: HubClient, fresh_hub_stub: HubStub, clock: FakeClock
) -> None:
    fresh = await client.model_info("gpt2")
    assert not fresh.stale and stale_note(fresh) is None
    clock.advance(minutes=3)
    cached = await client.model_info("gpt2")  # within the TTL: no request
    assert cached.age == pytest.approx(180) and not cached.stale
    assert fresh_hub_stub.count("/api/models/gpt2") == 1

    clock.advance(minutes=20)
    fresh_hub_stub.inject("/api/models/gpt2", status=503)
    stale = await client.model_info("gpt2")
    assert stale.stale and stale.value == fresh.value
    assert stale_note(stale) == "(cached 23 min ago — the Hub is not answering)"

    fresh_hub_stub.inject("/api/models/gpt2", retry_after=10)
    assert (await client.model_info("gpt2")).stale  # a 429 is an outage too


async def test_cards_and_missing_cards(client: HubClient, fresh_hub_stub: HubStub) -> None:
    card = await client.model_card("EleutherAI/gpt-neo-125M")
    assert card.value is not None and "license: mit" in card.value
    fresh_hub_stub.inject("/gpt2/resolve/main/README.md", status=404)
    assert (await client.model_card("gpt2")).value is None
    with pytest.raises(RepoNotFound):
        await client.model_card("nobody/nothing")


async def test_dataset_info_card_and_viewer(client: HubClient, fresh_hub_stub: HubStub) -> None:
    info = await client.dataset_info("imdb")
    assert info.value.tasks == ("text-classification",) and info.value.license == "other"
    infos = await client.dataset_infos("imdb")
    assert infos.value is not None and "plain_text" in infos.value
    splits = await client.viewer_splits("imdb")
    assert ("plain_text", "train") in splits.value
    rows = await client.viewer_first_rows("imdb", "plain_text", "train")
    assert [f.name for f in rows.value.features] == ["text", "label"]
    assert rows.value.features[1].labels == ("neg", "pos")

    for _ in range(2):
        with pytest.raises(NoPreview, match="Cannot load the dataset split"):
            await client.viewer_first_rows("rotten_tomatoes", "default", "train")
    assert fresh_hub_stub.count("/datasets-server/first-rows") == 2  # imdb + one refusal

    fresh_hub_stub.inject("/datasets-server/splits", garbage=True)
    with pytest.raises(HubBadAnswer):
        await client.viewer_splits("ag_news")


def test_retry_after_reads_seconds_dates_and_the_ratelimit_header() -> None:
    assert retry_after({"retry-after": "17"}) == 17
    later = datetime.now(UTC) + timedelta(seconds=90)
    when = retry_after({"Retry-After": email.utils.format_datetime(later, usegmt=True)})
    assert when is not None and 85 <= when <= 91
    assert retry_after({"ratelimit": '"api";r=0;t=42'}) == 42
    assert retry_after({}) is None


async def test_known_models_come_from_searches(client: HubClient) -> None:
    assert client.known_models("gpt") == []
    await client.search_models(text="gpt-neo", limit=25)
    found = client.known_models("gpt-neo-1")
    assert "EleutherAI/gpt-neo-125M" in found and "EleutherAI/gpt-neo-1.3B" in found
    assert client.known_models("neo-125")[0] == "EleutherAI/gpt-neo-125M"
