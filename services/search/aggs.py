"""Aggregations in SQL: terms, date_histogram, histogram, metrics, filter(s), nested/reverse_nested, global.

Each aggregation runs over a *document set* (a ``SELECT k`` in a scope, see query.py) and groups the
``vals`` rows of its field with SQL ``GROUP BY``; buckets feed their own document set to sub-aggregations.
"""

from __future__ import annotations

from typing import Any

from . import dates
from .errors import SearchError, bad_request, parsing, unsupported
from .docset import DocSet, _and
from .histograms import MAX_BUCKETS, Histograms
from .doc_values import dv_values_sql
from .mapping import INTEGRAL, NUMERIC, Field
from .query import EMPTY, QueryContext, compile_query

BUCKET_TYPES = {"terms", "date_histogram", "histogram", "filter", "filters", "nested", "reverse_nested", "global",
                "missing"}
METRIC_TYPES = {"min", "max", "avg", "sum", "value_count", "cardinality", "stats"}
KNOWN_UNSUPPORTED = {"percentiles", "percentile_ranks", "extended_stats", "top_hits", "range", "date_range",
                     "geo_distance", "geohash_grid", "geotile_grid", "significant_terms", "significant_text",
                     "rare_terms", "multi_terms", "composite", "adjacency_matrix", "sampler", "diversified_sampler",
                     "auto_date_histogram", "variable_width_histogram", "scripted_metric", "weighted_avg",
                     "median_absolute_deviation", "geo_bounds", "geo_centroid", "ip_range", "matrix_stats",
                     "bucket_script", "bucket_selector", "bucket_sort", "avg_bucket", "sum_bucket", "max_bucket",
                     "min_bucket", "stats_bucket", "cumulative_sum", "derivative", "moving_avg", "moving_fn",
                     "serial_diff", "children", "parent", "string_stats", "t_test", "boxplot", "top_metrics"}



class Runner(Histograms):
    def __init__(self, index, conn, now: int | None = None):
        self.index = index
        self.conn = conn
        self.now = now
        self.temps: list[str] = []
        self.buckets = 0

    def close(self) -> None:
        for name in self.temps:
            self.conn.execute(f"DROP TABLE IF EXISTS temp.{name}")

    def materialize(self, docs: DocSet) -> DocSet:
        if docs.everything or docs.materialized or docs.sql is EMPTY:
            return docs
        name = f"agg_{id(self)}_{len(self.temps)}"
        self.conn.execute(f"CREATE TEMP TABLE {name}(k INTEGER PRIMARY KEY)")
        self.temps.append(name)
        cursor = self.conn.execute(f"INSERT OR IGNORE INTO temp.{name}(k) SELECT k FROM ({docs.sql[0]})", docs.sql[1])
        return DocSet((f"SELECT k FROM temp.{name}", []), docs.scope, materialized=True, size=cursor.rowcount)

    def count(self, docs: DocSet) -> int:
        if docs.sql is EMPTY:
            return 0
        return self.conn.execute(f"SELECT count(*) FROM ({docs.sql[0]})", docs.sql[1]).fetchone()[0]

    def run(self, specs: dict[str, Any], docs: DocSet) -> dict[str, Any]:
        if not isinstance(specs, dict):
            raise parsing("Expected [START_OBJECT] under [aggregations]")
        # a set read by several aggregations (or by buckets with their own sub-aggregations) is computed once
        subs = any(self._parse(name, spec)[2] for name, spec in specs.items())
        if len(specs) > 1 or subs:
            docs = self.materialize(docs)
        return {name: self.one(name, spec, docs) for name, spec in specs.items()}

    def _parse(self, name: str, spec: Any) -> tuple[str, Any, dict[str, Any]]:
        if not isinstance(spec, dict):
            raise parsing(f"Expected [START_OBJECT] under [{name}]")
        subs = spec.get("aggs", spec.get("aggregations")) or {}
        kinds = [k for k in spec if k not in ("aggs", "aggregations", "meta")]
        if len(kinds) != 1:
            if not kinds:
                raise parsing(f"Missing definition for aggregation [{name}]")
            raise parsing(f"Found two aggregation type definitions in [{name}]: [{kinds[0]}] and [{kinds[1]}]")
        return kinds[0], spec[kinds[0]], subs

    def one(self, name: str, spec: dict[str, Any], docs: DocSet) -> dict[str, Any]:
        kind, body, subs = self._parse(name, spec)
        if kind in METRIC_TYPES:
            if subs:
                raise SearchError(400, "aggregation_initialization_exception",
                                  f"Aggregator [{name}] of type [{kind}] cannot accept sub-aggregations")
            result = self.metric(kind, body, docs)
        elif kind in BUCKET_TYPES:
            result = getattr(self, "agg_" + kind)(name, body, subs, docs)
        elif kind in KNOWN_UNSUPPORTED:
            raise unsupported(f"aggregation [{kind}]")
        else:
            raise parsing(f"Unknown aggregation type [{kind}] did you mean [terms]?", line=1, col=1)
        if "meta" in spec:
            result = {"meta": spec["meta"], **result}
        return result

    # ---- helpers ----
    def field(self, body: Any, kind: str) -> Field | None:
        if not isinstance(body, dict):
            raise parsing(f"Expected [START_OBJECT] under [{kind}]")
        if "script" in body:
            raise unsupported(f"[script] in aggregation [{kind}]")
        if "field" not in body:
            if kind in ("terms",):
                raise bad_request(f"Required one of fields [field, script], but none were specified. ")
            raise bad_request(f"Required one of fields [field, script], but none were specified. ")
        return self.index.mapping.field(body["field"])

    def values(self, field: Field, docs: DocSet) -> tuple[str, list[Any]] | None:
        # "+k": the membership test must not drive the read through the owner index (SQLite's planner, with no
        # statistics here, would otherwise seek once per member); values are read along the primary key
        """``FROM vals WHERE ...`` clause for the field's values owned by the set, or None if there are none."""
        if field.nested != docs.scope or docs.sql is EMPTY:
            return None
        fid = self.index.fids.get(field.path)
        if fid is None:
            return None
        if docs.everything:
            return f"FROM vals WHERE f = {fid}", []
        if docs.size is not None and docs.size * 4 < max(self.index.doc_count, 1):
            # a small set: look its members' values up (index on owner) instead of scanning the field
            return (f"FROM ({dv_values_sql(fid, f'SELECT k AS dk FROM ({docs.sql[0]})')}) WHERE 1", list(docs.sql[1]))
        return f"FROM vals WHERE f = {fid} AND +k IN ({docs.sql[0]})", list(docs.sql[1])

    def sub(self, subs: dict[str, Any], docs: DocSet) -> dict[str, Any]:
        return self.run(subs, docs) if subs else {}

    def check_aggregatable(self, field: Field, kind: str) -> None:
        if not field.aggregatable:
            raise bad_request(
                f"Text fields are not optimised for operations that require per-document field data like "
                f"aggregations and sorting, so these operations are disabled by default. Please use a keyword "
                f"field instead. Alternatively, set fielddata=true on [{field.path}] in order to load field data "
                f"by uninverting the inverted index. Note that this can use significant memory.")
        if field.type == "geo_point":
            raise unsupported(f"aggregation [{kind}] on geo_point field [{field.path}]")

    def key_of(self, field: Field, value: Any) -> dict[str, Any]:
        if field.type == "date":
            return {"key_as_string": field.format.format(value), "key": int(value)}
        if field.type == "boolean":
            return {"key": int(value), "key_as_string": "true" if value else "false"}
        if field.type in INTEGRAL:
            return {"key": int(value)}
        if field.type in NUMERIC:
            return {"key": float(value)}
        return {"key": value}

    def bucket_docs(self, field: Field, cond: str, params: list[Any], docs: DocSet) -> DocSet:
        fid = self.index.fids[field.path]
        if docs.everything:
            return DocSet((f"SELECT DISTINCT k FROM vals WHERE f = {fid} AND {cond}", params), docs.scope)
        return DocSet((f"SELECT DISTINCT k FROM vals WHERE f = {fid} AND {cond} AND +k IN ({docs.sql[0]})",
                       params + list(docs.sql[1])), docs.scope)

    def tick(self, n: int = 1) -> None:
        self.buckets += n
        if self.buckets > MAX_BUCKETS:
            raise SearchError(400, "too_many_buckets_exception",
                              f"Trying to create too many buckets. Must be less than or equal to: [{MAX_BUCKETS}] but "
                              f"was [{self.buckets}]. This limit can be set by changing the [search.max_buckets] "
                              f"cluster level setting.", max_buckets=MAX_BUCKETS)

    # ---- metrics ----
    def metric(self, kind: str, body: Any, docs: DocSet) -> dict[str, Any]:
        field = self.field(body, kind)
        if isinstance(body, dict) and "missing" in body:
            raise unsupported(f"[missing] in aggregation [{kind}]")
        if field is not None:
            self.check_aggregatable(field, kind)
            if kind in ("min", "max", "avg", "sum", "stats") and field.type not in NUMERIC | {"date", "boolean"}:
                raise bad_request(f"Field [{field.path}] of type [{field.type}] is not supported for aggregation [{kind}]")
        src = self.values(field, docs) if field is not None else None
        if src is None:
            row = (None, None, None, 0, 0)
        else:
            distinct = "count(DISTINCT v)" if kind == "cardinality" else "0"
            row = self.conn.execute(f"SELECT min(v), max(v), sum(v * c), sum(c), {distinct} {src[0]}",
                                    src[1]).fetchone()
        low, high, total, count, distinct = row
        count = count or 0
        if kind == "value_count":
            return {"value": count}
        if kind == "cardinality":
            return {"value": distinct or 0}

        def num(value):
            return None if value is None else float(value)
        out: dict[str, Any]
        if kind == "stats":
            out = {"count": count, "min": num(low), "max": num(high),
                   "avg": (float(total) / count) if count else None, "sum": float(total or 0)}
            if field is not None and field.type == "date" and count:
                out.update(min_as_string=field.format.format(low), max_as_string=field.format.format(high),
                           avg_as_string=field.format.format(total / count), sum_as_string=field.format.format(total))
            return out
        value = {"min": num(low), "max": num(high), "sum": float(total or 0),
                 "avg": (float(total) / count) if count else None}[kind]
        out = {"value": value}
        if field is not None and field.type == "date" and value is not None and kind in ("min", "max", "avg"):
            out["value_as_string"] = field.format.format(value)
        return out

    # ---- bucket aggregations ----
    def agg_terms(self, name: str, body: Any, subs: dict[str, Any], docs: DocSet) -> dict[str, Any]:
        field = self.field(body, "terms")
        allowed = {"field", "size", "min_doc_count", "order", "missing", "shard_size", "show_term_doc_count_error",
                   "include", "exclude", "execution_hint", "collect_mode", "value_type", "format", "shard_min_doc_count"}
        unknown = set(body) - allowed
        if unknown:
            raise parsing(f"[terms] unknown field [{sorted(unknown)[0]}]")
        size = int(body.get("size", 10))
        if size < 1:
            raise bad_request(f"[size] must be greater than 0. Found [{size}] in [{name}]")
        min_count = int(body.get("min_doc_count", 1))
        empty = {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": []}
        if field is None:
            return empty
        self.check_aggregatable(field, "terms")
        if field.type == "date" and "format" in body:
            field = Field(field.path, field.type, field.spec, field.nested, field.parent, dates.DateFormat(body["format"]))
        if min_count == 0:
            raise unsupported("[min_doc_count: 0] in a terms aggregation")
        src = self.values(field, docs)
        conds, extra = [], []
        for key, negate in (("include", False), ("exclude", True)):
            if key in body:
                values = body[key]
                if not isinstance(values, list):
                    raise unsupported(f"regular expression [{key}] in a terms aggregation")
                marks = ",".join("?" * len(values))
                conds.append(f"v {'NOT ' if negate else ''}IN ({marks})")
                extra.extend(values)
        order = body.get("order", {"_count": "desc"})
        orders = order if isinstance(order, list) else [order]
        sql_order, metric_order = [], []
        for item in orders:
            if not isinstance(item, dict) or len(item) != 1:
                raise parsing("[order] must be an object with one key")
            key, direction = next(iter(item.items()))
            direction = str(direction).lower()
            if direction not in ("asc", "desc"):
                raise parsing(f"Unknown terms order direction [{direction}]")
            if key == "_count":
                sql_order.append(f"c {direction.upper()}")
            elif key in ("_key", "_term"):
                sql_order.append(f"v {direction.upper()}")
            else:
                metric_order.append((key, direction))
        if not any(o.startswith("v ") for o in sql_order):
            sql_order.append("v ASC")
        rows: list[tuple[Any, int]] = []
        total_pairs = 0
        if src is not None:
            where = src[0] + "".join(" AND " + c for c in conds)
            params = src[1] + extra
            limit = "" if metric_order else f" LIMIT {size}"
            having = f" HAVING {{}} >= {min_count}" if min_count > 1 else ""  # {}: the count's expression
            # one pass: the buckets and, by a window over them, the total that sum_other_doc_count needs
            # (buckets under min_doc_count are dropped, not counted as "other")
            counted = f"SELECT v, count(*) AS c {where} GROUP BY v{having.format('count(*)')}"
            tables = self.index.segment_tables()
            if len(tables) > 1 and docs.everything:  # src is then all of the field's values
                fid = self.index.fids[field.path]
                # every owner: count in each segment along its primary key, then add up (over the merged
                # view SQLite would sort all the field's values to group them)
                arms = " UNION ALL ".join(f"SELECT v, count(*) AS n FROM {table} WHERE f = {fid}"
                                          + "".join(" AND " + c for c in conds) + " GROUP BY v" for table in tables)
                counted = f"SELECT v, sum(n) AS c FROM ({arms}) GROUP BY v{having.format('sum(n)')}"
                params = extra * len(tables)
            found = self.conn.execute(f"SELECT v, c, sum(c) OVER () FROM ({counted}) "
                                      f"ORDER BY {', '.join(sql_order)}{limit}", params).fetchall()
            rows = [(v, c) for v, c, _ in found]
            total_pairs = found[0][2] if found else 0
        missing_bucket = None
        if "missing" in body and src is not None or ("missing" in body and field is not None):
            fid = self.index.fids.get(field.path)
            base = docs.sql if not docs.everything else QueryContext(self.index, docs.scope).all()
            miss_sql = (f"SELECT k FROM ({base[0]})" + (f" EXCEPT SELECT k FROM vals WHERE f = {fid}" if fid else ""), base[1])
            miss_docs = DocSet(miss_sql, docs.scope)
            n = self.count(miss_docs)
            if n >= max(min_count, 1):
                missing_bucket = (body["missing"], n, miss_docs)
        buckets = []
        for value, count in rows:
            bucket_docs = self.bucket_docs(field, "v = ?", [value], docs)
            bucket_docs.size = count
            bucket = {**self.key_of(field, value), "doc_count": count}
            if subs:
                bucket.update(self.sub(subs, bucket_docs))
            buckets.append(bucket)
        if missing_bucket is not None:
            value, n, miss_docs = missing_bucket
            try:
                stored = next(iter(self.index.mapping.convert(field, value)))
            except (StopIteration, SearchError):
                stored = value
            bucket = {**self.key_of(field, stored), "doc_count": n}
            if subs:
                bucket.update(self.sub(subs, miss_docs))
            existing = next((b for b in buckets if b["key"] == bucket["key"]), None)
            if existing is not None:
                existing["doc_count"] += n
            else:
                buckets.append(bucket)
            total_pairs += n
            if not metric_order:
                # re-apply the requested order with the missing bucket in place, then the size cut
                buckets = _order_buckets(buckets, sql_order)[:size]
        if metric_order:
            for key, direction in reversed(metric_order):
                path = key.replace(">", ".").split(".")

                def pick(bucket, path=path):
                    node = bucket
                    for part in path:
                        node = node.get(part) if isinstance(node, dict) else None
                    if isinstance(node, dict):
                        node = node.get("value", node.get("doc_count"))
                    return node
                missing_last = [b for b in buckets if pick(b) is None]
                present = sorted([b for b in buckets if pick(b) is not None], key=pick, reverse=direction == "desc")
                buckets = present + missing_last
            buckets = buckets[:size]
        self.tick(len(buckets))
        shown = sum(b["doc_count"] for b in buckets)
        return {"doc_count_error_upper_bound": 0, "sum_other_doc_count": max(0, total_pairs - shown), "buckets": buckets}

    def agg_filter(self, name: str, body: Any, subs: dict[str, Any], docs: DocSet) -> dict[str, Any]:
        inner = compile_query(body, QueryContext(self.index, docs.scope, self.now))
        sub_docs = _and(docs, inner)
        result = {"doc_count": self.count(sub_docs)}
        result.update(self.sub(subs, sub_docs))
        return result

    def agg_filters(self, name: str, body: Any, subs: dict[str, Any], docs: DocSet) -> dict[str, Any]:
        if not isinstance(body, dict) or "filters" not in body:
            raise parsing("[filters] requires a [filters] object or array")
        filters = body["filters"]
        ctx = QueryContext(self.index, docs.scope, self.now)
        keyed = isinstance(filters, dict)
        items = list(filters.items()) if keyed else list(enumerate(filters))
        compiled = [(key, compile_query(q, ctx)) for key, q in items]
        if keyed:
            compiled.sort(key=lambda kv: kv[0])
        buckets = []
        for key, inner in compiled:
            sub_docs = _and(docs, inner)
            bucket = {"doc_count": self.count(sub_docs)}
            bucket.update(self.sub(subs, sub_docs))
            buckets.append((key, bucket))
        if body.get("other_bucket") or body.get("other_bucket_key"):
            union = [c for _, c in compiled if c is not EMPTY]
            base = docs.sql if not docs.everything else ctx.all()
            other_sql = base
            for c in union:
                other_sql = (f"SELECT k FROM ({other_sql[0]}) EXCEPT SELECT k FROM ({c[0]})", other_sql[1] + c[1])
            other = DocSet(other_sql, docs.scope)
            bucket = {"doc_count": self.count(other)}
            bucket.update(self.sub(subs, other))
            buckets.append((body.get("other_bucket_key", "_other_"), bucket))
        self.tick(len(buckets))
        if keyed:
            return {"buckets": {k: b for k, b in buckets}}
        return {"buckets": [b for _, b in buckets]}

    def agg_nested(self, name: str, body: Any, subs: dict[str, Any], docs: DocSet) -> dict[str, Any]:
        path = body.get("path") if isinstance(body, dict) else None
        if not path:
            raise parsing(f"Missing [path] field for nested aggregation [{name}]")
        if self.index.mapping.objects.get(path) != "nested":
            raise SearchError(400, "aggregation_execution_exception", f"[nested] nested path [{path}] is not nested")
        parent_scope = self.index.mapping.nested_of(path.rsplit(".", 1)[0]) if "." in path else None
        if parent_scope != docs.scope:
            raise unsupported(f"a [nested] aggregation on [{path}] from scope [{docs.scope or '_doc'}]")
        if docs.everything:
            sql = ("SELECT nid AS k FROM nested WHERE path = ?", [path])
            inner = DocSet(sql, path, everything=True)
        else:
            sql = (f"SELECT nid AS k FROM nested WHERE path = ? AND parent IN ({docs.sql[0]})", [path] + list(docs.sql[1]))
            inner = DocSet(sql, path)
        result = {"doc_count": self.count(inner)}
        result.update(self.sub(subs, inner))
        return result

    def agg_reverse_nested(self, name: str, body: Any, subs: dict[str, Any], docs: DocSet) -> dict[str, Any]:
        if docs.scope is None:
            raise SearchError(400, "illegal_argument_exception",
                              f"Reverse nested aggregation [{name}] can only be used inside a [nested] aggregation")
        path = (body or {}).get("path")
        if path:
            raise unsupported("[reverse_nested] with a [path]")
        if docs.everything:
            sql = ("SELECT DISTINCT doc AS k FROM nested WHERE path = ?", [docs.scope])
        else:
            sql = (f"SELECT DISTINCT doc AS k FROM nested WHERE nid IN ({docs.sql[0]})", list(docs.sql[1]))
        outer = DocSet(sql, None)
        result = {"doc_count": self.count(outer)}
        result.update(self.sub(subs, outer))
        return result

    def agg_global(self, name: str, body: Any, subs: dict[str, Any], docs: DocSet) -> dict[str, Any]:
        everything = DocSet(QueryContext(self.index).all(), None, everything=True)
        result = {"doc_count": self.count(everything)}
        result.update(self.sub(subs, everything))
        return result

    def agg_missing(self, name: str, body: Any, subs: dict[str, Any], docs: DocSet) -> dict[str, Any]:
        field = self.field(body, "missing")
        base = docs.sql if not docs.everything else QueryContext(self.index, docs.scope).all()
        fid = self.index.fids.get(field.path) if field is not None else None
        sql = (f"SELECT k FROM ({base[0]})" + (f" EXCEPT SELECT k FROM vals WHERE f = {fid}" if fid else ""), base[1])
        miss = DocSet(sql, docs.scope)
        result = {"doc_count": self.count(miss)}
        result.update(self.sub(subs, miss))
        return result


def _order_buckets(buckets: list[dict[str, Any]], sql_order: list[str]) -> list[dict[str, Any]]:
    def sort_key(value: Any) -> tuple:
        return (0, value) if isinstance(value, (int, float)) else (1, str(value))
    for term in reversed(sql_order):
        column, direction = term.split()
        reverse = direction == "DESC"
        if column == "c":
            buckets = sorted(buckets, key=lambda b: b["doc_count"], reverse=reverse)
        else:
            buckets = sorted(buckets, key=lambda b: sort_key(b["key"]), reverse=reverse)
    return buckets
