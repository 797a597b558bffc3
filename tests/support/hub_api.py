"""Routes of the Hub stand-in: Hub API, file resolution and the dataset viewer.

Semantics follow the real Hub as huggingface_hub 2.4 reads it (hf_api.list_models,
model_info, list_datasets, dataset_info, utils/_pagination.py, utils/_http.py
hf_raise_for_status, file_download.get_hf_file_metadata).
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlencode

from tests.support.hub_catalog import HubData, Record, blob_etag, build_card

Params = dict[str, list[str]]


class Router(Protocol):
    def dispatch(self, path: str, params: Params) -> Response: ...


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # The stand-in's fault mode "truncated": announce more bytes than the body has.
    truncated: bool = False

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(payload).encode(), dict(headers or {}))


# huggingface_hub raises RepositoryNotFoundError on this code; an anonymous request for a
# missing or private repo gets 401 from the Hub, not 404.
REPO_NOT_FOUND = Response.json(
    401,
    {"error": "Repository not found"},
    {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"},
)
NOT_FOUND = Response.json(404, {"error": "Sorry, we can't find the page you are looking for."})

_MODEL_FIELDS = (
    "_id",
    "id",
    "likes",
    "trendingScore",
    "private",
    "downloads",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "modelId",
)
_MODEL_FULL = (
    "author",
    "sha",
    "lastModified",
    "gated",
    "disabled",
    "siblings",
    "widgetData",
    "mask_token",
    "inference",
)
_DATASET_FIELDS = (
    "_id",
    "id",
    "author",
    "sha",
    "lastModified",
    "private",
    "gated",
    "disabled",
    "downloads",
    "likes",
    "tags",
    "createdAt",
    "trendingScore",
    "description",
)
_DATASET_FULL = ("cardData", "siblings", "citation", "paperswithcode_id")
_SORTS = {
    "downloads": "downloads",
    "likes": "likes",
    "trendingScore": "trendingScore",
    "trending_score": "trendingScore",
    "createdAt": "createdAt",
    "created_at": "createdAt",
    "lastModified": "lastModified",
    "last_modified": "lastModified",
    "id": "id",
}
_NUMERIC_SORTS = {"downloads", "likes", "trendingScore"}
_API_REPO = re.compile(r"^(?P<id>[^/]+(?:/[^/]+)?)(?:/revision/(?P<rev>[^/]+))?$")
_RESOLVE = re.compile(
    r"^/(?:(?P<type>datasets|spaces)/)?(?P<id>[^/]+(?:/[^/]+)?)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$"
)


def one(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def many(params: Params, *names: str) -> list[str]:
    return [v for n in names for raw in params.get(n, []) for v in raw.split(",") if v]


def truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("", "1", "true", "yes")


def _project(record: Record, fields: tuple[str, ...]) -> Record:
    return {k: copy.deepcopy(record[k]) for k in fields if k in record}


class HubRoutes:
    def __init__(self, data: HubData, viewer: Router, *, page_size: int) -> None:
        self.data = data
        self.viewer = viewer
        self.page_size = page_size
        self.base_url = ""  # set by HubStub once the port is known: Link headers are absolute

    def dispatch(self, method: str, path: str, params: Params) -> Response:
        """`path` as sent (still %-encoded): repo ids and revisions are unquoted per part."""
        if path.startswith("/datasets-server/"):
            return self.viewer.dispatch(path.removeprefix("/datasets-server/"), params)
        if method not in ("GET", "HEAD"):
            return NOT_FOUND
        if path == "/api/models":
            return self._list(params, path, models=True)
        if path == "/api/datasets":
            return self._list(params, path, models=False)
        for prefix, models in (("/api/models/", True), ("/api/datasets/", False)):
            if path.startswith(prefix):
                return self._info(path.removeprefix(prefix), params, models=models)
        match = _RESOLVE.match(path)
        if match:
            return self._resolve(match)
        return NOT_FOUND

    # -- listing ---------------------------------------------------------------------------
    def _list(self, params: Params, path: str, *, models: bool) -> Response:
        if models:
            cat = self.data.models
            items = [cat.records[i] for i in cat.listed]
        else:
            items = list(self.data.datasets.records.values())
        checks: list[Callable[[Record], bool]] = []
        terms = [t.lower() for t in many(params, "search")]
        if terms:
            checks.append(lambda r: all(t in r["id"].lower() for t in terms))
        author = one(params, "author")
        if author:
            checks.append(lambda r: r.get("author") == author or r["id"].startswith(author + "/"))
        wanted = many(params, "filter") + many(params, "library")
        if wanted:
            checks.append(lambda r: all(w in _tagset(r) for w in wanted))
        pipeline = one(params, "pipeline_tag")
        if pipeline:
            checks.append(lambda r: r.get("pipeline_tag") == pipeline)
        gated = one(params, "gated")
        if gated is not None:
            checks.append(lambda r: bool(r.get("gated")) == truthy(gated))
        items = [r for r in items if all(check(r) for check in checks)]

        sort = one(params, "sort")
        if sort:
            key = _SORTS.get(sort)
            if key is None:
                return Response.json(400, {"error": f"Invalid sort parameter: {sort}"})
            descending = one(params, "direction") != "1"
            items.sort(
                key=lambda r: r.get(key) or (0 if key in _NUMERIC_SORTS else ""),
                reverse=descending,
            )

        try:
            limit = int(one(params, "limit") or self.page_size)
            offset = _decode_cursor(one(params, "cursor"))
        except ValueError as exc:
            return Response.json(400, {"error": f"Invalid parameter: {exc}"})
        size = max(1, min(limit, self.page_size))
        page = items[offset : offset + size]

        expand = tuple(many(params, "expand", "expand[]"))
        if expand:
            fields = ("_id", "id", *expand)
        elif models:
            fields = _MODEL_FIELDS + (_MODEL_FULL if truthy(one(params, "full")) else ())
            fields += ("cardData",) if truthy(one(params, "cardData")) else ()
            fields += ("config",) if truthy(one(params, "config")) else ()
        else:
            fields = _DATASET_FIELDS + (_DATASET_FULL if truthy(one(params, "full")) else ())
        headers: dict[str, str] = {}
        if offset + size < len(items):
            query = {k: v for k, v in params.items() if k != "cursor"}
            query["cursor"] = [_encode_cursor(offset + size)]
            query["limit"] = [str(limit)]
            headers["Link"] = f'<{self.base_url}{path}?{urlencode(query, doseq=True)}>; rel="next"'
        return Response.json(200, [_project(r, fields) for r in page], headers)

    # -- one repo ----------------------------------------------------------------------------
    def _lookup(self, repo_id: str, *, models: bool) -> tuple[Record | None, str | None]:
        """(record, renamed_to): (None, None) for a missing, deleted or private repo."""
        if models:
            cat = self.data.models
            if repo_id in cat.renames:
                return None, cat.renames[repo_id]
            if repo_id in cat.deleted:
                return None, None
            return cat.records.get(repo_id), None
        return self.data.datasets.records.get(repo_id), None

    def _info(self, tail: str, params: Params, *, models: bool) -> Response:
        match = _API_REPO.match(tail)
        if not match:
            return NOT_FOUND
        repo_id, rev = unquote(match["id"]), unquote(match["rev"]) if match["rev"] else None
        record, renamed = self._lookup(repo_id, models=models)
        if renamed:
            kind = "models" if models else "datasets"
            location = f"/api/{kind}/{renamed}" + (
                f"/revision/{quote(rev, safe='')}" if rev else ""
            )
            query = urlencode(params, doseq=True)
            return _redirect(location + (f"?{query}" if query else ""))
        if record is None:
            return REPO_NOT_FOUND
        if rev is not None and rev not in ("main", record.get("sha")):
            return _revision_not_found(rev)
        expand = tuple(many(params, "expand", "expand[]"))
        body = _project(record, ("_id", "id", *expand)) if expand else copy.deepcopy(record)
        return Response.json(200, body)

    # -- files -------------------------------------------------------------------------------
    def _resolve(self, match: re.Match[str]) -> Response:
        models = match["type"] is None
        if match["type"] == "spaces":
            return REPO_NOT_FOUND
        repo_id, rev, filename = unquote(match["id"]), unquote(match["rev"]), unquote(match["file"])
        record, renamed = self._lookup(repo_id, models=models)
        if renamed:
            return _redirect(f"/{renamed}/resolve/{quote(rev, safe='')}/{quote(filename)}")
        if record is None:
            return REPO_NOT_FOUND
        sha = str(record.get("sha"))
        if rev not in ("main", sha):
            return _revision_not_found(rev)
        content, kind = self._file(repo_id, record, filename, models=models)
        if content is None:
            if models and record.get("gated") and filename != "README.md":
                return Response.json(
                    401,
                    {
                        "error": f"Access to model {repo_id} is restricted. You must have access "
                        "to it and be authenticated to access it. Please log in."
                    },
                    {"X-Error-Code": "GatedRepo", "X-Repo-Commit": sha},
                )
            return Response.json(
                404,
                {"error": "Entry not found"},
                {
                    "X-Error-Code": "EntryNotFound",
                    "X-Error-Message": "Entry not found",
                    "X-Repo-Commit": sha,
                },
            )
        return Response(
            200,
            content,
            {
                "Content-Type": kind,
                "ETag": f'"{blob_etag(content)}"',
                "X-Repo-Commit": sha,
                "Accept-Ranges": "bytes",
            },
        )

    def _file(
        self, repo_id: str, record: Record, filename: str, *, models: bool
    ) -> tuple[bytes | None, str]:
        text_kind = "text/plain; charset=utf-8"
        if models:
            if filename != "README.md":
                return None, text_kind
            card = self.data.models.card(repo_id) or build_card(record.get("cardData"), "")
            return card.encode(), text_kind
        cat = self.data.datasets
        if filename == "README.md":
            return cat.cards[repo_id].encode(), text_kind
        if filename == "dataset_infos.json":
            return json.dumps(cat.infos[repo_id], indent=2).encode(), "application/json"
        return None, text_kind


def _tagset(record: Record) -> set[str]:
    tags = set(record.get("tags") or ())
    for key in ("pipeline_tag", "library_name"):
        if record.get(key):
            tags.add(record[key])
    return tags


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor.encode()))["offset"]
    except Exception as exc:
        raise ValueError("cursor") from exc
    if not isinstance(offset, int) or offset < 0:
        raise ValueError("cursor")
    return offset


def _redirect(location: str) -> Response:
    # The Hub answers a renamed repo with 307 and a relative Location; httpx follows it.
    return Response(
        307,
        f"Temporary Redirect. Redirecting to {location}".encode(),
        {"Location": location, "Content-Type": "text/plain; charset=utf-8"},
    )


def _revision_not_found(rev: str) -> Response:
    return Response.json(
        404,
        {"error": f"Invalid rev id: {rev}"},
        {"X-Error-Code": "RevisionNotFound", "X-Error-Message": f"Invalid rev id: {rev}"},
    )
