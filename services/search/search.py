"""Running a search request: query → hits (sort, paging, search_after, _source filtering), totals, aggregations.

Also the scroll contexts (a scroll keeps the ordered list of matching rowids and pages through it)
and ``_count`` / ``_delete_by_query`` helpers that share the query compilation.
"""

from __future__ import annotations

import base64
import collections
import json
import re
import time
import uuid
from typing import Any

from .aggs import DocSet, Runner
from .errors import SearchError, bad_request, parsing, unsupported
from .query import EMPTY, QueryContext, compile_query, is_every_document
from .sorting import Sort
from .source_filter import filter_source, source_spec  # noqa: F401  (used by the API too)

BODY_KEYS = {"query", "from", "size", "sort", "_source", "track_total_hits", "aggs", "aggregations", "search_after",
             "post_filter", "timeout", "version", "seq_no_primary_term", "track_scores", "min_score", "stored_fields",
             "terminate_after", "profile", "explain", "highlight", "docvalue_fields", "fields", "script_fields",
             "collapse", "suggest", "rescore", "indices_boost", "pit", "slice", "runtime_mappings", "ext", "stats"}
UNSUPPORTED_KEYS = {"highlight", "docvalue_fields", "fields", "script_fields", "collapse", "suggest", "rescore",
                    "pit", "slice", "runtime_mappings", "ext", "explain"}


def shards(n: int = 1) -> dict[str, int]:
    return {"total": n, "successful": n, "skipped": 0, "failed": 0}


def wrap_phase(exc: SearchError) -> SearchError:
    """Query errors reach the client as OpenSearch's ``search_phase_execution_exception``."""
    if exc.type in ("query_shard_exception", "number_format_exception"):
        outer = SearchError(400, "search_phase_execution_exception", "all shards failed", caused_by=exc,
                            phase="query", grouped=True,
                            failed_shards=[{"shard": 0, "index": exc.extra.get("index"), "node": "mini",
                                            "reason": exc.cause()}])
        return outer
    return exc


def parse_keepalive(text: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", str(text).strip())
    if not m:
        raise bad_request(f"failed to parse setting [scroll] with value [{text}] as a time value: unit is missing or unrecognized")
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


class Scrolls:
    """Open scroll contexts: the ordered rowids still to page through."""

    def __init__(self, limit: int = 500):
        self.limit = limit
        self.contexts: "collections.OrderedDict[str, dict[str, Any]]" = collections.OrderedDict()

    def open(self, ctx: dict[str, Any], keepalive: float) -> str:
        self.expire()
        scroll_id = base64.urlsafe_b64encode(b"mini:" + uuid.uuid4().bytes).decode().rstrip("=")
        ctx["expires"] = time.monotonic() + keepalive
        self.contexts[scroll_id] = ctx
        while len(self.contexts) > self.limit:
            self.contexts.popitem(last=False)
        return scroll_id

    def get(self, scroll_id: str, keepalive: float | None) -> dict[str, Any]:
        self.expire()
        ctx = self.contexts.get(scroll_id)
        if ctx is None:
            raise SearchError(404, "search_context_missing_exception", f"No search context found for id [{scroll_id}]")
        if keepalive is not None:
            ctx["expires"] = time.monotonic() + keepalive
        return ctx

    def clear(self, ids: list[str]) -> int:
        if ids == ["_all"]:
            n = len(self.contexts)
            self.contexts.clear()
            return n
        return sum(1 for i in ids if self.contexts.pop(i, None) is not None)

    def expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, c in self.contexts.items() if c["expires"] < now]:
            del self.contexts[key]


class Searcher:
    """One search over one index on a reader connection."""

    def __init__(self, index, conn, body: dict[str, Any], params: dict[str, str], max_window: int = 10000):
        if not isinstance(body, dict):
            raise parsing("request body must be an object")
        unknown = set(body) - BODY_KEYS
        if unknown:
            raise parsing(f"Unknown key for a START_OBJECT in [{sorted(unknown)[0]}].", line=1, col=2)
        for key in UNSUPPORTED_KEYS & set(body):
            raise unsupported(f"[{key}] in a search request")
        self.index = index
        self.conn = conn
        self.body = body
        self.params = params
        self.now = int(time.time() * 1000)
        self.ctx = QueryContext(index, None, self.now)
        q = body.get("query")
        if "q" in params:
            q = {"query_string": {"query": params["q"], **({"default_field": params["df"]} if "df" in params else {}),
                                  **({"default_operator": params["default_operator"]} if "default_operator" in params else {})}}
        try:
            self.query_sql = compile_query(q, self.ctx)
            self.post_sql = compile_query(body["post_filter"], self.ctx) if body.get("post_filter") else None
        except SearchError as exc:
            raise wrap_phase(exc) from None
        self.size = int(params.get("size", body.get("size", 10)))
        self.offset = int(params.get("from", body.get("from", 0)))
        if self.size < 0:
            raise bad_request(f"[size] parameter cannot be negative, found [{self.size}]")
        if self.offset < 0:
            raise bad_request(f"[from] parameter cannot be negative, found [{self.offset}]")
        window = int(index.settings.get("index.max_result_window", max_window))
        if "scroll" not in params and self.offset + self.size > window:
            raise bad_request(f"Result window is too large, from + size must be less than or equal to: [{window}] but "
                              f"was [{self.offset + self.size}]. See the scroll api for a more efficient way to request "
                              f"large data sets. This limit can be set by changing the [index.max_result_window] index "
                              f"level setting.")
        sort = body.get("sort")
        if "sort" in params:
            sort = [{p.split(":")[0]: p.split(":")[1]} if ":" in p else p for p in params["sort"].split(",")]
        sort = sort if isinstance(sort, list) else ([sort] if sort else [])
        try:
            self.sorts = [Sort(index, s) for s in sort]
        except SearchError as exc:
            raise wrap_phase(exc) from None
        self.scored = not self.sorts or any(s.name == "_score" for s in self.sorts) or bool(body.get("track_scores"))
        self.fetch, self.includes, self.excludes = source_spec(body.get("_source"), params)
        tth = params.get("track_total_hits", body.get("track_total_hits", 10000))
        if tth in ("true", True):
            tth = True
        elif tth in ("false", False):
            tth = False
        else:
            tth = int(tth)
        self.track = tth
        min_score = body.get("min_score")
        if min_score is not None and float(min_score) > 1.0:
            self.query_sql = EMPTY
        self.temps: list[str] = []

    def close(self) -> None:
        for name in self.temps:
            self.conn.execute(f"DROP TABLE IF EXISTS temp.{name}")

    def _hits_table(self, sql) -> str:
        name = f"hits_{id(self)}_{len(self.temps)}"
        self.conn.execute(f"CREATE TEMP TABLE {name}(k INTEGER PRIMARY KEY)")
        self.temps.append(name)
        if sql is not EMPTY:
            self.conn.execute(f"INSERT OR IGNORE INTO temp.{name}(k) SELECT k FROM ({sql[0]})", sql[1])
        return name

    def ordered(self, src, limit: int | None, offset: int = 0, after: list[Any] | None = None) -> list[tuple]:
        """(rowid, sort values...) in hit order; ``src`` is the hits' ``SELECT k`` (a temp table or the query)."""
        table = src if isinstance(src, str) else None
        if table is not None:
            src = (f"SELECT k FROM temp.{table}", [])
        if src is EMPTY:
            return []
        fast = self._walk(src, table, limit, offset, after)
        if fast is not None:
            return fast
        exprs = [s.expr for s in self.sorts]
        cols = "".join(f", {e} AS s{i}" for i, e in enumerate(exprs))
        order = [f"s{i} {'DESC' if s.desc else 'ASC'}" for i, s in enumerate(self.sorts) if s.name != "_score"]
        # ties follow the index walk's order (see _walk), so pages of one search agree whichever path ran
        first = next((s for s in self.sorts if s.name != "_score"), None)
        order.append("k DESC" if first is not None and first.desc and first.field is not None else "k ASC")
        where, params = "", []
        if after is not None:
            keys = [(i, s) for i, s in enumerate(self.sorts) if s.name != "_score"]
            if len(after) != len(self.sorts):
                raise bad_request(f"search_after has {len(after)} value(s) but sort has {len(self.sorts)}.")
            ors = []
            for depth in range(len(keys)):
                conds = []
                for j in range(depth):
                    idx, _ = keys[j]
                    conds.append(f"s{idx} = ?")
                    params.append(keys[j][1].input(after[idx]))
                idx, s = keys[depth]
                conds.append(f"s{idx} {'<' if s.desc else '>'} ?")
                params.append(s.input(after[idx]))
                ors.append("(" + " AND ".join(conds) + ")")
            where = " WHERE " + " OR ".join(ors) if ors else " WHERE 0"
        lim = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
        sql = f"SELECT * FROM (SELECT h.k AS k{cols} FROM ({src[0]}) h){where} ORDER BY {', '.join(order)}{lim}"
        return self.conn.execute(sql, list(src[1]) + params).fetchall()

    def _walk(self, src, table: str | None, limit: int | None, offset: int,
              after: list[Any] | None) -> list[tuple] | None:
        """One field sort with a page size: walk the field's (value, doc) index in order and stop early.

        The first value met for a document is its min (ascending) or max (descending), OpenSearch's default
        sort modes; documents without the field follow (missing ``_last``).  None when it does not apply.
        """
        if limit is None or after is not None or len(self.sorts) != 1 or limit + offset > 10000:
            return None
        sort = self.sorts[0]
        if sort.field is None or sort.mode_default is False or sort.missing != "_last":
            return None
        fid = self.index.fids.get(sort.field.path)
        if fid is None:
            return None
        everything = is_every_document(src)
        member, params = "", []
        if not everything:
            if table is None and len(self.index.segments) > 1:
                # SQLite copies an IN (subquery) into every segment of the walk, each copy run on its own
                table = self._hits_table(src)
            member, params = (f" AND +k IN temp.{table}", []) if table else (f" AND +k IN ({src[0]})", list(src[1]))
        direction = "DESC" if sort.desc else "ASC"
        cursor = self.conn.execute(f"SELECT k, v FROM vals_sorted WHERE f = {fid}{member} "
                                   f"ORDER BY v {direction}, k {direction}", params)
        wanted = limit + offset
        seen: dict[int, Any] = {}
        for k, v in cursor:
            if k not in seen:
                seen[k] = v
                if len(seen) >= wanted:
                    break
        cursor.close()
        rows = list(seen.items())
        if len(rows) < wanted:
            missing_value = sort.missing_sentinel()
            more = self.conn.execute(
                f"SELECT k FROM ({src[0]}) EXCEPT SELECT k FROM vals WHERE f = {fid} ORDER BY 1 LIMIT {wanted - len(rows)}",
                list(src[1])).fetchall()
            rows.extend((k, missing_value) for (k,) in more)
        return [(k, v) for k, v in rows[offset:offset + limit]]

    def hits(self, rows: list[tuple]) -> list[dict[str, Any]]:
        if not rows:
            return []
        ids = [r[0] for r in rows]
        found = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            for rowid, doc_id, version, seq_no, source in self.conn.execute(
                    f"SELECT rowid, id, version, seq_no, source FROM docs WHERE rowid IN ({','.join('?' * len(part))})", part):
                found[rowid] = (doc_id, version, seq_no, source)
        out = []
        for row in rows:
            doc = found.get(row[0])
            if doc is None:
                continue
            hit: dict[str, Any] = {"_index": self.index.name, "_id": doc[0], "_score": 1.0 if self.scored else None}
            if self.body.get("version") or self.params.get("version") == "true":
                hit["_version"] = doc[1]
            if self.body.get("seq_no_primary_term") or self.params.get("seq_no_primary_term") == "true":
                hit["_seq_no"] = doc[2]
                hit["_primary_term"] = 1
            if self.fetch:
                source = self.index.codec.load(doc[3])
                if self.includes or self.excludes:
                    source = filter_source(source, self.includes, self.excludes)
                hit["_source"] = source
            if self.sorts:
                hit["sort"] = [s.output(v) for s, v in zip(self.sorts, row[1:])]
            out.append(hit)
        return out

    def run(self, keep_all: bool = False) -> tuple[dict[str, Any], list[tuple] | None]:
        started = time.monotonic()
        response: dict[str, Any] = {"took": 0, "timed_out": False, "_shards": shards()}
        aggs_spec = self.body.get("aggs", self.body.get("aggregations"))
        everything = is_every_document(self.query_sql)
        if (aggs_spec and not everything) or self.post_sql is not None or keep_all:
            table = self._hits_table(self.query_sql)
            hit_table: Any = table
            if self.post_sql is not None:
                hit_sql = (f"SELECT k FROM temp.{table} INTERSECT SELECT k FROM ({self.post_sql[0]})", self.post_sql[1])
                hit_table = self._hits_table(hit_sql)
            hit_src = (f"SELECT k FROM temp.{hit_table}", [])
        else:  # a plain search (or aggregations over every document) runs the query itself, not a copy of it
            table = None
            hit_table = hit_src = self.query_sql
        total = None
        if self.track is not False:
            limit = "" if self.track is True else f" LIMIT {int(self.track) + 1}"
            total = 0 if hit_src is EMPTY else self.conn.execute(
                f"SELECT count(*) FROM (SELECT k FROM ({hit_src[0]}){limit})", hit_src[1]).fetchone()[0]
        after = self.body.get("search_after")
        all_rows = None
        if keep_all:
            all_rows = self.ordered(hit_table, None)
            rows = all_rows[: self.size]
        elif self.size > 0:
            rows = self.ordered(hit_table, self.size, 0 if after is not None else self.offset, after)
        else:
            rows = []
        hits = self.hits(rows)
        hits_obj: dict[str, Any] = {}
        if total is not None:
            if self.track is not True and total > int(self.track):
                hits_obj["total"] = {"value": int(self.track), "relation": "gte"}
            else:
                hits_obj["total"] = {"value": total, "relation": "eq"}
            if self.params.get("rest_total_hits_as_int") == "true":
                hits_obj["total"] = hits_obj["total"]["value"]
        hits_obj["max_score"] = (1.0 if hits else None) if self.scored else None
        hits_obj["hits"] = hits
        response["hits"] = hits_obj
        if aggs_spec:
            runner = Runner(self.index, self.conn, self.now)
            try:
                docs = DocSet(self.query_sql, None, everything=True) if table is None else \
                    DocSet((f"SELECT k FROM temp.{table}", []), None, everything=everything, materialized=True)
                response["aggregations"] = runner.run(aggs_spec, docs)
            except SearchError as exc:
                raise wrap_phase(exc) from None
            finally:
                runner.close()
        response["took"] = int((time.monotonic() - started) * 1000)
        return response, all_rows


def count(index, conn, body: dict[str, Any] | None, params: dict[str, str]) -> int:
    body = body or {}
    unknown = set(body) - {"query"}
    if unknown:
        raise parsing(f"request does not support [{sorted(unknown)[0]}]")
    ctx = QueryContext(index, None, int(time.time() * 1000))
    q = body.get("query")
    if "q" in params:
        q = {"query_string": {"query": params["q"], **({"default_field": params["df"]} if "df" in params else {})}}
    try:
        sql = compile_query(q, ctx)
    except SearchError as exc:
        raise wrap_phase(exc) from None
    if sql is EMPTY:
        return 0
    return conn.execute(f"SELECT count(*) FROM (SELECT DISTINCT k FROM ({sql[0]}))", sql[1]).fetchone()[0]


def matching_ids(index, conn, body: dict[str, Any]) -> list[str]:
    if not isinstance(body, dict) or "query" not in body:
        raise SearchError(400, "action_request_validation_exception", "Validation Failed: 1: query is missing;")
    unknown = set(body) - {"query", "max_docs", "slice", "conflicts"}
    if unknown:
        raise parsing(f"[_delete_by_query] unknown field [{sorted(unknown)[0]}]")
    ctx = QueryContext(index, None, int(time.time() * 1000))
    try:
        sql = compile_query(body["query"], ctx)
    except SearchError as exc:
        raise wrap_phase(exc) from None
    if sql is EMPTY:
        return []
    limit = f" LIMIT {int(body['max_docs'])}" if body.get("max_docs") else ""
    return [r[0] for r in conn.execute(
        f"SELECT id FROM docs WHERE rowid IN ({sql[0]}) ORDER BY rowid{limit}", sql[1])]
