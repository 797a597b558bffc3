"""The Hugging Face Hub for commands: searches, repo facts, cards and the dataset viewer.

Every call goes through one SingleFlightCache (TTL `hub_cache_seconds`, key = method and
arguments): a class of 30 typing the same search reaches the Hub once, and when the Hub
stops answering, the last answer is served marked stale (see errors.stale_note). "Not
found" and "gated" are answers, cached like any other, so they are never shown as stale.

A sick Hub must not hold a class: each call has one overall deadline
(`hub_timeout_seconds`) and a short connect timeout; calls run on a thread pool of their own
(64 threads, not asyncio's default cpu_count + 4 that the rest of the bot shares); after
five failures in a row a circuit breaker (bot/hub/breaker.py) fails calls at once for 30 s,
so expired answers are served at once, and with the breaker closed an expired answer is
served after 1 s while the fetch goes on. Every failure becomes a HubError through the one
mapping in bot/hub/faults.py; the model guard and the worker's downloads use it too.

Hub calls go through huggingface_hub: `HfApi.model_info` / `dataset_info`, and for lists
and README files its own session, headers and error mapping (`hf_raise_for_status`), one
request per page. Not `HfApi.list_models` or `hf_hub_download`: they retry 429 and 5xx
answers for up to a minute in a worker thread (sleeping out Retry-After) while a student
waits for a reply; here a fault becomes a HubError at once and the command says what to do.
The dataset viewer lives at settings.datasets_server_url and is called with httpx.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import httpx2
from huggingface_hub import (
    HfApi,
    ModelInfo,
    constants,
    get_session,
    hf_hub_url,
    hf_raise_for_status,
)
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

# Public (documented under huggingface_hub.utils) but lazily exported, which mypy cannot see.
from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]

from bot.config import Settings
from bot.hub.breaker import CircuitBreaker
from bot.hub.cache import Cached, SingleFlightCache
from bot.hub.errors import (
    BadRepoId,
    HubBadAnswer,
    HubError,
    HubRateLimited,
    HubTokenRefused,
    HubUnavailable,
    NoPreview,
    RepoDisabled,
    RepoGated,
    RepoNotFound,
    retry_after,
    unavailable,
)
from bot.hub.faults import hub_fault
from bot.hub.records import (
    DatasetDetails,
    Feature,
    FirstRows,
    ModelDetails,
    Page,
    ViewerRow,
    dataset_details,
    model_details,
    parse_dataset,
    parse_model,
)
from bot.hub.tasks import SORTS

log = logging.getLogger(__name__)
# How alike a missing repo id and a suggestion must be (difflib ratio) to say "Did you mean".
_CLOSE = 0.85
T = TypeVar("T")

# Deleted repos answer 401 like any missing repo, with no redirect to where the weights went.
KNOWN_MOVES = {"runwayml/stable-diffusion-v1-5": "stable-diffusion-v1-5/stable-diffusion-v1-5"}
_MODEL_LIST_FIELDS = [
    "pipeline_tag",
    "library_name",
    "downloads",
    "likes",
    "tags",
    "safetensors",
    "gated",
]
_DATASET_LIST_FIELDS = ["downloads", "likes", "tags"]
_SEEN_IDS = 2000
# Definite answers, cached like any other (never "stale": the Hub did answer).
_ANSWERS = (RepoNotFound, RepoGated, RepoDisabled, NoPreview, BadRepoId)
# Hub calls run in threads of their own (huggingface_hub is synchronous): asyncio's default
# pool has cpu_count + 4 threads, so six hanging calls used to queue the whole class and
# every other to_thread call of the bot behind them.
_HUB_THREADS = 64
# Connections to the dataset viewer (huggingface_hub's own session allows 100).
_MAX_CONNECTIONS = 128
# An unreachable host is known in well under this; waiting longer only holds the student.
_CONNECT_SECONDS = 3.0
# With an expired answer at hand, wait this long for a fresh one before showing the old one.
_STALE_WAIT_SECONDS = 1.0


@dataclass(frozen=True)
class _Refusal:
    """A definite 'no' from the Hub (not found, gated, no preview): cached like an answer."""

    error: HubError


class HubClient:
    """The Hub and the dataset viewer for the whole bot: one cache, one circuit breaker per
    server, and one deadline per call (`hub_timeout_seconds`), so that a sick Hub answers
    every student at once (a fault, or an older answer marked stale) instead of queueing
    them. Every failure becomes a HubError through bot/hub/faults.py."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        endpoint: str | None = None,
        breaker: CircuitBreaker | None = None,
        viewer_breaker: CircuitBreaker | None = None,
    ) -> None:
        # HF_ENDPOINT (read by huggingface_hub at import) unless given: tests, mirrors.
        self.endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
        secret = settings.hf_token.get_secret_value() if settings.hf_token else ""
        # False, not None: never pick up a token saved on the machine by someone else.
        token: str | bool = secret or False
        self.timeout = settings.hub_timeout_seconds
        self.api = HfApi(endpoint=self.endpoint, token=token, library_name="classbot")
        self._headers = build_hf_headers(token=token, library_name="classbot")
        # The app's clock, so that "cached N min ago" and expiry agree with everything else.
        self.cache = SingleFlightCache(
            settings.hub_cache_seconds,
            clock=lambda: clock().timestamp(),
            stale_wait=_STALE_WAIT_SECONDS,
        )
        self.breaker = breaker or CircuitBreaker()
        self.viewer_breaker = viewer_breaker or CircuitBreaker()
        self._threads = ThreadPoolExecutor(_HUB_THREADS, thread_name_prefix="hub")
        viewer_headers = {"user-agent": "classbot"}
        if secret:
            viewer_headers["authorization"] = f"Bearer {secret}"
        self.viewer = httpx.AsyncClient(
            base_url=settings.datasets_server_url.rstrip("/") + "/",
            headers=viewer_headers,
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, _CONNECT_SECONDS)),
            limits=httpx.Limits(
                max_connections=_MAX_CONNECTIONS, max_keepalive_connections=_MAX_CONNECTIONS // 4
            ),
            follow_redirects=True,
        )
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def aclose(self) -> None:
        await self.viewer.aclose()
        # Calls still blocked on a hanging Hub end with their own timeout; nobody waits.
        self._threads.shutdown(wait=False, cancel_futures=True)

    @property
    def _request_timeout(self) -> httpx2.Timeout:
        return httpx2.Timeout(self.timeout, connect=min(self.timeout, _CONNECT_SECONDS))

    # -- the cache, the breaker and the deadline ----------------------------------------------
    async def _get(
        self,
        key: Hashable,
        work: Callable[[], Awaitable[T]],
        kind: str,
        repo_id: str | None,
        *,
        breaker: CircuitBreaker | None = None,
        stale_wait: float | None = None,
    ) -> Cached[T]:
        guard = breaker or self.breaker

        async def fetch() -> T | _Refusal:
            guard.before_call()
            try:
                # The request timeouts bound each read; this bounds the whole call.
                value = await asyncio.wait_for(work(), self.timeout)
            except asyncio.CancelledError:
                guard.abandoned()
                raise
            except Exception as error:
                fault = hub_fault(error, kind, repo_id)
                if isinstance(fault, HubUnavailable):
                    guard.failed()
                else:
                    guard.succeeded()  # a refusal is an answer: the Hub is up
                if isinstance(fault, _ANSWERS):
                    return _Refusal(fault)
                if fault is error:
                    raise
                raise fault from error
            guard.succeeded()
            return value

        cached = await self.cache.get(key, fetch, stale_wait=stale_wait)
        if isinstance(cached.value, _Refusal):
            raise cached.value.error
        return cached  # type: ignore[return-value]

    async def _threaded(
        self,
        key: Hashable,
        work: Callable[[], T],
        kind: str,
        repo_id: str | None = None,
        *,
        stale_wait: float | None = None,
    ) -> Cached[T]:
        async def run() -> T:
            return await asyncio.get_running_loop().run_in_executor(self._threads, work)

        return await self._get(key, run, kind, repo_id, stale_wait=stale_wait)

    # -- HTTP through huggingface_hub --------------------------------------------------------------
    def _list(self, path: str, params: dict[str, Any], want: int) -> list[dict[str, Any]]:
        """Up to `want` items of a Hub listing, following its Link pages."""
        url: str | None = f"{self.endpoint}{path}"
        query: dict[str, Any] | None = {**params, "limit": want}
        items: list[dict[str, Any]] = []
        while url and len(items) < want:
            response = get_session().get(
                url, params=query, headers=self._headers, timeout=self._request_timeout
            )
            hf_raise_for_status(response)
            page = response.json()
            if not isinstance(page, list) or not all(isinstance(i, dict) for i in page):
                raise ValueError("a listing that is not a list of objects")
            items.extend(page)
            url, query = response.links.get("next", {}).get("url"), None
        return items[:want]

    def _file(self, repo_id: str, filename: str, repo_type: str) -> str | None:
        """A repo file's text (README.md, dataset_infos.json), or None if the repo has none."""
        url = hf_hub_url(repo_id, filename, repo_type=repo_type, endpoint=self.endpoint)
        response = get_session().get(url, headers=self._headers, timeout=self._request_timeout)
        try:
            hf_raise_for_status(response)
        except RepositoryNotFoundError:
            raise
        except HfHubHTTPError as error:
            # The repo exists (else the error above) but not the file: no card is fine.
            if error.response.status_code == 404:
                return None
            raise
        return response.text

    # -- models --------------------------------------------------------------------------------
    async def search_models(
        self,
        *,
        text: str | None = None,
        task: str | None = None,
        library: str | None = None,
        sort: str = "downloads",
        limit: int = 10,
        page: int = 1,
    ) -> Cached[Page]:
        params: dict[str, Any] = {"sort": SORTS[sort], "expand": _MODEL_LIST_FIELDS}
        if text:
            params["search"] = text
        if task:
            params["pipeline_tag"] = task
        if library:
            params["filter"] = library

        def work() -> Page:
            items = self._list("/api/models", params, want=limit * page + 1)
            models = [parse_model(i) for i in items]
            self._remember(m.id for m in models)
            shown = models[limit * (page - 1) : limit * page]
            return Page(items=tuple(shown), has_more=len(models) > limit * page)

        key = ("search_models", text, task, library, sort, limit, page)
        return await self._threaded(key, work, "model")

    async def model_info(self, repo_id: str) -> Cached[ModelDetails]:
        """A model's facts; a renamed repo answers with its new id (compare with repo_id)."""

        # Built on the guard's own answer (same cache entry): the model page asks the guard
        # whether the model runs here without a second request.
        try:
            facts = await self.model_facts(repo_id)
        except RepoNotFound as error:
            raise error.with_suggestions(await self.similar_models(repo_id)) from None
        try:
            details = model_details(facts.value)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            log.warning("unreadable model_info for %s: %r", repo_id, error)
            raise HubBadAnswer() from None
        return Cached(value=details, age=facts.age, stale=facts.stale)

    def _model_info(self, repo_id: str, files: bool = False) -> ModelInfo:
        # Typed as a float, passed as is to the httpx2 session: a Timeout works.
        timeout: Any = self._request_timeout
        return self.api.model_info(repo_id, timeout=timeout, files_metadata=files)

    async def model_facts(
        self, repo_id: str, *, files: bool = False, stale_wait: float | None = None
    ) -> Cached[ModelInfo]:
        """huggingface_hub's own ModelInfo (for the model guard), `files`: with file sizes.
        `stale_wait=0` answers at once from an expired entry while it is refreshed."""
        work = lambda: self._model_info(repo_id, files)  # noqa: E731
        key = ("model_facts", repo_id, files)
        return await self._threaded(key, work, "model", repo_id, stale_wait=stale_wait)

    async def provider_facts(self, repo_id: str) -> Cached[ModelInfo]:
        """A model's Inference Providers mapping, task and size (the hosted model guard), with
        what /run shows of it: the mask token to type and the tags naming its license."""
        timeout: Any = self._request_timeout
        expand: Any = [
            "inferenceProviderMapping",
            "pipeline_tag",
            "safetensors",
            "mask_token",
            "tags",
        ]
        work = lambda: self.api.model_info(repo_id, timeout=timeout, expand=expand)  # noqa: E731
        return await self._threaded(("provider_facts", repo_id), work, "model", repo_id)

    async def model_card(self, repo_id: str) -> Cached[str | None]:
        """README.md of a model, None when it has no card."""
        work = lambda: self._file(repo_id, "README.md", "model")  # noqa: E731
        return await self._threaded(("model_card", repo_id), work, "model", repo_id)

    async def similar_models(self, repo_id: str) -> tuple[str, ...]:
        """Where a missing model may be: a known move, or close names in a search."""
        return await self._similar(repo_id, KNOWN_MOVES.get(repo_id), self.search_models)

    def known_models(self, prefix: str, limit: int = 25) -> list[str]:
        """Model ids seen in recent searches that match what a student is typing."""
        typed = prefix.strip().lower()
        recent = list(reversed(self._seen))
        first = [i for i in recent if i.lower().startswith(typed)]
        named = [i for i in recent if i.lower().split("/")[-1].startswith(typed)]
        within = [i for i in recent if typed in i.lower()]
        return list(dict.fromkeys(first + named + within))[:limit]

    def _remember(self, ids: Any) -> None:
        for repo_id in ids:
            self._seen[repo_id] = None
            self._seen.move_to_end(repo_id)
        while len(self._seen) > _SEEN_IDS:
            self._seen.popitem(last=False)

    async def _similar(
        self, repo_id: str, moved: str | None, search: Callable[..., Awaitable[Cached[Page]]]
    ) -> tuple[str, ...]:
        found = [moved] if moved else []
        name = repo_id.rsplit("/", 1)[-1]
        try:
            listed = await search(text=name, sort="downloads", limit=25)
        except HubError:
            return tuple(found)
        ids = [item.id for item in listed.value.items]
        same = [i for i in ids if i.lower() == repo_id.lower()]
        # Only near misses (a typo, a wrong case, a name cut short): a search for a short
        # name such as "model" lists unrelated repos ("mishig/temp-model") that a loose
        # cutoff would offer.
        lowered = {i.lower(): i for i in ids}
        close = [
            lowered[i]
            for i in difflib.get_close_matches(repo_id.lower(), list(lowered), n=3, cutoff=_CLOSE)
        ]
        names = {i.rsplit("/", 1)[-1].lower() for i in ids}
        typed = name.lower()
        by_name = set(difflib.get_close_matches(typed, names, n=3, cutoff=_CLOSE))
        # A name cut short ("imdb_urdu" for imdb_urdu_reviews) is close; a word found at the
        # end of a longer name ("model" in temp-model) is not.
        by_name |= {n for n in names if n.startswith(typed) and 2 * len(typed) >= len(n)}
        close += [i for i in ids if i.rsplit("/", 1)[-1].lower() in by_name]
        return tuple(dict.fromkeys(i for i in found + same + close if i != repo_id))[:3]

    # -- datasets ------------------------------------------------------------------------------
    async def search_datasets(
        self,
        *,
        text: str | None = None,
        task: str | None = None,
        sort: str = "downloads",
        limit: int = 10,
        page: int = 1,
    ) -> Cached[Page]:
        params: dict[str, Any] = {"sort": SORTS[sort], "expand": _DATASET_LIST_FIELDS}
        if text:
            params["search"] = text
        if task:
            params["filter"] = f"task_categories:{task}"

        def work() -> Page:
            items = self._list("/api/datasets", params, want=limit * page + 1)
            found = [parse_dataset(i) for i in items]
            shown = found[limit * (page - 1) : limit * page]
            return Page(items=tuple(shown), has_more=len(found) > limit * page)

        key = ("search_datasets", text, task, sort, limit, page)
        return await self._threaded(key, work, "dataset")

    async def dataset_info(self, repo_id: str) -> Cached[DatasetDetails]:
        def work() -> DatasetDetails:
            # Typed as a float, passed as is to the httpx2 session: a Timeout works.
            timeout: Any = self._request_timeout
            return dataset_details(self.api.dataset_info(repo_id, timeout=timeout))

        try:
            return await self._threaded(("dataset_info", repo_id), work, "dataset", repo_id)
        except RepoNotFound as error:
            similar = await self._similar(repo_id, None, self.search_datasets)
            raise error.with_suggestions(similar) from None

    async def dataset_card(self, repo_id: str) -> Cached[str | None]:
        work = lambda: self._file(repo_id, "README.md", "dataset")  # noqa: E731
        return await self._threaded(("dataset_card", repo_id), work, "dataset", repo_id)

    async def dataset_infos(self, repo_id: str) -> Cached[dict[str, Any] | None]:
        """The legacy dataset_infos.json (splits with row counts), None if there is none."""

        def work() -> dict[str, Any] | None:
            text = self._file(repo_id, "dataset_infos.json", "dataset")
            if text is None:
                return None
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("dataset_infos.json is not an object")
            return data

        return await self._threaded(("dataset_infos", repo_id), work, "dataset", repo_id)

    # -- the dataset viewer ----------------------------------------------------------------------
    async def _viewer_get(self, endpoint: str, params: dict[str, str]) -> Any:
        dataset = params["dataset"]
        response = await self.viewer.get(endpoint, params=params)
        if response.status_code == 429:
            raise HubRateLimited(retry_after(response.headers))
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success:
            if not isinstance(body, dict):
                raise HubBadAnswer()
            return body
        message = body.get("error") if isinstance(body, dict) else None
        if response.status_code == 401 and "invalid credentials" in str(message).lower():
            raise HubTokenRefused()
        if response.status_code in (401, 403, 404):
            raise NoPreview(dataset, "the dataset viewer does not know it (or it is private)")
        # The viewer's own "this dataset cannot be previewed": a 501 (not supported), or a
        # 500 naming the dataset's failure (cause_exception). A bare 500 is an outage.
        about_dataset = response.status_code == 501 or (
            isinstance(body, dict) and "cause_exception" in body
        )
        if isinstance(message, str) and about_dataset:
            where = f" ({params['config']}/{params['split']})" if "split" in params else ""
            raise NoPreview(dataset, message, where)
        raise unavailable(response.status_code)

    async def _viewer(
        self, key: Hashable, work: Callable[[], Awaitable[T]], dataset: str
    ) -> Cached[T]:
        return await self._get(key, work, "dataset", dataset, breaker=self.viewer_breaker)

    async def viewer_splits(self, dataset: str) -> Cached[tuple[tuple[str, str], ...]]:
        """(config, split) pairs the viewer knows for a dataset."""

        async def work() -> tuple[tuple[str, str], ...]:
            body = await self._viewer_get("splits", {"dataset": dataset})
            return tuple((str(s["config"]), str(s["split"])) for s in body.get("splits", []))

        return await self._viewer(("viewer_splits", dataset), work, dataset)

    async def viewer_first_rows(self, dataset: str, config: str, split: str) -> Cached[FirstRows]:
        async def work() -> FirstRows:
            params = {"dataset": dataset, "config": config, "split": split}
            body = await self._viewer_get("first-rows", params)
            features = tuple(
                Feature(
                    name=str(f["name"]),
                    kind=str((f.get("type") or {}).get("_type", "Value")),
                    labels=tuple(str(n) for n in (f.get("type") or {}).get("names") or ()),
                )
                for f in body.get("features", [])
            )
            rows = tuple(
                ViewerRow(
                    index=int(r.get("row_idx", i)),
                    cells=dict(r["row"]),
                    truncated=frozenset(r.get("truncated_cells", ())),
                )
                for i, r in enumerate(body.get("rows", []))
            )
            return FirstRows(dataset, config, split, features, rows)

        key = ("viewer_first_rows", dataset, config, split)
        return await self._viewer(key, work, dataset)
