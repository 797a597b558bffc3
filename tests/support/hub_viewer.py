"""The dataset viewer stand-in (datasets-server.huggingface.co), under `{hub.url}/datasets-server`.

Recorded examples (dataset_viewer/, from the viewer's OpenAPI spec) are served verbatim for
the dataset/config/split they answer; a legacy id answers for its org/name (imdb ->
stanfordnlp/imdb). Other datasets of datasets.jsonl get /splits, /info and /size built
from their dataset_infos, and for /first-rows and /rows the recorded error payload, since
no rows were recorded for them.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.support.hub_api import Params, Response, one
from tests.support.hub_catalog import HubData

_PAGE = 100  # /rows serves at most 100 rows per call, like the real viewer


class ViewerRoutes:
    def __init__(self, data: HubData) -> None:
        self.data = data

    # -- helpers -----------------------------------------------------------------------------
    def _error(self, name: str, case: str) -> Response:
        status = int(name.split("_")[1])
        payload = self.data.viewer.errors[name][case]
        return Response.json(status, payload)

    def _required(self, params: Params, *names: str) -> list[str] | Response:
        values: list[str] = []
        for name in names:
            value = one(params, name)
            if not value:
                recorded = self.data.viewer.errors["rows_422_errors"].get(f"missing-{name}")
                # /search's "query" has no recorded example: same shape, same wording.
                payload = recorded or {"error": f"Parameter '{name}' is required"}
                return Response.json(422, payload)
            values.append(value)
        return values

    def _canonical(self, dataset: str) -> str:
        return self.data.viewer.aliases.get(dataset, dataset)

    def _infos(self, dataset: str) -> dict[str, Any] | None:
        infos = self.data.datasets.infos
        if dataset in infos:
            return infos[dataset]
        legacy = dataset.rpartition("/")[2]
        if self.data.viewer.aliases.get(legacy) == dataset:
            return infos.get(legacy)
        return None

    def _known(self, dataset: str) -> bool:
        canonical = self._canonical(dataset)
        return self._infos(dataset) is not None or any(
            key[1] == canonical for key in self.data.viewer.recorded
        )

    def _recorded(
        self, endpoint: str, dataset: str, config: str | None = None, split: str | None = None
    ) -> Any | None:
        found = self.data.viewer.recorded.get((endpoint, self._canonical(dataset), config, split))
        return copy.deepcopy(found) if found is not None else None

    def _no_rows(self, dataset: str, config: str, split: str) -> Response:
        infos = self._infos(dataset)
        if infos is not None:
            splits = (infos.get(config) or {}).get("splits") or {}
            if config not in infos or split not in splits:
                return self._error("rows_404_errors", "error in the dataset itself")
        payload = copy.deepcopy(
            self.data.viewer.errors["first-rows_500_errors"]["error in the dataset itself"]
        )
        payload["cause_message"] = f"hub stub: no rows recorded for {dataset} {config}/{split}"
        payload["cause_traceback"] = []
        return Response.json(500, payload)

    def _rows(self, dataset: str, config: str, split: str) -> tuple[list[Any], list[Any], int]:
        """Every recorded row of a split: (features, rows by row_idx, num_rows_total)."""
        features: list[Any] = []
        rows: dict[int, Any] = {}
        total = 0
        for endpoint in ("first-rows", "rows"):
            payload = self._recorded(endpoint, dataset, config, split)
            if payload is None:
                continue
            features = features or payload.get("features", [])
            for row in payload.get("rows", []):
                rows.setdefault(row["row_idx"], row)
            total = max(total, int(payload.get("num_rows_total") or 0))
        infos = self._infos(dataset) or {}
        split_info = ((infos.get(config) or {}).get("splits") or {}).get(split) or {}
        total = total or int(split_info.get("num_examples") or len(rows))
        return features, [rows[i] for i in sorted(rows)], total

    # -- routes ------------------------------------------------------------------------------
    def dispatch(self, path: str, params: Params) -> Response:
        handler = {
            "is-valid": self.is_valid,
            "splits": self.splits,
            "first-rows": self.first_rows,
            "rows": self.rows,
            "search": self.search,
            "info": self.info,
            "size": self.size,
            "parquet": self.parquet,
        }.get(path)
        if handler is None:
            return self._error("rows_404_errors", "error in the dataset itself")
        required = self._required(params, "dataset")
        if isinstance(required, Response):
            return required
        dataset = required[0]
        if not self._known(dataset):
            return self._error("rows_404_errors", "error in the dataset itself")
        return handler(dataset, params)

    def is_valid(self, dataset: str, params: Params) -> Response:
        canonical = self._canonical(dataset)
        has_rows = any(
            k[0] == "first-rows" and k[1] == canonical for k in self.data.viewer.recorded
        )
        name = "all_the_capabilities" if has_rows else "no_capabilities"
        return Response.json(200, copy.deepcopy(self.data.viewer.capabilities[name]))

    def splits(self, dataset: str, params: Params) -> Response:
        config = one(params, "config")
        recorded = self._recorded("splits", dataset, config)
        if recorded is not None:
            return Response.json(200, recorded)
        infos = self._infos(dataset)
        if infos is None or (config is not None and config not in infos):
            return self._error("rows_404_errors", "error in the dataset itself")
        entries = [
            {"dataset": dataset, "config": name, "split": split}
            for name, info in infos.items()
            if config is None or name == config
            for split in (info.get("splits") or {})
        ]
        if config is not None:
            return Response.json(200, {"splits": entries})
        return Response.json(200, {"splits": entries, "pending": [], "failed": []})

    def first_rows(self, dataset: str, params: Params) -> Response:
        required = self._required(params, "config", "split")
        if isinstance(required, Response):
            return required
        config, split = required
        recorded = self._recorded("first-rows", dataset, config, split)
        if recorded is not None:
            return Response.json(200, recorded)
        return self._no_rows(dataset, config, split)

    def rows(self, dataset: str, params: Params) -> Response:
        required = self._required(params, "config", "split")
        if isinstance(required, Response):
            return required
        config, split = required
        try:
            offset = int(one(params, "offset") or 0)
        except ValueError:
            return self._error("rows_422_errors", "non-integer-offset")
        try:
            length = int(one(params, "length") or _PAGE)
        except ValueError:
            return self._error("rows_422_errors", "non-integer-length")
        if offset < 0:
            return self._error("rows_422_errors", "negative-offset")
        if length < 0:
            return self._error("rows_422_errors", "negative-length")
        if length > _PAGE:
            return self._error("rows_422_errors", "too-large-length")
        features, rows, total = self._rows(dataset, config, split)
        if not rows:
            return self._no_rows(dataset, config, split)
        page = [r for r in rows if offset <= r["row_idx"] < offset + length]
        return Response.json(
            200,
            {
                "features": features,
                "rows": page,
                "num_rows_total": total,
                "num_rows_per_page": _PAGE,
                "partial": False,
            },
        )

    def search(self, dataset: str, params: Params) -> Response:
        required = self._required(params, "config", "split", "query")
        if isinstance(required, Response):
            return required
        config, split, query = required
        needle = query.lower()

        def hit(row: Any) -> bool:
            cells = row.get("row", {}).values()
            return any(isinstance(c, str) and needle in c.lower() for c in cells)

        recorded = self._recorded("search", dataset, config, split)
        if recorded is not None and recorded.get("rows") and all(map(hit, recorded["rows"])):
            return Response.json(200, recorded)
        features, rows, _ = self._rows(dataset, config, split)
        if not rows:
            return self._no_rows(dataset, config, split)
        matches = [r for r in rows if hit(r)]
        return Response.json(
            200,
            {
                "features": features,
                "rows": matches[:_PAGE],
                "num_rows_total": len(matches),
                "num_rows_per_page": _PAGE,
                "partial": False,
            },
        )

    def info(self, dataset: str, params: Params) -> Response:
        config = one(params, "config")
        recorded = self._recorded("info", dataset, config)
        if recorded is not None:
            return Response.json(200, recorded)
        infos = self._infos(dataset)
        if infos is None or (config is not None and config not in infos):
            return self._error("rows_404_errors", "error in the dataset itself")
        if config is not None:
            return Response.json(200, {"dataset_info": infos[config], "partial": False})
        return Response.json(
            200, {"dataset_info": infos, "pending": [], "failed": [], "partial": False}
        )

    def size(self, dataset: str, params: Params) -> Response:
        config = one(params, "config")
        recorded = self._recorded("size", dataset, config)
        if recorded is not None:
            return Response.json(200, recorded)
        infos = self._infos(dataset)
        if infos is None or (config is not None and config not in infos):
            return self._error("rows_404_errors", "error in the dataset itself")
        configs: list[dict[str, Any]] = []
        splits: list[dict[str, Any]] = []
        for name, info in infos.items():
            if config is not None and name != config:
                continue
            info_splits = info.get("splits") or {}
            rows = sum(int(s.get("num_examples") or 0) for s in info_splits.values())
            configs.append(
                {
                    "dataset": dataset,
                    "config": name,
                    "num_bytes_original_files": info.get("download_size"),
                    # No parquet export was recorded for these datasets.
                    "num_bytes_parquet_files": None,
                    "num_bytes_memory": info.get("dataset_size"),
                    "num_rows": rows,
                    "num_columns": len(info.get("features") or {}),
                    "estimated_num_rows": None,
                }
            )
            splits += [
                {
                    "dataset": dataset,
                    "config": name,
                    "split": split,
                    "num_bytes_parquet_files": None,
                    "num_bytes_memory": s.get("num_bytes"),
                    "num_rows": s.get("num_examples"),
                    "num_columns": len(info.get("features") or {}),
                    "estimated_num_rows": None,
                }
                for split, s in info_splits.items()
            ]
        if config is not None:
            return Response.json(
                200, {"size": {"config": configs[0], "splits": splits}, "partial": False}
            )
        total = {
            "dataset": dataset,
            "num_bytes_original_files": sum(c["num_bytes_original_files"] or 0 for c in configs),
            "num_bytes_parquet_files": None,
            "num_bytes_memory": sum(c["num_bytes_memory"] or 0 for c in configs),
            "num_rows": sum(c["num_rows"] for c in configs),
            "estimated_num_rows": None,
        }
        size = {"dataset": total, "configs": configs, "splits": splits}
        return Response.json(200, {"size": size, "pending": [], "failed": [], "partial": False})

    def parquet(self, dataset: str, params: Params) -> Response:
        recorded = self._recorded("parquet", dataset, one(params, "config"))
        if recorded is not None:
            return Response.json(200, recorded)
        return self._error("rows_404_errors", "error in the dataset itself")
