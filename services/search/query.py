"""The query DSL compiled to SQL: every query becomes a ``SELECT k`` over owners (documents or nested objects).

A compiled query is ``(sql, params)`` yielding the ids of matching units in one *scope*: the root
(document rowids) or a nested path (nested-object ids).  Leaves are index range scans on ``vals``;
``bool`` is INTERSECT / UNION / EXCEPT; ``nested`` maps nested ids back to their parents.  Scoring is
constant (every hit scores 1.0); queries this node cannot answer exactly raise a 400 naming them.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from . import dates
from .errors import SearchError, bad_request, parsing, unsupported
from .mapping import INTEGRAL, NUMERIC, Field, float32, _boolean

Sql = tuple[str, list[Any]]
EMPTY: Sql = ("SELECT NULL AS k WHERE 0", [])
EVERY_DOCUMENT = "SELECT rowid AS k FROM docs"
TEXT = ("text", "match_only_text")


def is_every_document(sql: Sql) -> bool:
    """The query matches every document of the index (``match_all``, and whatever compiles to it)."""
    return sql[0] == EVERY_DOCUMENT


class QueryContext:
    """What compiling needs: the index (mapping, field ids) and the scope (None = root, else a nested path)."""

    def __init__(self, index, scope: str | None = None, now: int | None = None):
        self.index = index
        self.mapping = index.mapping
        self.scope = scope
        self.now = now

    def within(self, scope: str | None) -> "QueryContext":
        return QueryContext(self.index, scope, self.now)

    def all(self) -> Sql:
        if self.scope is None:
            return (EVERY_DOCUMENT, [])
        return ("SELECT nid AS k FROM nested WHERE path = ?", [self.scope])

    def field(self, name: str) -> Field | None:
        """The mapped field, or None when unmapped or outside this scope (which matches nothing)."""
        field = self.mapping.field(name)
        if field is None or field.nested != self.scope:
            return None
        return field

    def fid(self, path: str) -> int | None:
        return self.index.fids.get(path)

    def fid_clause(self, field: Field) -> str | None:
        """``f = N`` (or ``f IN (..)`` for a text field sharing its keyword's terms), None if nothing stored."""
        fids = [f for f in (self.index.fids.get(field.path),
                            self.index.fids.get(field.shared) if field.shared else None) if f is not None]
        if not fids:
            return None
        return f"f = {fids[0]}" if len(fids) == 1 else f"f IN ({fids[0]}, {fids[1]})"

    def shard_error(self, reason: str, cause: SearchError | None = None) -> SearchError:
        return SearchError(400, "query_shard_exception", reason, caused_by=cause,
                           index_uuid=self.index.uuid, index=self.index.name)


def _one_key(body: Any, query: str) -> tuple[str, Any]:
    if not isinstance(body, dict) or len(body) != 1:
        if isinstance(body, dict):
            names = [k for k in body if k not in ("boost", "_name", "queryName")]
            if len(names) == 1:
                return names[0], body[names[0]]
        raise parsing(f"[{query}] query doesn't support multiple fields, found [{', '.join(body) if isinstance(body, dict) else body}]")
    return next(iter(body.items()))


def compile_query(q: Any, ctx: QueryContext) -> Sql:
    if q is None:
        return ctx.all()
    if not isinstance(q, dict):
        raise parsing(f"[_na] query malformed, must start with start_object")
    if len(q) != 1:
        if not q:
            return ctx.all()
        raise parsing(f"[{list(q)[0]}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]")
    kind, body = next(iter(q.items()))
    handler = QUERIES.get(kind)
    if handler is None:
        if kind in KNOWN_UNSUPPORTED:
            raise unsupported(f"query [{kind}]")
        raise parsing(f"unknown query [{kind}]", line=1, col=len(kind) + 4)
    return handler(body, ctx)


def _union(parts: list[Sql]) -> Sql:
    parts = [p for p in parts if p is not EMPTY]
    if not parts:
        return EMPTY
    if len(parts) == 1:
        return parts[0]
    return (" UNION ".join(f"SELECT k FROM ({s})" for s, _ in parts), [x for _, p in parts for x in p])


def _intersect(parts: list[Sql]) -> Sql:
    if any(p is EMPTY for p in parts):
        return EMPTY
    if len(parts) == 1:
        return parts[0]
    return (" INTERSECT ".join(f"SELECT k FROM ({s})" for s, _ in parts), [x for _, p in parts for x in p])


def _except(base: Sql, minus: Sql) -> Sql:
    if minus is EMPTY or base is EMPTY:
        return base
    return (f"SELECT k FROM ({base[0]}) EXCEPT SELECT k FROM ({minus[0]})", base[1] + minus[1])


# ---- value conversion for term-level queries ----
def term_value(field: Field, value: Any, ctx: QueryContext, round_up: bool = False, fmt: str | None = None,
               tz: str | None = None) -> Any:
    kind = field.type
    try:
        if kind == "keyword" or kind in TEXT:
            if isinstance(value, (dict, list)):
                raise ValueError(f"[term] query does not support [{type(value).__name__}]")
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, float):
                return repr(value)
            return str(value)
        if kind in INTEGRAL or kind in NUMERIC:
            if isinstance(value, bool):
                raise ValueError(f"For input string: \"{str(value).lower()}\"")
            number = float(value) if not isinstance(value, int) else value
            if kind == "float" or kind == "half_float":
                number = float32(float(number))
            return number
        if kind == "boolean":
            return _boolean(value)
        if kind == "date":
            date_format = dates.DateFormat(fmt) if fmt else field.format
            return dates.parse_math(value, date_format, round_up, dates.zone(tz), ctx.now)
        if kind == "geo_point":
            raise unsupported(f"term-level queries on geo_point field [{field.path}]")
    except SearchError:
        raise
    except (ValueError, TypeError) as exc:
        raise ctx.shard_error(f"failed to create query: {exc}",
                              SearchError(400, "number_format_exception" if kind in NUMERIC else "illegal_argument_exception",
                                          str(exc))) from None
    raise unsupported(f"queries on field type [{kind}]")


def _leaf(ctx: QueryContext, field: Field, cond: str, params: list[Any], unique: bool = False) -> Sql:
    """Owners with a value of ``field`` meeting ``cond``; ``unique`` (one value sought) needs no DISTINCT,
    which keeps the (field, value, owner) index order so SQLite can page without sorting."""
    if not field.indexed:
        raise ctx.shard_error(f"failed to create query: Cannot search on field [{field.path}] since it is not indexed.")
    clause = ctx.fid_clause(field)
    if clause is None:
        return EMPTY
    distinct = "" if unique else "DISTINCT "
    return (f"SELECT {distinct}k FROM vals WHERE {clause} AND {cond}", params)


def _field_body(body: Any, query: str, value_key: str = "value") -> tuple[str, dict[str, Any]]:
    name, spec = _one_key(body, query)
    if not isinstance(spec, dict):
        spec = {value_key: spec}
    return name, spec


def q_match_all(body: Any, ctx: QueryContext) -> Sql:
    return ctx.all()


def q_match_none(body: Any, ctx: QueryContext) -> Sql:
    return EMPTY


def q_term(body: Any, ctx: QueryContext) -> Sql:
    name, spec = _field_body(body, "term")
    if "value" not in spec:
        raise parsing("[term] query does not support [%s]" % ",".join(spec))
    unknown = set(spec) - {"value", "boost", "case_insensitive", "_name"}
    if unknown:
        raise parsing(f"[term] query does not support [{sorted(unknown)[0]}]")
    field = ctx.field(name)
    if field is None:
        return EMPTY
    value = term_value(field, spec["value"], ctx)
    if spec.get("case_insensitive") and isinstance(value, str):
        return _leaf(ctx, field, "lower(v) = lower(?)", [value])
    if field.type == "date" and isinstance(spec["value"], str) and "/" in spec["value"]:
        low = term_value(field, spec["value"], ctx, round_up=False)
        high = term_value(field, spec["value"], ctx, round_up=True)
        return _leaf(ctx, field, "v >= ? AND v <= ?", [low, high])
    return _leaf(ctx, field, "v = ?", [value], unique=True)


def q_terms(body: Any, ctx: QueryContext) -> Sql:
    if not isinstance(body, dict):
        raise parsing("[terms] query malformed")
    names = [k for k in body if k not in ("boost", "_name")]
    if len(names) != 1:
        raise parsing("[terms] query does not support multiple fields")
    name = names[0]
    values = body[name]
    if isinstance(values, dict):
        raise unsupported("terms lookup")
    if not isinstance(values, list):
        raise parsing(f"[terms] query does not support [{name}]")
    field = ctx.field(name)
    if field is None or not values:
        return EMPTY
    converted = [term_value(field, v, ctx) for v in values]
    marks = ",".join("?" * len(converted))
    return _leaf(ctx, field, f"v IN ({marks})", converted)


def q_range(body: Any, ctx: QueryContext) -> Sql:
    name, spec = _one_key(body, "range")
    if not isinstance(spec, dict):
        raise parsing(f"[range] query malformed, no start_object after query name")
    allowed = {"gte", "gt", "lte", "lt", "from", "to", "include_lower", "include_upper", "format", "time_zone",
               "boost", "relation", "_name"}
    unknown = set(spec) - allowed
    if unknown:
        raise parsing(f"[range] query does not support [{sorted(unknown)[0]}]")
    if spec.get("relation", "intersects").lower() not in ("intersects", "within", "contains"):
        raise parsing(f"[range] query does not support relation [{spec['relation']}]")
    field = ctx.field(name)
    if field is None:
        return EMPTY
    bounds = dict(spec)
    if "from" in bounds and bounds["from"] is not None:
        bounds["gte" if bounds.get("include_lower", True) else "gt"] = bounds.pop("from")
    if "to" in bounds and bounds["to"] is not None:
        bounds["lte" if bounds.get("include_upper", True) else "lt"] = bounds.pop("to")
    conds, params = [], []
    for op, sql_op, round_up in (("gte", ">=", False), ("gt", ">", True), ("lte", "<=", True), ("lt", "<", False)):
        if bounds.get(op) is None:
            continue
        value = term_value(field, bounds[op], ctx, round_up=round_up, fmt=spec.get("format"), tz=spec.get("time_zone"))
        conds.append(f"v {sql_op} ?")
        params.append(value)
    if field.type == "boolean" or field.type == "geo_point":
        raise unsupported(f"range query on [{field.type}] field [{name}]")
    if not conds:
        conds = ["1"]
    return _leaf(ctx, field, " AND ".join(conds), params)


def q_exists(body: Any, ctx: QueryContext) -> Sql:
    if not isinstance(body, dict) or "field" not in body:
        raise parsing("[exists] must be provided with a [field]")
    name = body["field"]
    paths = _expand(ctx, name)
    fids = []
    for path in paths:
        field = ctx.mapping.field(path)
        if field is not None and field.nested != ctx.scope:
            continue
        fid = ctx.fid(path)
        if fid is not None:
            fids.append(fid)
    for path, fid in list(ctx.index.fids.items()):  # an object path: any field below it
        if any(path.startswith(p + ".") for p in paths) and fid not in fids:
            field = ctx.mapping.field(path)
            if field is not None and field.nested == ctx.scope:
                fids.append(fid)
    if not fids:
        return EMPTY
    return (f"SELECT DISTINCT k FROM vals WHERE f IN ({','.join(map(str, fids))})", [])


def _expand(ctx: QueryContext, pattern: str) -> list[str]:
    if "*" not in pattern:
        return [pattern]
    rx = re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$")
    return [p for p in list(ctx.mapping.fields) if rx.match(p)]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _glob_escape(text: str) -> str:
    return re.sub(r"([\[\]*?])", r"[\1]", text)


def _prefix_range(prefix: str) -> tuple[str, list[Any]]:
    if not prefix:
        return "typeof(v) = 'text'", []
    return "v >= ? AND v < ?", [prefix, prefix + "\U0010ffff"]


def q_prefix(body: Any, ctx: QueryContext) -> Sql:
    name, spec = _field_body(body, "prefix")
    field = ctx.field(name)
    if field is None:
        return EMPTY
    if field.type != "keyword" and field.type not in TEXT:
        raise ctx.shard_error(f"failed to create query: Can only use prefix queries on keyword and text fields - "
                              f"not on [{name}] which is of type [{field.type}]")
    value = str(spec.get("value", ""))
    if spec.get("case_insensitive"):
        return _leaf(ctx, field, "typeof(v) = 'text' AND lower(substr(v, 1, ?)) = lower(?)", [len(value), value])
    cond, params = _prefix_range(value)
    return _leaf(ctx, field, cond + " AND substr(v, 1, ?) = ?", params + [len(value), value])


def q_wildcard(body: Any, ctx: QueryContext) -> Sql:
    name, spec = _field_body(body, "wildcard")
    field = ctx.field(name)
    if field is None:
        return EMPTY
    pattern = spec.get("value", spec.get("wildcard"))
    if pattern is None:
        raise parsing("[wildcard] query requires a [value]")
    pattern = str(pattern)
    if field.type != "keyword" and field.type not in TEXT:
        raise ctx.shard_error(f"failed to create query: Can only use wildcard queries on keyword and text fields - "
                              f"not on [{name}] which is of type [{field.type}]")
    glob, literal = [], []
    i, seen_wild = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            glob.append(_glob_escape(pattern[i + 1]))
            if not seen_wild:
                literal.append(pattern[i + 1])
            i += 2
            continue
        if ch in "*?":
            seen_wild = True
            glob.append(ch)
        else:
            glob.append(_glob_escape(ch))
            if not seen_wild:
                literal.append(ch)
        i += 1
    glob_text = "".join(glob)
    if spec.get("case_insensitive"):
        return _leaf(ctx, field, "typeof(v) = 'text' AND mini_lower(v) GLOB mini_lower(?)", [glob_text])
    cond, params = _prefix_range("".join(literal))
    return _leaf(ctx, field, cond + " AND v GLOB ?", params + [glob_text])


def q_ids(body: Any, ctx: QueryContext) -> Sql:
    if not isinstance(body, dict) or not isinstance(body.get("values", []), list):
        raise parsing("[ids] query malformed")
    values = [str(v) for v in body.get("values", [])]
    if ctx.scope is not None or not values:
        return EMPTY
    return (f"SELECT rowid AS k FROM docs WHERE id IN ({','.join('?' * len(values))})", values)


def q_bool(body: Any, ctx: QueryContext) -> Sql:
    if not isinstance(body, dict):
        raise parsing("[bool] query malformed")
    allowed = {"must", "should", "must_not", "filter", "minimum_should_match", "boost", "_name", "adjust_pure_negative"}
    unknown = set(body) - allowed
    if unknown:
        raise parsing(f"[bool] query does not support [{sorted(unknown)[0]}]")

    def clauses(key: str) -> list[Any]:
        value = body.get(key) or []
        return value if isinstance(value, list) else [value]

    must = [compile_query(c, ctx) for c in clauses("must") + clauses("filter")]
    should = [compile_query(c, ctx) for c in clauses("should")]
    must_not = [compile_query(c, ctx) for c in clauses("must_not")]
    msm = body.get("minimum_should_match")
    required = minimum_should_match(msm, len(should), default=0 if must else 1) if should else 0
    parts = list(must)
    if should and required > 0:
        if required > len(should):
            return EMPTY
        if required == 1:
            parts.append(_union(should))
        else:
            live = [s for s in should if s is not EMPTY]
            if len(live) < required:
                return EMPTY
            union_all = " UNION ALL ".join(f"SELECT k FROM ({s})" for s, _ in live)
            parts.append((f"SELECT k FROM ({union_all}) GROUP BY k HAVING count(*) >= {required}",
                          [x for _, p in live for x in p]))
    base = _intersect(parts) if parts else ctx.all()
    if must_not:
        base = _except(base, _union(must_not))
    return base


def minimum_should_match(spec: Any, optional: int, default: int) -> int:
    if spec is None:
        return default
    text = str(spec).strip()
    if "<" in text or " " in text:
        raise unsupported(f"minimum_should_match combination [{text}]")
    try:
        if text.endswith("%"):
            pct = int(text[:-1])
            result = int(optional * pct / 100) if pct >= 0 else optional - int(optional * -pct / 100)
        else:
            n = int(text)
            result = n if n >= 0 else optional + n
    except ValueError:
        raise bad_request(f"minimum_should_match [{text}] is not a number or percentage") from None
    return max(0, min(result, optional)) if optional else result


def q_constant_score(body: Any, ctx: QueryContext) -> Sql:
    if not isinstance(body, dict) or "filter" not in body:
        raise parsing("[constant_score] requires a 'filter' element")
    return compile_query(body["filter"], ctx)


def q_dis_max(body: Any, ctx: QueryContext) -> Sql:
    return _union([compile_query(c, ctx) for c in body.get("queries", [])])


def q_nested(body: Any, ctx: QueryContext) -> Sql:
    if not isinstance(body, dict) or "path" not in body or "query" not in body:
        raise parsing("[nested] requires 'path' and 'query' fields")
    path = body["path"]
    kind = ctx.mapping.objects.get(path)
    if kind != "nested":
        if body.get("ignore_unmapped"):
            return EMPTY
        raise ctx.shard_error(f"failed to create query: [nested] failed to find nested object under path [{path}]")
    parent_scope = ctx.mapping.nested_of(path.rsplit(".", 1)[0]) if "." in path else None
    if ctx.scope is not None and parent_scope != ctx.scope:
        if ctx.scope != path and not path.startswith(ctx.scope + "."):
            return EMPTY
        raise unsupported(f"[nested] query on [{path}] more than one level below [{ctx.scope}]")
    inner = compile_query(body["query"], ctx.within(path))
    if inner is EMPTY:
        return EMPTY
    column = "doc" if ctx.scope is None else "parent"
    return (f"SELECT DISTINCT {column} AS k FROM nested WHERE nid IN ({inner[0]})", inner[1])


# full-text queries live in fulltext.py; registered here to keep one dispatch table
from . import fulltext  # noqa: E402

QUERIES: dict[str, Callable[[Any, QueryContext], Sql]] = {
    "match_all": q_match_all, "match_none": q_match_none, "term": q_term, "terms": q_terms, "range": q_range,
    "exists": q_exists, "prefix": q_prefix, "wildcard": q_wildcard, "ids": q_ids, "bool": q_bool,
    "constant_score": q_constant_score, "dis_max": q_dis_max, "nested": q_nested,
    "match": fulltext.q_match, "match_phrase": fulltext.q_match_phrase, "multi_match": fulltext.q_multi_match,
    "query_string": fulltext.q_query_string, "simple_query_string": fulltext.q_simple_query_string,
}
KNOWN_UNSUPPORTED = {"regexp", "fuzzy", "match_phrase_prefix", "match_bool_prefix", "geo_distance", "geo_bounding_box",
                     "geo_polygon", "geo_shape", "more_like_this", "script", "script_score", "function_score",
                     "boosting", "has_child", "has_parent", "parent_id", "percolate", "span_term", "span_near",
                     "span_or", "span_not", "span_first", "span_multi", "intervals", "distance_feature",
                     "rank_feature", "wrapper", "knn", "neural", "hybrid", "terms_set", "combined_fields"}
