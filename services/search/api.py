"""The REST surface: one Tornado handler routing OpenSearch paths to the store, searcher and writers.

Paths are matched in order (ours first: ``/health`` and ``/status``); reads run on the store's reader
threads, writes as jobs on its writer thread.  Every failure is written in OpenSearch's error shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import urllib.parse
from typing import Any, Callable

import tornado.web

from . import codec, documents, search
from .errors import SearchError, bad_request, index_not_found
from .search import shards

log = logging.getLogger(__name__)
VERSION = "2.19.1"


class Route:
    def __init__(self, pattern: str, methods: dict[str, str]):
        self.regex = re.compile("^" + pattern + "$")
        self.methods = methods


ROUTES = [
    Route(r"/", {"GET": "info", "HEAD": "info"}),
    Route(r"/health", {"GET": "own_health", "HEAD": "own_health"}),
    Route(r"/status", {"GET": "own_status"}),
    Route(r"/_cluster/health(?:/(?P<index>[^/]+))?", {"GET": "cluster_health"}),
    Route(r"/_cat/indices(?:/(?P<index>[^/]+))?", {"GET": "cat_indices"}),
    Route(r"/_cat/health", {"GET": "cat_health"}),
    Route(r"/_cat/count(?:/(?P<index>[^/]+))?", {"GET": "cat_count"}),
    Route(r"/_aliases|/_alias", {"GET": "aliases"}),
    Route(r"/_nodes(?:/[^/]+)*", {"GET": "nodes"}),
    Route(r"/(?:(?P<index>[^_/][^/]*)/)?_bulk", {"POST": "bulk", "PUT": "bulk"}),
    Route(r"/_search/scroll(?:/(?P<scroll_id>[^/]+))?", {"GET": "scroll", "POST": "scroll", "DELETE": "clear_scroll"}),
    Route(r"/(?:(?P<index>[^_/][^/]*)/)?_search", {"GET": "search", "POST": "search"}),
    Route(r"/(?:(?P<index>[^_/][^/]*)/)?_msearch", {"GET": "msearch", "POST": "msearch"}),
    Route(r"/(?:(?P<index>[^_/][^/]*)/)?_count", {"GET": "count", "POST": "count"}),
    Route(r"/(?P<index>[^_/][^/]*)/_delete_by_query", {"POST": "delete_by_query"}),
    Route(r"/(?:(?P<index>[^_/][^/]*)/)?_refresh", {"POST": "refresh", "GET": "refresh"}),
    Route(r"/(?:(?P<index>[^_/][^/]*)/)?_flush", {"POST": "refresh", "GET": "refresh"}),
    Route(r"/(?:(?P<index>[^_/][^/]*)/)?_mapping", {"GET": "get_mapping", "PUT": "put_mapping", "POST": "put_mapping"}),
    Route(r"/(?:(?P<index>[^_/][^/]*)/)?_settings", {"GET": "get_settings", "PUT": "put_settings"}),
    Route(r"/(?P<index>[^_/][^/]*)/_doc/(?P<id>[^/]+)", {"GET": "get_doc", "HEAD": "get_doc", "PUT": "put_doc",
                                                         "POST": "put_doc", "DELETE": "delete_doc"}),
    Route(r"/(?P<index>[^_/][^/]*)/_doc", {"POST": "post_doc"}),
    Route(r"/(?P<index>[^_/][^/]*)/_create/(?P<id>[^/]+)", {"PUT": "create_doc", "POST": "create_doc"}),
    Route(r"/(?P<index>[^_/][^/]*)/_update/(?P<id>[^/]+)", {"POST": "update_doc"}),
    Route(r"/(?P<index>[^_/][^/]*)/_source/(?P<id>[^/]+)", {"GET": "get_source", "HEAD": "get_source"}),
    Route(r"/(?P<index>[^/]+)", {"PUT": "create_index", "DELETE": "delete_index", "HEAD": "index_exists",
                                 "GET": "get_index"}),
]


class SearchHandler(tornado.web.RequestHandler):
    """Every path of the node; ``initialize`` receives the app's node state."""

    def initialize(self, node) -> None:
        self.node = node
        self.store = node.store

    def check_xsrf_cookie(self) -> None:
        pass

    async def get(self, *args: Any) -> None:
        await self._dispatch()

    post = put = delete = head = get

    async def _dispatch(self) -> None:
        path = urllib.parse.unquote(self.request.path) or "/"
        if len(path) > 1:
            path = path.rstrip("/")
        method = self.request.method
        try:
            for route in ROUTES:
                m = route.regex.match(path)
                if not m:
                    continue
                name = route.methods.get(method)
                if name is None:
                    allowed = ", ".join(sorted(route.methods))
                    self._send(405, {"error": f"Incorrect HTTP method for uri [{self.request.uri}] and method [{method}], "
                                              f"allowed: [{allowed}]", "status": 405})
                    return
                kwargs = {k: v for k, v in m.groupdict().items() if v is not None}
                await getattr(self, "h_" + name)(**kwargs)
                return
            self._send(400, {"error": f"no handler found for uri [{self.request.uri}] and method [{method}]", "status": 400})
        except SearchError as exc:
            self.node.counters["errors"] += 1
            if method == "HEAD":
                self.set_status(exc.status)
                self.finish()
            else:
                self._send(exc.status, exc.body())
        except Exception as exc:  # noqa: BLE001 - a bug must still answer in OpenSearch's shape
            log.exception("unexpected error on %s %s", method, path)
            self.node.counters["errors"] += 1
            self._send(500, SearchError(500, "exception", f"{type(exc).__name__}: {exc}").body())

    # ---- plumbing ----
    @property
    def params(self) -> dict[str, str]:
        return {k: v[-1].decode("utf-8", "replace") for k, v in self.request.query_arguments.items()}

    def _send(self, status: int, obj: Any, content_type: str = "application/json; charset=UTF-8") -> None:
        self.set_status(status)
        if self.request.method == "HEAD":
            self.finish()
            return
        self.set_header("Content-Type", content_type)
        if isinstance(obj, str):
            self.finish(obj)
            return
        if self.params.get("pretty") in ("", "true"):
            self.finish(json.dumps(obj, ensure_ascii=False, indent=2))
        else:
            self.finish(codec.dumps_bytes(obj))

    def body_json(self, required: bool = False) -> Any:
        raw = self.request.body
        if not raw or not raw.strip():
            if "source" in self.params:
                raw = self.params["source"].encode()
            elif required:
                raise SearchError(400, "parse_exception", "request body is required")
            else:
                return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SearchError(400, "json_parse_exception", f"Unexpected character or malformed JSON: {exc}") from None

    async def on_reader(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.store.readers, fn)

    async def on_writer(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.wrap_future(self.store.write(fn))

    # ---- cluster ----
    async def h_info(self) -> None:
        self._send(200, {
            "name": "mini", "cluster_name": self.node.cluster_name, "cluster_uuid": self.node.cluster_uuid,
            "version": {"distribution": "opensearch", "number": VERSION, "build_type": "tar",
                        "build_hash": "mini", "build_date": "2025-02-27T00:00:00.000000Z", "build_snapshot": False,
                        "lucene_version": "9.12.1", "minimum_wire_compatibility_version": "7.10.0",
                        "minimum_index_compatibility_version": "7.0.0"},
            "tagline": "The OpenSearch Project: https://opensearch.org/"})

    async def h_own_health(self) -> None:
        self._send(200, "ok", "text/plain; charset=utf-8")

    async def h_own_status(self) -> None:
        self._send(200, self.node.status())

    def _health(self, indexes) -> dict[str, Any]:
        primaries = sum(int(i.settings.get("index.number_of_shards", 1)) for i in indexes)
        unassigned = sum(int(i.settings.get("index.number_of_shards", 1)) * int(i.settings.get("index.number_of_replicas", 1))
                         for i in indexes)
        total = primaries + unassigned
        return {"cluster_name": self.node.cluster_name, "status": "yellow" if unassigned else "green",
                "timed_out": False, "number_of_nodes": 1, "number_of_data_nodes": 1, "discovered_master": True,
                "discovered_cluster_manager": True, "active_primary_shards": primaries, "active_shards": primaries,
                "relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": unassigned,
                "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0,
                "task_max_waiting_in_queue_millis": 0,
                "active_shards_percent_as_number": 100.0 * primaries / total if total else 100.0}

    async def h_cluster_health(self, index: str | None = None) -> None:
        indexes = self.store.resolve(index)
        body = self._health(indexes)
        wanted = self.params.get("wait_for_status")
        rank = {"green": 0, "yellow": 1, "red": 2}
        if wanted and rank.get(body["status"], 2) > rank.get(wanted, 2):
            body["timed_out"] = True
            self._send(408, body)
            return
        self._send(200, body)

    async def h_cat_health(self) -> None:
        body = self._health(list(self.store.indexes.values()))
        row = {"epoch": str(int(time.time())), "timestamp": time.strftime("%H:%M:%S"), "cluster": body["cluster_name"],
               "status": body["status"], "node.total": "1", "node.data": "1", "shards": str(body["active_shards"]),
               "pri": str(body["active_primary_shards"]), "relo": "0", "init": "0", "unassign": str(body["unassigned_shards"]),
               "pending_tasks": "0", "max_task_wait_time": "-", "active_shards_percent": f"{body['active_shards_percent_as_number']:.1f}%"}
        self._cat([row])

    def _cat(self, rows: list[dict[str, str]], columns: list[str] | None = None) -> None:
        params = self.params
        columns = columns or (list(rows[0]) if rows else [])
        if params.get("h"):
            columns = [c for c in params["h"].split(",") if c]
        if params.get("format") == "json":
            self._send(200, [{c: r.get(c) for c in columns} for r in rows])
            return
        table = [[str(r.get(c, "")) for c in columns] for r in rows]
        if params.get("v") in ("", "true"):
            table.insert(0, columns)
        widths = [max((len(row[i]) for row in table), default=0) for i in range(len(columns))]
        text = "".join(" ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n" for row in table)
        self._send(200, text, "text/plain; charset=UTF-8")

    async def h_cat_indices(self, index: str | None = None) -> None:
        rows = []
        for idx in self.store.resolve(index):
            size = idx.size_bytes()
            replicas = int(idx.settings.get("index.number_of_replicas", 1))
            rows.append({"health": "yellow" if replicas else "green", "status": "open", "index": idx.name,
                         "uuid": idx.uuid, "pri": idx.settings.get("index.number_of_shards", "1"),
                         "rep": str(replicas), "docs.count": str(idx.doc_count), "docs.deleted": str(idx.deleted),
                         "store.size": _bytes(size, self.params.get("bytes")),
                         "pri.store.size": _bytes(size, self.params.get("bytes"))})
        if self.params.get("s"):
            key = self.params["s"].split(":")[0]
            rows.sort(key=lambda r: r.get(key, ""), reverse=self.params["s"].endswith(":desc"))
        self._cat(rows, ["health", "status", "index", "uuid", "pri", "rep", "docs.count", "docs.deleted",
                         "store.size", "pri.store.size"])

    async def h_cat_count(self, index: str | None = None) -> None:
        total = sum(i.doc_count for i in self.store.resolve(index))
        self._cat([{"epoch": str(int(time.time())), "timestamp": time.strftime("%H:%M:%S"), "count": str(total)}])

    async def h_aliases(self) -> None:
        self._send(200, {i.name: {"aliases": {}} for i in self.store.indexes.values()})

    async def h_nodes(self) -> None:
        self._send(200, {"_nodes": {"total": 1, "successful": 1, "failed": 0}, "cluster_name": self.node.cluster_name,
                         "nodes": {"mini": {"name": "mini", "version": VERSION, "roles": ["cluster_manager", "data", "ingest"],
                                            "host": "127.0.0.1", "ip": "127.0.0.1"}}})

    # ---- indexes ----
    async def h_create_index(self, index: str) -> None:
        body = self.body_json()
        idx = await self.on_writer(lambda: self.store.create(index, body))
        self._send(200, {"acknowledged": True, "shards_acknowledged": True, "index": idx.name})

    async def h_delete_index(self, index: str) -> None:
        def job():
            targets = self.store.resolve(index)
            if not targets and "*" not in index and index != "_all":
                raise index_not_found(index)
            for target in targets:
                self.store.delete(target.name)
        await self.on_writer(job)
        self._send(200, {"acknowledged": True})

    async def h_index_exists(self, index: str) -> None:
        found = self.store.resolve(index, allow_missing=True)
        missing = [p for p in index.split(",") if "*" not in p and p not in self.store.indexes]
        self.set_status(200 if found and not missing else 404)
        self.finish()

    async def h_get_index(self, index: str) -> None:
        from .store import check_index_name
        if "*" not in index and "," not in index and index != "_all":
            check_index_name(index)
        out = {}
        for idx in self.store.resolve(index):
            out[idx.name] = {"aliases": {}, "mappings": idx.mapping.as_json(), "settings": idx.settings_json()}
        self._send(200, out)

    async def h_get_mapping(self, index: str | None = None) -> None:
        self._send(200, {i.name: {"mappings": i.mapping.as_json()} for i in self.store.resolve(index)})

    async def h_put_mapping(self, index: str | None = None) -> None:
        body = self.body_json(required=True)
        if not isinstance(body, dict):
            raise SearchError(400, "parse_exception", "Failed to parse content to map")

        def job():
            targets = self.store.resolve(index)
            new = [(t, t.mapping.merged(body)) for t in targets]
            for target, mapping in new:
                self.store.begin(target)
                target.mapping = mapping
                target.mapping_json = json.dumps(mapping.doc)
                target.save_meta_needed = True
        await self.on_writer(job)
        self._send(200, {"acknowledged": True})

    async def h_get_settings(self, index: str | None = None) -> None:
        self._send(200, {i.name: {"settings": i.settings_json()} for i in self.store.resolve(index)})

    async def h_put_settings(self, index: str | None = None) -> None:
        body = self.body_json(required=True)

        def job():
            for target in self.store.resolve(index):
                self.store.put_settings(target, body)
        await self.on_writer(job)
        self._send(200, {"acknowledged": True})

    async def h_refresh(self, index: str | None = None) -> None:
        # Every acknowledged write is already committed and visible: refresh only checks the names.
        n = sum(int(i.settings.get("index.number_of_shards", 1)) for i in self.store.resolve(index))
        self._send(200, {"_shards": {"total": n, "successful": n, "failed": 0}})

    # ---- documents ----
    async def h_bulk(self, index: str | None = None) -> None:
        items = documents.parse_bulk(self.request.body, index)
        refresh = self.params.get("refresh") in ("", "true")
        future = self.store.pipeline(lambda: documents.prepare_bulk(self.store, items),
                                     lambda prepared: documents.run_bulk(self.store, prepared, refresh),
                                     barrier=any(action == "update" for action, _, _ in items))
        result = await asyncio.wrap_future(future)
        self._send(200, result)

    async def _single(self, action: str, index: str, doc_id: str | None, body: Any) -> None:
        params = self.params
        status, item = await self.on_writer(lambda: documents.run_single(self.store, action, index, doc_id, body, params))
        self._send(status, item)

    async def h_put_doc(self, index: str, id: str) -> None:
        await self._single("index", index, id, self.body_json(required=True))

    async def h_post_doc(self, index: str) -> None:
        await self._single("index", index, None, self.body_json(required=True))

    async def h_create_doc(self, index: str, id: str) -> None:
        await self._single("create", index, id, self.body_json(required=True))

    async def h_update_doc(self, index: str, id: str) -> None:
        body = self.body_json(required=True)
        params = self.params

        def job():
            idx = self.store.get(index)
            self.store.begin(idx)
            result = idx.update(id, body, int(params["if_seq_no"]) if "if_seq_no" in params else None,
                                int(params["if_primary_term"]) if "if_primary_term" in params else None)
            status = result.pop("status")
            shards_obj = result.pop("_shards", documents.shards_of(idx))
            return status, {"_index": index, "_id": result["_id"], "_version": result["_version"],
                            "result": result["result"], "_shards": shards_obj, "_seq_no": result["_seq_no"],
                            "_primary_term": 1}
        status, item = await self.on_writer(job)
        self._send(status, item)

    async def h_delete_doc(self, index: str, id: str) -> None:
        self.store.get(index)
        await self._single("delete", index, id, None)

    async def h_get_doc(self, index: str, id: str) -> None:
        idx = self.store.get(index)
        row = await self.on_reader(lambda: idx.get(idx.reader(), id))
        if row is None:
            self._send(404, {"_index": index, "_id": id, "found": False})
            return
        out: dict[str, Any] = {"_index": index, "_id": id, "_version": row[1], "_seq_no": row[2], "_primary_term": 1,
                               "found": True}
        fetch, inc, exc = search.source_spec(None, self.params)
        if fetch:
            source = idx.codec.load(row[3])
            out["_source"] = search.filter_source(source, inc, exc) if inc or exc else source
        self._send(200, out)

    async def h_get_source(self, index: str, id: str) -> None:
        idx = self.store.get(index)
        row = await self.on_reader(lambda: idx.get(idx.reader(), id))
        if row is None:
            raise SearchError(404, "resource_not_found_exception", f"Document not found [{index}]/[_doc]/[{id}]")
        fetch, inc, exc = search.source_spec(None, self.params)
        source = idx.codec.load(row[3])
        self._send(200, search.filter_source(source, inc, exc) if inc or exc else source)

    async def h_delete_by_query(self, index: str) -> None:
        body = self.body_json(required=True)
        started = time.monotonic()
        targets = self.store.resolve(index)
        total = deleted = 0
        for idx in targets:
            ids = await self.on_reader(lambda idx=idx: search.matching_ids(idx, idx.reader(), body))
            total += len(ids)
            if ids:
                deleted += await self.on_writer(lambda idx=idx, ids=ids: documents.delete_ids(self.store, idx, ids))
        self._send(200, {"took": int((time.monotonic() - started) * 1000), "timed_out": False, "total": total,
                         "deleted": deleted, "batches": 1 if total else 0, "version_conflicts": 0, "noops": 0,
                         "retries": {"bulk": 0, "search": 0}, "throttled_millis": 0, "requests_per_second": -1.0,
                         "throttled_until_millis": 0, "failures": []})

    # ---- search ----
    async def h_search(self, index: str | None = None) -> None:
        body = self.body_json() or {}
        params = self.params
        self.node.counters["search_requests"] += 1
        result = await self.on_reader(lambda: self.node.search(index, body, params))
        self._send(200, result)

    async def h_count(self, index: str | None = None) -> None:
        body = self.body_json()
        params = self.params
        targets = self.store.resolve(index)

        def job():
            return sum(search.count(i, i.reader(), body, params) for i in targets)
        n = await self.on_reader(job)
        self._send(200, {"count": n, "_shards": shards(len(targets))})

    async def h_msearch(self, index: str | None = None) -> None:
        lines = [l for l in self.request.body.split(b"\n") if l.strip()]
        if len(lines) % 2:
            raise bad_request("The msearch request must be terminated by a newline [\\n]" if lines else
                              "Validation Failed: 1: no requests added;")
        params = self.params
        self.node.counters["search_requests"] += len(lines) // 2
        started = time.monotonic()

        def job():
            responses = []
            for i in range(0, len(lines), 2):
                try:
                    header = json.loads(lines[i])
                    body = json.loads(lines[i + 1])
                except ValueError as exc:
                    raise SearchError(400, "json_parse_exception", f"malformed msearch line: {exc}") from None
                target = header.get("index", index)
                if isinstance(target, list):
                    target = ",".join(target)
                try:
                    result = self.node.search(target, body, {k: v for k, v in params.items() if k not in ("index",)})
                    result["status"] = 200
                except SearchError as exc:
                    result = {**exc.body()}
                responses.append(result)
            return responses
        responses = await self.on_reader(job)
        self._send(200, {"took": int((time.monotonic() - started) * 1000), "responses": responses})

    async def h_scroll(self, scroll_id: str | None = None) -> None:
        body = self.body_json() or {}
        scroll_id = body.get("scroll_id", scroll_id or self.params.get("scroll_id"))
        if not scroll_id:
            raise SearchError(400, "action_request_validation_exception", "Validation Failed: 1: scrollId is missing;")
        keepalive = body.get("scroll", self.params.get("scroll"))
        result = await self.on_reader(lambda: self.node.scroll_next(scroll_id, keepalive))
        self._send(200, result)

    async def h_clear_scroll(self, scroll_id: str | None = None) -> None:
        body = self.body_json() or {}
        ids = body.get("scroll_id", scroll_id.split(",") if scroll_id else [])
        if isinstance(ids, str):
            ids = [ids]
        n = self.node.scrolls.clear(ids)
        if not n and ids and ids != ["_all"]:
            self._send(404, {"succeeded": True, "num_freed": 0})
            return
        self._send(200, {"succeeded": True, "num_freed": n})


def _bytes(size: int, unit: str | None) -> str:
    if unit:
        div = {"b": 1, "kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3}.get(unit, 1)
        return str(size // div)
    for suffix, div in (("gb", 1024 ** 3), ("mb", 1024 ** 2), ("kb", 1024)):
        if size >= div:
            return f"{size / div:.1f}{suffix}"
    return f"{size}b"
