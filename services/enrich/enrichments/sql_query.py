"""SQL query enrichment (``sql_query_enrichment_config``, PostgreSQL or MySQL; ``sqlite_query_enrichment_config``
of vendor ``io.minilab.enrichments`` for a local SQLite file): run a query per event, add its rows as entities.

As Snowplow's: inputs bind the query's ``?`` placeholders by number (several inputs may feed one
placeholder: the last that has a value wins; any placeholder left without a value skips the query);
``output.expectedRows`` is checked; ``output.json`` names the schema, the column-name style and whether
one entity holds ALL_ROWS or each row is an entity (EVERY_ROW).  Results are cached per input values
for ``cache.ttl`` seconds (failures are not cached); a failure is an enrichment failure unless
``ignoreOnError``.  Connections: :mod:`.sql_connections`.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import sqlite3
from pathlib import Path
from typing import Any, Callable

from ...common.enriched_event import FIELDS, FLOAT_FIELDS, INT_FIELDS
from . import assets, inputs, parameters, sql_connections
from .api_request import CACHE, JSON_INPUT, SCHEMA_KEY, compile_inputs
from .registry import ConfigError, Enrichment, EnrichmentFailure
from .sql_connections import Driver, Pool, SqlError, json_value

SERVER = parameters.strict({
    "host": {"type": "string"}, "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "sslMode": {"type": "boolean"}, "username": {"type": "string", "minLength": 1},
    "password": {"type": "string"}, "database": {"type": "string", "minLength": 1},
}, ["host", "port", "sslMode", "username", "password", "database"])
SQLITE = parameters.strict({"uri": {"type": "string"}, "database": {"type": "string", "minLength": 1}},
                           ["uri", "database"])
EXPECTED_ROWS = ["AT_LEAST_ONE", "AT_LEAST_ZERO", "AT_MOST_ONE", "EXACTLY_ONE"]
# Atomic fields Snowplow's EnrichedEvent types as numbers (BigDecimal and Double bind as doubles).
DECIMAL_FIELDS = frozenset({"tr_total", "tr_tax", "tr_shipping", "ti_price", "tr_total_base", "tr_tax_base",
                            "tr_shipping_base", "ti_price_base", "se_value"})
INT32 = (-(2 ** 31), 2 ** 31 - 1)
INT64 = (-(2 ** 63), 2 ** 63 - 1)


def params_schema(database: dict) -> dict:
    return parameters.strict({
        "inputs": {"type": "array", "items": {**parameters.strict({
            "placeholder": {"type": "integer", "minimum": 1, "maximum": 64},
            "pojo": parameters.strict({"field": {"type": "string"}}, ["field"]),
            "json": JSON_INPUT,
        }, ["placeholder"]), "minProperties": 2, "maxProperties": 2}},
        "database": database,
        "query": parameters.strict({"sql": {"type": "string"}}, ["sql"]),
        "output": parameters.strict({
            "expectedRows": {"enum": EXPECTED_ROWS},
            "json": parameters.strict({
                "schema": {"type": "string", "pattern": SCHEMA_KEY},
                "propertyNames": {"enum": ["AS_IS", "CAMEL_CASE", "PASCAL_CASE", "SNAKE_CASE", "LOWER_CASE", "UPPER_CASE"]},
                "describes": {"enum": ["ALL_ROWS", "EVERY_ROW"]},
            }, ["schema", "propertyNames", "describes"]),
        }),
        "cache": CACHE,
        "ignoreOnError": {"type": ["boolean", "null"]},
    }, ["inputs", "database", "query", "output", "cache"])


SNOWPLOW_PARAMS = params_schema({"oneOf": [parameters.strict({"postgresql": SERVER}, ["postgresql"]),
                                           parameters.strict({"mysql": SERVER}, ["mysql"])]})
SQLITE_PARAMS = params_schema(parameters.strict({"sqlite": SQLITE}, ["sqlite"]))


def rename(style: str) -> Callable[[str], str]:
    """Snowplow's column-name styles, exactly: CAMEL_CASE turns ``_x`` into ``X`` (``plan_name`` →
    ``planName``), PASCAL_CASE also capitalises the first letter, SNAKE_CASE turns each capital or
    digit ``X`` into ``_x`` (``planName`` → ``plan_name``)."""
    def camel(name: str) -> str:
        return re.sub(r"_([a-z\d])", lambda m: m.group(1).upper(), name)
    return {
        "AS_IS": lambda n: n,
        "CAMEL_CASE": camel,
        "PASCAL_CASE": lambda n: (lambda c: c[:1].upper() + c[1:])(camel(n)),
        "SNAKE_CASE": lambda n: re.sub(r"[A-Z\d]", lambda m: "_" + m.group(0).lower(), n),
        "LOWER_CASE": str.lower,
        "UPPER_CASE": str.upper,
    }[style]


def pojo_value(field: str, text: str | None) -> Any:
    """An atomic field bound with the type Snowplow's EnrichedEvent gives it (else its text)."""
    if text is None:
        return None
    try:
        if field in INT_FIELDS:
            return int(text)
        if field in FLOAT_FIELDS or field in DECIMAL_FIELDS:
            return float(text)
    except ValueError:
        return None
    return text


def json_input_value(v: Any) -> Any:
    """A JSON input as Snowplow binds it: objects, arrays and null are no value; a string that reads
    as an integer, a number or a boolean binds as one."""
    if v is None or isinstance(v, (dict, list)):
        return None
    if isinstance(v, (bool, int, float)):
        return v
    text = str(v)
    if re.fullmatch(r"[+-]?\d+", text) and INT64[0] <= int(text) <= INT64[1]:
        return int(text)
    if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


@dataclasses.dataclass
class SqlConf:
    inputs: list[dict]
    pool: Pool
    sql: str  # in the driver's paramstyle
    placeholders: int
    expected: str
    schema: str | None
    rename: Callable[[str], str]
    describes: str
    cache: inputs.TtlCache
    ignore_on_error: bool


def _server_driver(kind: str, spec: dict) -> Driver:
    try:
        return sql_connections.postgresql(spec) if kind == "postgresql" else sql_connections.mysql(spec)
    except ImportError:
        package = "psycopg[binary]" if kind == "postgresql" else "PyMySQL"
        raise ConfigError([f"data.parameters.database.{kind}: the {kind} driver is not installed "
                           f"(pip install '{package}', or the project's 'sql' extra)"]) from None


class SqlQuery(Enrichment):
    name = "sql_query_enrichment_config"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow.enrichments/sql_query_enrichment_config/jsonschema/1-0-*"
    slot = 160
    PARAMS = SNOWPLOW_PARAMS

    def driver(self, database: dict) -> tuple[Driver, str]:
        kind = "postgresql" if "postgresql" in database else "mysql"
        return _server_driver(kind, database[kind]), kind

    def parse(self, config):
        params = parameters.check(config, self.PARAMS)
        errors: list[str] = []
        specs = compile_inputs(params["inputs"], errors)
        for i, spec in enumerate(specs):
            if "pojo" in spec and spec["pojo"]["field"] not in FIELDS:
                errors.append(f"data.parameters.inputs[{i}].pojo.field: {spec['pojo']['field']!r} is not an atomic field")
        sql = params["query"]["sql"]
        database = params["database"]
        dialect = "sqlite" if "sqlite" in database else ("postgresql" if "postgresql" in database else "mysql")
        wanted, formatted = sql_connections.placeholders(sql, dialect)
        have = {s["placeholder"] for s in specs}
        if have != set(range(1, wanted + 1)):
            errors.append(f"data.parameters.inputs: the query has {wanted} placeholder(s); "
                          f"inputs fill {sorted(have) or 'none'}")
        if errors:
            raise ConfigError(errors)
        driver, _ = self.driver(database)
        out = params["output"]
        js = out.get("json") or {"schema": None, "propertyNames": "AS_IS", "describes": "ALL_ROWS"}
        self._pool = Pool(driver)
        return SqlConf(specs, self._pool, formatted if driver.paramstyle == "format" else sql, wanted,
                       out.get("expectedRows", "AT_LEAST_ZERO"), js["schema"], rename(js["propertyNames"]),
                       js["describes"], inputs.TtlCache(params["cache"]["size"], params["cache"]["ttl"]),
                       bool(params.get("ignoreOnError")))

    async def close(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.close()

    def bindings(self, event, ctx, conf: SqlConf) -> list | None:
        """The placeholder values in order, or None when one has no value (the query is skipped)."""
        filled: dict[int, Any] = {}
        for spec in conf.inputs:
            if "pojo" in spec:
                v = pojo_value(spec["pojo"]["field"], getattr(event, spec["pojo"]["field"], None))
            else:
                v = json_input_value(inputs.value(event, ctx, spec))
            if v is not None:
                filled[spec["placeholder"]] = v
        if set(filled) != set(range(1, conf.placeholders + 1)):
            return None
        return [filled[i] for i in range(1, conf.placeholders + 1)]

    async def enrich(self, event, ctx, conf):
        values = self.bindings(event, ctx, conf)
        if values is None:
            return []
        key = tuple((type(v).__name__, v) for v in values)  # 1, 1.0, True and "1" are different inputs
        try:
            contexts = conf.cache.get(key)
            if contexts is None:
                rows = await conf.pool.rows(conf.sql, values)
                contexts = envelope(conf, [{conf.rename(name): json_value(v) for name, v in row} for row in rows])
                conf.cache.put(key, contexts)
        except (SqlError, ValueError) as exc:
            if conf.ignore_on_error:
                return []
            raise EnrichmentFailure({"error": f"SQL query enrichment: {exc}"}) from None
        return copy.deepcopy(contexts)  # later enrichments (PII) may rewrite entities in place; the cache keeps its own


def envelope(conf: SqlConf, rows: list[dict]) -> list[dict]:
    """Check ``expectedRows`` and wrap the rows as Snowplow does: EVERY_ROW gives one entity per row;
    ALL_ROWS gives one entity whose data is the array of rows (AT_LEAST_ONE / AT_LEAST_ZERO, even
    empty) or the single row itself (EXACTLY_ONE / AT_MOST_ONE; no entity for no row)."""
    n = len(rows)
    if conf.expected == "EXACTLY_ONE" and n != 1:
        raise ValueError(f"exactly one row was expected, the query returned {n}")
    if conf.expected == "AT_MOST_ONE" and n > 1:
        raise ValueError(f"at most one row was expected, the query returned {n}")
    if conf.expected == "AT_LEAST_ONE" and n == 0:
        raise ValueError("at least one row was expected, the query returned 0")
    if not conf.schema:
        return []
    if conf.describes == "EVERY_ROW":
        return [{"schema": conf.schema, "data": row} for row in rows]
    if conf.expected in ("EXACTLY_ONE", "AT_MOST_ONE"):
        return [{"schema": conf.schema, "data": row} for row in rows[:1]]
    return [{"schema": conf.schema, "data": rows}]


class SqliteQuery(SqlQuery):
    """The same enrichment over a local SQLite file (``database.sqlite`` = uri + database asset)."""

    name = "sqlite_query_enrichment_config"
    schema_criterion = "iglu:io.minilab.enrichments/sqlite_query_enrichment_config/jsonschema/1-0-*"
    PARAMS = SQLITE_PARAMS

    def driver(self, database: dict):
        spec = database["sqlite"]
        try:
            path: Path = assets.resolve(spec["uri"], spec["database"], self.home)
        except assets.AssetError as exc:
            raise ConfigError([f"data.parameters.database.sqlite: {exc}"]) from None
        # Read-only: an enrichment looks data up, it never writes the user's database.  A local file
        # answers in microseconds, so it runs inline on the event loop.
        connect = lambda: sqlite3.connect(f"file:{path}?mode=ro", uri=True)  # noqa: E731
        return Driver(f"SQLite file {path}", connect, (sqlite3.InterfaceError,), "qmark", threaded=False), "sqlite"
