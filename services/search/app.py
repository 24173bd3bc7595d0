"""The search node: wiring store, searches, scrolls and counters into a Tornado app; ``start`` for the runner."""

from __future__ import annotations

import collections
import logging
import uuid
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web

from services.common import service
from services.common.settings import Settings

from .api import SearchHandler
from .errors import SearchError, unsupported
from .search import Scrolls, Searcher, parse_keepalive, shards
from .store import Store

log = logging.getLogger(__name__)


class Node:
    """State shared by the handlers: the store, open scrolls and counters."""

    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store
        self.cluster_name = settings["search.cluster_name"]
        self.cluster_uuid = uuid.uuid5(uuid.NAMESPACE_URL, str(store.root)).hex[:22]
        self.scrolls = Scrolls(int(settings["search.scroll_max_contexts"]))
        self.max_window = int(settings["search.max_result_window"])
        self.counters: collections.Counter = collections.Counter()

    def status(self) -> dict[str, Any]:
        counters = dict(self.counters)
        counters.update(self.store.counters)
        return {"counters": counters,
                "indexes": {i.name: {"docs": i.doc_count, "bytes": i.size_bytes(), "segments": len(i.segments)}
                            for i in self.store.indexes.values()}}

    # ---- searches (reader threads) ----
    def search(self, expr: str | None, body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        targets = self.store.resolve(expr, allow_missing=params.get("ignore_unavailable") == "true")
        scroll = params.get("scroll")
        if len(targets) == 1:
            index = targets[0]
            searcher = Searcher(index, index.reader(), body, params, self.max_window)
            try:
                if scroll:
                    keepalive = parse_keepalive(scroll)
                    response, rowids = searcher.run(keep_all=True)
                    ctx = {"index": index, "rowids": rowids, "pos": searcher.size, "searcher_body": body,
                           "params": params, "total": response["hits"].get("total"), "size": searcher.size}
                    response = {"_scroll_id": self.scrolls.open(ctx, keepalive), **response}
                    return response
                response, _ = searcher.run()
                return response
            finally:
                searcher.close()
        if scroll:
            raise unsupported("scroll over more than one index")
        if body.get("aggs") or body.get("aggregations"):
            if not targets:
                return {"took": 0, "timed_out": False, "_shards": shards(0),
                        "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": None, "hits": []}}
            raise unsupported("aggregations over more than one index")
        size = int(params.get("size", body.get("size", 10)))
        offset = int(params.get("from", body.get("from", 0)))
        merged_body = dict(body, size=size + offset, **{"from": 0})
        total, relation, hits, took = 0, "eq", [], 0
        sorts = None
        for index in targets:
            searcher = Searcher(index, index.reader(), merged_body, {k: v for k, v in params.items() if k not in ("size", "from")}, self.max_window)
            try:
                response, _ = searcher.run()
                sorts = searcher.sorts
            finally:
                searcher.close()
            t = response["hits"].get("total")
            if isinstance(t, dict):
                total += t["value"]
                relation = "gte" if t["relation"] == "gte" else relation
            elif isinstance(t, int):
                total += t
            hits.extend(response["hits"]["hits"])
            took += response["took"]
        if sorts:
            for i in reversed(range(len(sorts))):
                s = sorts[i]
                hits.sort(key=lambda h, i=i: _sortable(h["sort"][i]), reverse=s.desc)
        hits = hits[offset: offset + size]
        out_hits: dict[str, Any] = {}
        if body.get("track_total_hits", params.get("track_total_hits")) not in (False, "false"):
            out_hits["total"] = total if params.get("rest_total_hits_as_int") == "true" else {"value": total, "relation": relation}
        out_hits["max_score"] = 1.0 if hits and not sorts else None
        out_hits["hits"] = hits
        return {"took": took, "timed_out": False, "_shards": shards(len(targets)), "hits": out_hits}

    def scroll_next(self, scroll_id: str, keepalive: str | None) -> dict[str, Any]:
        ctx = self.scrolls.get(scroll_id, parse_keepalive(keepalive) if keepalive else None)
        index = ctx["index"]
        if index.name not in self.store.indexes or self.store.indexes[index.name] is not index:
            raise SearchError(404, "search_context_missing_exception", f"No search context found for id [{scroll_id}]")
        page = ctx["rowids"][ctx["pos"]: ctx["pos"] + ctx["size"]]
        ctx["pos"] += ctx["size"]
        searcher = Searcher(index, index.reader(), dict(ctx["searcher_body"], size=0), {}, self.max_window)
        try:
            hits = searcher.hits(page)  # rows carry their sort values from the first request
        finally:
            searcher.close()
        total = ctx["total"]
        hits_obj: dict[str, Any] = {}
        if total is not None:
            hits_obj["total"] = total
        hits_obj.update({"max_score": 1.0 if hits and searcher.scored else None, "hits": hits})
        return {"_scroll_id": scroll_id, "took": 0, "timed_out": False, "_shards": shards(), "hits": hits_obj}


def _sortable(value: Any) -> tuple:
    if value is None:
        return (2, "")
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, str(value))


def make_app(settings: Settings, store: Store) -> tornado.web.Application:
    node = Node(settings, store)
    app = tornado.web.Application([(r"/.*", SearchHandler, {"node": node})])
    app.node = node  # type: ignore[attr-defined]
    return app


class Running:
    def __init__(self, server: tornado.httpserver.HTTPServer, app, store: Store, port: int):
        self.server = server
        self.app = app
        self.store = store
        self.ports = {"port": port}

    def status(self) -> dict[str, Any]:
        return self.app.node.status()

    async def close(self) -> None:
        self.server.stop()
        await self.server.close_all_connections()
        self.store.close()


async def start(settings: Settings) -> Running:
    # one access-log line per request would cost more than a bulk of small documents
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    store = Store(settings.home / "search", fsync=bool(settings["durability.fsync"]),
                  cache_mb=int(settings["search.cache_mb"]), write_cache_mb=int(settings["search.write_cache_mb"]),
                  wal_cap_mb=int(settings["search.wal_cap_mb"]), segment_docs=int(settings["search.segment_docs"]))
    app = make_app(settings, store)
    server = tornado.httpserver.HTTPServer(app, max_body_size=200 * 1024 * 1024, decompress_request=True)
    sockets = tornado.netutil.bind_sockets(int(settings["search.port"]), settings["search.address"])
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    # a bulk keeps ~200 tracked objects a document alive through the pipeline: young collections every
    # 100 000 allocations instead of 20 000 took ~10 % off the CPU per document (gc was 17 % of the
    # prepare thread)
    service.quiet_gc(young=100_000)
    log.info("search node on %s:%d, data in %s", settings["search.address"], port, store.root)
    return Running(server, app, store, port)
