"""Full-text queries: match, match_phrase, multi_match, query_string (the common Lucene syntax).

Text is analyzed with the field's search analyzer (the index ``default`` analyzer unless mapped
otherwise), so with Mini's keyword default analyzer ``match`` compares the whole string exactly.
Non-text fields fall back to term semantics, as in OpenSearch.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import SearchError, parsing, unsupported
from . import query as q

_MATCH_PARAMS = {"query", "operator", "minimum_should_match", "analyzer", "zero_terms_query", "lenient", "boost",
                 "_name", "auto_generate_synonyms_phrase_query", "fuzzy_transpositions", "max_expansions",
                 "prefix_length", "fuzziness"}


def search_analyzer(ctx: "q.QueryContext", field, override: str | None = None):
    analysis = ctx.mapping.analysis
    if override:
        return analysis.get(override)
    name = field.spec.get("search_analyzer") or field.spec.get("analyzer")
    if name:
        return analysis.get(name)
    return analysis.search_default()


def match_field(ctx: "q.QueryContext", name: str, text: Any, operator: str = "or", msm: Any = None,
                analyzer: str | None = None, lenient: bool = False, zero_terms: str = "none") -> "q.Sql":
    field = ctx.field(name)
    if field is None:
        return q.EMPTY
    if field.type not in q.TEXT:
        try:
            return q.q_term({name: {"value": text}}, ctx)
        except SearchError:
            if lenient:
                return q.EMPTY
            raise
    tokens = list(dict.fromkeys(search_analyzer(ctx, field, analyzer)(str(text))))
    if not tokens:
        return ctx.all() if zero_terms == "all" else q.EMPTY
    if str(operator).lower() == "and":
        required = len(tokens)
    else:
        required = max(1, q.minimum_should_match(msm, len(tokens), default=1))
    clause = ctx.fid_clause(field)
    if clause is None:
        return q.EMPTY
    marks = ",".join("?" * len(tokens))
    if required == 1:
        return (f"SELECT DISTINCT k FROM vals WHERE {clause} AND v IN ({marks})", tokens)
    return (f"SELECT k FROM vals WHERE {clause} AND v IN ({marks}) GROUP BY k HAVING count(DISTINCT v) >= {required}",
            tokens)


def q_match(body: Any, ctx: "q.QueryContext") -> "q.Sql":
    name, spec = q._field_body(body, "match", "query")
    unknown = set(spec) - _MATCH_PARAMS
    if unknown:
        raise parsing(f"[match] query does not support [{sorted(unknown)[0]}]")
    if spec.get("fuzziness") not in (None, 0, "0"):
        raise unsupported("[match] with fuzziness")
    if "query" not in spec:
        raise parsing("No text specified for text query")
    return match_field(ctx, name, spec["query"], spec.get("operator", "or"), spec.get("minimum_should_match"),
                       spec.get("analyzer"), bool(spec.get("lenient")), spec.get("zero_terms_query", "none"))


def phrase_field(ctx: "q.QueryContext", name: str, text: Any, analyzer: str | None = None, slop: int = 0) -> "q.Sql":
    field = ctx.field(name)
    if field is None:
        return q.EMPTY
    if field.type not in q.TEXT:
        return q.q_term({name: {"value": text}}, ctx)
    analyze = search_analyzer(ctx, field, analyzer)
    tokens = analyze(str(text))
    if not tokens:
        return q.EMPTY
    clause = ctx.fid_clause(field)
    if clause is None:
        return q.EMPTY
    distinct = list(dict.fromkeys(tokens))
    marks = ",".join("?" * len(distinct))
    candidates = (f"SELECT k FROM vals WHERE {clause} AND v IN ({marks}) GROUP BY k "
                  f"HAVING count(DISTINCT v) >= {len(distinct)}")
    if len(tokens) == 1:
        return (candidates, distinct)
    if slop:
        raise unsupported("[match_phrase] with slop")
    if ctx.scope is not None:
        raise unsupported("multi-term [match_phrase] inside a nested query")
    # Positions are not stored: confirm the phrase on the candidates' _source with the field's analyzer.
    sql = (f"SELECT rowid AS k FROM docs WHERE rowid IN ({candidates}) "
           f"AND mini_phrase(?, source, ?, ?, ?)")
    analyzer_name = analyzer or field.spec.get("search_analyzer") or field.spec.get("analyzer") or ""
    return (sql, distinct + [ctx.index.uuid, field.path if field.parent is None else field.parent,
                             analyzer_name, json.dumps(tokens)])


def q_match_phrase(body: Any, ctx: "q.QueryContext") -> "q.Sql":
    name, spec = q._field_body(body, "match_phrase", "query")
    unknown = set(spec) - {"query", "analyzer", "slop", "boost", "_name", "zero_terms_query"}
    if unknown:
        raise parsing(f"[match_phrase] query does not support [{sorted(unknown)[0]}]")
    return phrase_field(ctx, name, spec.get("query", ""), spec.get("analyzer"), int(spec.get("slop", 0)))


def _fields(ctx: "q.QueryContext", fields: list[str] | None) -> list[str]:
    if not fields:
        fields = ["*"]
    out: list[str] = []
    for spec in fields:
        name = spec.split("^", 1)[0]
        for path in q._expand(ctx, name):
            field = ctx.mapping.field(path)
            if field is None or path in out:
                continue
            if "*" in name and (field.type == "geo_point" or not field.indexed):
                continue  # a wildcard expands to the fields a query can search
            out.append(path)
    return out


def q_multi_match(body: Any, ctx: "q.QueryContext") -> "q.Sql":
    if not isinstance(body, dict) or "query" not in body:
        raise parsing("[multi_match] requires query value")
    kind = body.get("type", "best_fields")
    if kind not in ("best_fields", "most_fields", "phrase", "cross_fields"):
        raise unsupported(f"[multi_match] of type [{kind}]")
    fields = _fields(ctx, body.get("fields"))
    lenient = bool(body.get("lenient")) or not body.get("fields") or any("*" in f for f in body.get("fields", []))
    parts = []
    for name in fields:
        try:
            if kind == "phrase":
                parts.append(phrase_field(ctx, name, body["query"], body.get("analyzer"), int(body.get("slop", 0))))
            elif kind == "cross_fields" and str(body.get("operator", "or")).lower() == "and":
                raise unsupported("[multi_match] cross_fields with operator and")
            else:
                parts.append(match_field(ctx, name, body["query"], body.get("operator", "or"),
                                         body.get("minimum_should_match"), body.get("analyzer"), lenient))
        except SearchError as exc:
            if lenient and exc.type == "query_shard_exception":
                continue
            raise
    return q._union(parts)


# ---- query_string ----
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<op>AND\b|OR\b|NOT\b|&&|\|\||!)
  | (?P<range>[\[{]\s*(?P<lo>"[^"]*"|[^\s\]}]+)\s+TO\s+(?P<hi>"[^"]*"|[^\s\]}]+)\s*[\]}])
  | (?P<phrase>"(?:[^"\\]|\\.)*")
  | (?P<term>(?:[^\s()"\\:\[\]{}^~]|\\.)+)
  | (?P<colon>:)
  | (?P<boost>\^[0-9.]+)
  | (?P<fuzzy>~[0-9.]*)
  | (?P<other>.)
""", re.VERBOSE)


class _QS:
    def __init__(self, text: str, ctx: "q.QueryContext", fields: list[str], default_op: str, lenient: bool,
                 analyzer: str | None):
        self.tokens = []
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup
            if kind == "lo" or kind == "hi":
                kind = "range"
            if kind == "ws":
                continue
            if kind == "other":
                raise SearchError(400, "query_shard_exception",
                                  f"Failed to parse query [{text}]", index=ctx.index.name, index_uuid=ctx.index.uuid)
            self.tokens.append((m.lastgroup if m.lastgroup not in ("lo", "hi") else "range", m.group(0), m))
        self.pos = 0
        self.ctx = ctx
        self.fields = fields
        self.default_op = default_op.upper()
        self.lenient = lenient
        self.analyzer = analyzer
        self.text = text

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None, None)

    def take(self):
        token = self.peek()
        self.pos += 1
        return token

    def fail(self):
        return SearchError(400, "query_shard_exception", f"Failed to parse query [{self.text}]",
                           index=self.ctx.index.name, index_uuid=self.ctx.index.uuid)

    def parse(self) -> "q.Sql":
        result = self.expr()
        if self.pos != len(self.tokens):
            raise self.fail()
        return result

    def expr(self) -> "q.Sql":
        # Lucene's classic parser: a sequence of clauses with +/-/NOT modifiers joined by AND/OR.
        must, should, must_not = [], [], []
        pending_op = None
        clauses: list[tuple[str, "q.Sql"]] = []
        while True:
            kind, text, _ = self.peek()
            if kind is None or kind == "rparen":
                break
            if kind == "op" and text in ("AND", "&&", "OR", "||"):
                self.take()
                pending_op = "AND" if text in ("AND", "&&") else "OR"
                if pending_op == "AND" and clauses and clauses[-1][0] == "should":
                    clauses[-1] = ("must", clauses[-1][1])
                continue
            modifier = None
            if kind == "op" and text in ("NOT", "!"):
                self.take()
                modifier = "must_not"
            elif kind == "term" and text in ("+", "-"):
                self.take()
                modifier = "must" if text == "+" else "must_not"
            elif kind == "term" and text[0] in "+-" and len(text) > 1:
                self.tokens[self.pos] = ("term", text[1:], None)
                modifier = "must" if text[0] == "+" else "must_not"
            clause = self.clause()
            if modifier is None:
                if pending_op == "AND" or (pending_op is None and self.default_op == "AND"):
                    modifier = "must"
                else:
                    modifier = "should"
            clauses.append((modifier, clause))
            pending_op = None
        for modifier, clause in clauses:
            {"must": must, "should": should, "must_not": must_not}[modifier].append(clause)
        if not (must or should or must_not):
            return q.EMPTY
        parts = list(must)
        if should:
            if not must:
                parts.append(q._union(should))
        base = q._intersect(parts) if parts else self.ctx.all()
        if must_not:
            base = q._except(base, q._union(must_not))
        return base

    def clause(self) -> "q.Sql":
        kind, text, m = self.take()
        if kind == "lparen":
            inner = self.expr()
            if self.take()[0] != "rparen":
                raise self.fail()
            self._suffix()
            return inner
        fields = self.fields
        if kind == "term" and self.peek()[0] == "colon":
            self.take()
            name = text.replace("\\", "")
            fields = q._expand(self.ctx, name) if "*" in name else [name]
            kind, text, m = self.take()
            if kind == "lparen":
                saved = self.fields
                self.fields = fields
                inner = self.expr()
                self.fields = saved
                if self.take()[0] != "rparen":
                    raise self.fail()
                return inner
            if name == "_exists_":
                return q.q_exists({"field": text}, self.ctx)
        if kind not in ("term", "phrase", "range"):
            raise self.fail()
        self._suffix()
        parts = []
        for name in fields:
            try:
                parts.append(self.leaf(name, kind, text, m))
            except SearchError as exc:
                if self.lenient and exc.type == "query_shard_exception":
                    continue
                raise
        return q._union(parts)

    def _suffix(self) -> None:
        kind, text, _ = self.peek()
        if kind == "boost":
            self.take()
        elif kind == "fuzzy":
            raise unsupported("fuzzy and proximity (~) operators in query_string")

    def leaf(self, name: str, kind: str, text: str, m) -> "q.Sql":
        ctx = self.ctx
        if kind == "phrase":
            return phrase_field(ctx, name, _unescape(text[1:-1]), self.analyzer)
        if kind == "range":
            lo, hi = m.group("lo").strip('"'), m.group("hi").strip('"')
            spec: dict[str, Any] = {}
            if lo != "*":
                spec["gte" if text.lstrip().startswith("[") else "gt"] = lo
            if hi != "*":
                spec["lte" if text.rstrip().endswith("]") else "lt"] = hi
            return q.q_range({name: spec}, ctx)
        for op, key in ((">=", "gte"), ("<=", "lte"), (">", "gt"), ("<", "lt")):
            if text.startswith(op) and len(text) > len(op):
                return q.q_range({name: {key: _unescape(text[len(op):])}}, ctx)
        value = _unescape(text)
        if text == "*" :
            return q.q_exists({"field": name}, ctx)
        if re.search(r"(?<!\\)[*?]", text):
            field = ctx.field(name)
            if field is None:
                return q.EMPTY
            pattern = text
            if field.type in q.TEXT:
                analyze = search_analyzer(ctx, field, self.analyzer)
                if analyze("A") == ["a"]:  # lowercasing analyzers: query_string lowercases wildcard terms
                    pattern = pattern.lower()
            return q.q_wildcard({name: {"value": pattern}}, ctx)
        return match_field(ctx, name, value, "or", None, self.analyzer, self.lenient)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def q_query_string(body: Any, ctx: "q.QueryContext") -> "q.Sql":
    if not isinstance(body, dict) or "query" not in body:
        raise parsing("[query_string] must be provided with a [query]")
    allowed = {"query", "default_field", "fields", "default_operator", "analyzer", "lenient", "boost", "_name",
               "analyze_wildcard", "allow_leading_wildcard", "time_zone", "quote_analyzer", "auto_generate_synonyms_phrase_query",
               "escape", "type", "tie_breaker"}
    unknown = set(body) - allowed
    if unknown:
        raise parsing(f"[query_string] query does not support [{sorted(unknown)[0]}]")
    if body.get("fields"):
        names = body["fields"]
    elif body.get("default_field"):
        names = [body["default_field"]]
    else:
        names = [ctx.index.settings.get("index.query.default_field", "*")]
    fields = _fields(ctx, names)
    lenient = bool(body.get("lenient")) or any("*" in n for n in names)
    parser = _QS(str(body["query"]), ctx, fields, str(body.get("default_operator", "or")), lenient, body.get("analyzer"))
    return parser.parse()


def q_simple_query_string(body: Any, ctx: "q.QueryContext") -> "q.Sql":
    raise unsupported("query [simple_query_string]")
