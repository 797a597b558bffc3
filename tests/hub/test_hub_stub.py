"""The Hub stand-in, driven by the real huggingface_hub client (and httpx / aiohttp)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import aiohttp
import httpx
import pytest
from huggingface_hub import DatasetCard, HfApi, ModelCard, constants, hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

from tests.support.hub_catalog import HUBDATA_DIR
from tests.support.hub_stub import HubStub


@pytest.fixture
def api(fresh_hub_stub: HubStub) -> HfApi:
    return HfApi(endpoint=fresh_hub_stub.url)


def test_fixture_points_huggingface_hub_at_the_stub(hub_stub: HubStub) -> None:
    assert hub_stub.url == constants.ENDPOINT
    assert constants.HUGGINGFACE_CO_URL_TEMPLATE.startswith(hub_stub.url + "/")
    assert os.environ["HF_ENDPOINT"] == hub_stub.url
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"
    assert "HF_HUB_OFFLINE" not in os.environ
    assert constants.HF_HUB_OFFLINE is False
    # HfApi() without an endpoint reads the patched constant.
    assert HfApi().endpoint == hub_stub.url


def test_stub_starts_fast_and_stops(tmp_path: Path) -> None:
    import time

    started = time.perf_counter()
    with HubStub() as hub:
        response = httpx.get(f"{hub.url}/api/models/gpt2")
    assert response.status_code == 200
    assert time.perf_counter() - started < 1.5


# -- models ------------------------------------------------------------------------------------
def test_list_models_search_sort_limit(api: HfApi, fresh_hub_stub: HubStub) -> None:
    models = list(api.list_models(search="Stable-Diffusion", sort="likes", limit=3))
    assert len(models) == 3
    assert all("stable-diffusion" in m.id.lower() for m in models)
    likes = [m.likes or 0 for m in models]
    assert likes == sorted(likes, reverse=True)
    assert "runwayml/stable-diffusion-v1-5" not in {m.id for m in models}
    assert fresh_hub_stub.count("/api/models") == 1


def test_list_models_filter_matches_tags_pipeline_and_library(api: HfApi) -> None:
    text_to_image = list(api.list_models(pipeline_tag="text-to-image"))
    ids = {m.id for m in text_to_image}
    assert len(ids) == 31  # the top 30 of models.jsonl + FLUX.1-dev from model_lists/
    assert all(m.pipeline_tag == "text-to-image" for m in text_to_image)
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in ids
    tagged = list(api.list_models(filter="text-to-image"))
    assert ids <= {m.id for m in tagged}
    assert all("text-to-image" in (m.tags or []) for m in tagged)
    assert "runwayml/stable-diffusion-v1-5" not in ids

    mit_diffusers = list(api.list_models(filter=["diffusers", "license:mit"]))
    assert mit_diffusers
    assert all("license:mit" in (m.tags or []) for m in mit_diffusers)
    assert all(m.library_name == "diffusers" for m in mit_diffusers)

    by_author = list(api.list_models(author="EleutherAI", search="gpt-neo"))
    assert {m.id for m in by_author} >= {"EleutherAI/gpt-neo-125M", "EleutherAI/gpt-neo-1.3B"}

    summarizers = list(api.list_models(pipeline_tag="summarization", sort="downloads", limit=5))
    downloads = [m.downloads or 0 for m in summarizers]
    assert len(summarizers) == 5 and downloads == sorted(downloads, reverse=True)


def test_list_models_paginates_with_link_header(api: HfApi, fresh_hub_stub: HubStub) -> None:
    everything = list(api.list_models())
    ids = [m.id for m in everything]
    assert len(ids) == len(set(ids)) == 685  # 673 + recorded-only + cards-only + trending
    assert fresh_hub_stub.count("/api/models") == 7  # pages of 100

    fresh_hub_stub.reset()
    top = list(api.list_models(sort="downloads", limit=150))
    assert len(top) == 150
    assert fresh_hub_stub.count("/api/models") == 2
    second = fresh_hub_stub.requests[1]
    assert "cursor=" in second.query and "sort=downloads" in second.query

    raw = httpx.get(f"{fresh_hub_stub.url}/api/models", params={"limit": 2})
    assert raw.headers["Link"].endswith('>; rel="next"')
    assert raw.links["next"]["url"].startswith(fresh_hub_stub.url + "/api/models?")


def test_list_models_trending_and_expand(api: HfApi) -> None:
    trending = list(api.list_models(sort="trending_score", limit=10))
    scores = [m.trending_score or 0 for m in trending]
    assert scores == sorted(scores, reverse=True)
    # The recorded trending page (model_lists/) is merged in with its real scores.
    recorded = json.loads(next((HUBDATA_DIR / "model_lists").glob("*.json")).read_text())
    best = max(recorded, key=lambda m: m["trendingScore"])
    assert (trending[0].id, trending[0].trending_score) == (best["id"], best["trendingScore"])

    expanded = list(api.list_models(search="gpt2", expand=["downloads", "safetensors"], limit=5))
    gpt2 = next(m for m in expanded if m.id == "gpt2")
    assert gpt2.safetensors is not None and gpt2.safetensors.total == 137_022_720
    assert gpt2.tags is None  # only the expanded properties come back


def test_model_info_gpt2_is_the_recorded_body(api: HfApi, fresh_hub_stub: HubStub) -> None:
    info = api.model_info("gpt2")
    assert info.safetensors is not None and info.safetensors.total == 137_022_720
    assert info.author == "openai-community"
    assert info.card_data is not None and info.card_data.license == "mit"

    body = httpx.get(f"{fresh_hub_stub.url}/api/models/gpt2").json()
    recorded = json.loads((HUBDATA_DIR / "model_info" / "model_info_gpt2.json").read_text())
    assert body == {**recorded["body"], "trendingScore": body["trendingScore"]}
    assert body["safetensors"]["total"] == 137_022_720

    assert api.model_info("gpt2", revision="main").sha == info.sha
    assert api.model_info("gpt2", revision=info.sha).id == "gpt2"
    with pytest.raises(HfHubHTTPError) as caught:
        api.model_info("gpt2", revision="no-such-branch")
    assert caught.value.response.status_code == 404


def test_synthesized_model_info_from_models_jsonl(api: HfApi) -> None:
    info = api.model_info("ProsusAI/finbert")
    assert info.pipeline_tag == "text-classification"
    assert info.library_name == "transformers"
    assert info.gated is False and info.private is False
    assert "language:en" not in (info.tags or []) and "en" in (info.tags or [])
    assert info.siblings is not None and "README.md" in {s.rfilename for s in info.siblings}
    assert info.created_at is not None

    sd = api.model_info("stabilityai/stable-diffusion-2-1")
    assert sd.library_name == "diffusers" and sd.safetensors is None

    llama = api.model_info("meta-llama/Llama-3.1-8B-Instruct")
    assert llama.gated == "manual"


def test_renamed_repo_redirects_with_307(api: HfApi, fresh_hub_stub: HubStub) -> None:
    raw = httpx.get(f"{fresh_hub_stub.url}/api/models/bert-base-uncased")
    assert raw.status_code == 307
    assert raw.headers["Location"] == "/api/models/google-bert/bert-base-uncased"

    assert api.model_info("bert-base-uncased").id == "google-bert/bert-base-uncased"
    renamed = api.model_info("distilbert-base-uncased-finetuned-sst-2-english")
    assert renamed.id == "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
    listed = {m.id for m in api.list_models(search="finetuned-sst-2")}
    assert "distilbert/distilbert-base-uncased-finetuned-sst-2-english" in listed
    assert "distilbert-base-uncased-finetuned-sst-2-english" not in listed


def test_deleted_runwayml_repo_is_repository_not_found(api: HfApi) -> None:
    with pytest.raises(RepositoryNotFoundError) as caught:
        api.model_info("runwayml/stable-diffusion-v1-5")
    assert caught.value.response.status_code == 401
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("runwayml/stable-diffusion-v1-5", "README.md")
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("nobody/no-such-model")

    moved = api.model_info("stable-diffusion-v1-5/stable-diffusion-v1-5")
    assert "license:creativeml-openrail-m" in (moved.tags or [])
    served = Path(hf_hub_download("stable-diffusion-v1-5/stable-diffusion-v1-5", "README.md"))
    expected = HUBDATA_DIR / "model_cards" / "runwayml_stable-diffusion-v1-5_README.md"
    assert served.read_bytes() == expected.read_bytes()
    card = ModelCard.load("stable-diffusion-v1-5/stable-diffusion-v1-5")
    assert card.data.license == "creativeml-openrail-m"


def test_model_card_load_gpt_neo(fresh_hub_stub: HubStub) -> None:
    card = ModelCard.load("EleutherAI/gpt-neo-125M")
    assert card.data.license == "mit"
    assert card.data.datasets == ["the_pile"]
    assert "# GPT-Neo 125M" in card.text
    assert fresh_hub_stub.count("/EleutherAI/gpt-neo-125M/resolve/main/README.md", "HEAD") == 1

    head = httpx.head(f"{fresh_hub_stub.url}/EleutherAI/gpt-neo-125M/resolve/main/README.md")
    size = (HUBDATA_DIR / "model_cards" / "EleutherAI_gpt-neo-125M_README.md").stat().st_size
    assert int(head.headers["Content-Length"]) == size
    assert head.headers["ETag"].startswith('"') and head.headers["X-Repo-Commit"]


def test_gated_repo_serves_readme_but_not_weights() -> None:
    text = Path(hf_hub_download("meta-llama/Llama-3.1-8B-Instruct", "README.md")).read_text()
    assert "license: llama3.1" in text
    with pytest.raises(GatedRepoError):
        hf_hub_download("meta-llama/Llama-3.1-8B-Instruct", "config.json")


# -- datasets ----------------------------------------------------------------------------------
def test_list_datasets_and_dataset_info_imdb(api: HfApi) -> None:
    found = [d.id for d in api.list_datasets(search="imdb")]
    assert "imdb" in found

    classification = list(api.list_datasets(task_categories="text-classification", limit=250))
    assert len(classification) > 100
    assert all("task_categories:text-classification" in (d.tags or []) for d in classification)

    info = api.dataset_info("imdb")
    assert info.id == "imdb" and info.author is None
    assert info.card_data is not None and info.card_data.license == ["other"]
    assert "size_categories:10K<n<100K" in (info.tags or [])
    assert info.description is not None and info.description.startswith("Large Movie Review")

    card = DatasetCard.load("imdb")
    assert card.data.pretty_name == "IMDB"
    with pytest.raises(RepositoryNotFoundError):
        api.dataset_info("nobody/no-such-dataset")


# -- dataset viewer ----------------------------------------------------------------------------
def test_viewer_first_rows_and_splits(hub_stub: HubStub) -> None:
    viewer = hub_stub.viewer_url
    first = httpx.get(
        f"{viewer}/first-rows", params={"dataset": "imdb", "config": "plain_text", "split": "train"}
    )
    assert first.status_code == 200
    body = first.json()
    assert [f["name"] for f in body["features"]] == ["text", "label"]
    assert len(body["rows"]) == 3 and body["rows"][0]["row"]["label"] == 0

    splits = httpx.get(f"{viewer}/splits", params={"dataset": "imdb"}).json()
    assert {s["split"] for s in splits["splits"]} == {"train", "test", "unsupervised"}

    no_rows = httpx.get(
        f"{viewer}/first-rows",
        params={"dataset": "rotten_tomatoes", "config": "default", "split": "train"},
    )
    assert no_rows.status_code == 500 and "error" in no_rows.json()
    unknown = httpx.get(f"{viewer}/splits", params={"dataset": "nobody/nothing"})
    assert unknown.status_code == 404 and unknown.json() == {"error": "Not found."}
    missing = httpx.get(f"{viewer}/first-rows", params={"dataset": "imdb"})
    assert missing.status_code == 422
    assert missing.json() == {"error": "Parameter 'config' is required"}


def test_viewer_rows_slice_and_limits(hub_stub: HubStub) -> None:
    params = {"dataset": "imdb", "config": "plain_text", "split": "train"}
    rows = httpx.get(f"{hub_stub.viewer_url}/rows", params={**params, "offset": 234, "length": 3})
    assert [r["row_idx"] for r in rows.json()["rows"]] == [234, 235, 236]
    assert rows.json()["num_rows_total"] == 25000
    too_long = httpx.get(f"{hub_stub.viewer_url}/rows", params={**params, "length": 101})
    assert too_long.status_code == 422


# -- test controls -----------------------------------------------------------------------------
def test_fault_500_raises_and_then_recovers(api: HfApi, fresh_hub_stub: HubStub) -> None:
    fresh_hub_stub.inject("/api/models/gpt2", status=500)
    with pytest.raises(HfHubHTTPError) as caught:
        api.model_info("gpt2")
    assert caught.value.response.status_code == 500
    assert api.model_info("gpt2").id == "gpt2"
    assert fresh_hub_stub.count("/api/models/gpt2") == 2


def test_fault_429_carries_retry_after(api: HfApi, fresh_hub_stub: HubStub) -> None:
    fresh_hub_stub.inject("/api/models", retry_after=7)
    with pytest.raises(HfHubHTTPError) as caught:
        api.model_info("gpt2")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"

    # list_models retries a 429 after Retry-After (+1 s) through http_backoff.
    fresh_hub_stub.inject("/api/models", retry_after=0)
    assert len(list(api.list_models(search="gpt2", limit=1))) == 1
    assert [r.status for r in fresh_hub_stub.requests[-2:]] == [429, 200]


def test_fault_503_garbage_and_delay(fresh_hub_stub: HubStub) -> None:
    url = f"{fresh_hub_stub.url}/api/datasets/imdb"
    fresh_hub_stub.inject("/api/datasets", status=503, times=2)
    assert [httpx.get(url).status_code for _ in range(3)] == [503, 503, 200]

    fresh_hub_stub.inject("/api/datasets/imdb", garbage=True)
    garbage = httpx.get(url)
    assert garbage.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        garbage.json()

    fresh_hub_stub.inject("/datasets-server/", delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{fresh_hub_stub.viewer_url}/is-valid?dataset=imdb", timeout=0.1)
    assert httpx.get(url).json()["id"] == "imdb"


def test_request_counter_and_reset(api: HfApi, fresh_hub_stub: HubStub) -> None:
    assert fresh_hub_stub.count() == 0
    api.model_info("gpt2")
    api.model_info("gpt2")
    api.dataset_info("imdb")
    assert fresh_hub_stub.count("/api/models") == 2
    assert fresh_hub_stub.count("/api/datasets/imdb", method="GET") == 1
    assert fresh_hub_stub.requests[0].path == "/api/models/gpt2"
    fresh_hub_stub.inject("/api/models", status=500, times=5)
    fresh_hub_stub.reset()
    assert fresh_hub_stub.count() == 0
    assert api.model_info("gpt2").id == "gpt2"


async def test_async_clients_reach_the_stub(hub_stub: HubStub) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{hub_stub.url}/api/models/gpt2") as response,
    ):
        assert response.status == 200
        assert (await response.json())["id"] == "gpt2"
    async with httpx.AsyncClient(base_url=hub_stub.viewer_url) as client:
        valid = await client.get("/is-valid", params={"dataset": "imdb"})
        assert valid.json()["preview"] is True
