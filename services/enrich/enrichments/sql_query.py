"""SQL query enrichment (``sql_query_enrichment_config``; ``sqlite_query_enrichment_config`` of vendor
``io.minilab.enrichments`` for a local SQLite file): run a query per event, add its rows as entities.

Inputs bind the query's ``?`` placeholders (by ``placeholder`` number); a missing input skips the query.
``output.json`` names the schema, the column-name style and whether one entity describes ALL_ROWS
or EVERY_ROW; ``expectedRows`` is checked.  Results are cached per input values.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import re
import sqlite3
from pathlib import Path
from typing import Any, Callable

from . import assets, inputs, parameters
from .api_request import CACHE, JSON_INPUT, SCHEMA_KEY, compile_inputs
from .registry import ConfigError, Enrichment, EnrichmentFailure

SERVER = parameters.strict({
    "host": {"type": "string"}, "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "sslMode": {"type": "boolean"}, "username": {"type": "string", "minLength": 1},
    "password": {"type": "string"}, "database": {"type": "string", "minLength": 1},
}, ["host", "port", "sslMode", "username", "password", "database"])
SQLITE = parameters.strict({"uri": {"type": "string"}, "database": {"type": "string", "minLength": 1}},
                           ["uri", "database"])


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
            "expectedRows": {"enum": ["AT_LEAST_ONE", "AT_LEAST_ZERO", "AT_MOST_ONE", "EXACTLY_ONE"]},
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
    def words(name: str) -> list[str]:
        return [w for w in re.split(r"_|(?<=[a-z0-9])(?=[A-Z])", name) if w]
    return {
        "AS_IS": lambda n: n,
        "CAMEL_CASE": lambda n: "".join(w.lower() if i == 0 else w.capitalize() for i, w in enumerate(words(n))),
        "PASCAL_CASE": lambda n: "".join(w.capitalize() for w in words(n)),
        "SNAKE_CASE": lambda n: "_".join(w.lower() for w in words(n)),
        "LOWER_CASE": str.lower,
        "UPPER_CASE": str.upper,
    }[style]


def _json_value(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8", errors="replace")
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return str(v)  # dates, decimals: their text


class Connection:
    """One connection, opened on first use and reopened after an error (Snowplow keeps a pool; one
    event at a time needs one).  Network databases are used from one worker thread only."""

    def __init__(self, connect: Callable[[], Any], blocking: bool):
        self.connect, self.conn = connect, None
        self.worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sql") if blocking else None

    def rows(self, sql: str, values: list, rename: Callable[[str], str]) -> list[dict]:
        if self.conn is None:
            self.conn = self.connect()
        try:
            cursor = self.conn.cursor()
            cursor.execute(sql, values)
            names = [rename(d[0]) for d in cursor.description or ()]
            return [{n: _json_value(v) for n, v in zip(names, row)} for row in cursor.fetchall()]
        except Exception:
            self.close_connection()
            raise

    def close_connection(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close
                pass

    def close(self) -> None:
        if self.worker is not None:
            self.worker.submit(self.close_connection).result()
            self.worker.shutdown(wait=False)
        else:
            self.close_connection()


@dataclasses.dataclass
class SqlConf:
    inputs: list[dict]
    connection: Connection
    sql: str
    paramstyle: str  # "qmark" (sqlite) or "format" (psycopg, pymysql)
    expected: str
    schema: str | None
    rename: Callable[[str], str]
    describes: str
    cache: inputs.TtlCache
    ignore_on_error: bool


def _server_connector(kind: str, spec: dict) -> Callable[[], Any]:
    if kind == "postgresql":
        try:
            import psycopg  # noqa: F401 - optional driver
        except ImportError:
            raise ConfigError(["data.parameters.database.postgresql: PostgreSQL needs the 'psycopg' package "
                               "(pip install 'psycopg[binary]')"]) from None
        return lambda: psycopg.connect(host=spec["host"], port=spec["port"], user=spec["username"],
                                       password=spec["password"], dbname=spec["database"],
                                       sslmode="require" if spec["sslMode"] else "prefer", autocommit=True)
    try:
        import pymysql  # noqa: F401 - optional driver
    except ImportError:
        raise ConfigError(["data.parameters.database.mysql: MySQL needs the 'pymysql' package (pip install pymysql)"]) from None
    return lambda: pymysql.connect(host=spec["host"], port=spec["port"], user=spec["username"],
                                   password=spec["password"], database=spec["database"],
                                   ssl={} if spec["sslMode"] else None, autocommit=True)


class SqlQuery(Enrichment):
    name = "sql_query_enrichment_config"
    schema_criterion = "iglu:com.snowplowanalytics.snowplow.enrichments/sql_query_enrichment_config/jsonschema/1-0-*"
    slot = 160
    PARAMS = SNOWPLOW_PARAMS

    def connector(self, database: dict) -> tuple[Callable[[], Any], str, bool]:
        kind = "postgresql" if "postgresql" in database else "mysql"
        return _server_connector(kind, database[kind]), "format", True

    def parse(self, config):
        params = parameters.check(config, self.PARAMS)
        errors: list[str] = []
        specs = compile_inputs(params["inputs"], errors)
        sql = params["query"]["sql"]
        wanted = sql.count("?")
        have = {s["placeholder"] for s in specs}
        if wanted and have != set(range(1, wanted + 1)):
            errors.append(f"data.parameters.inputs: the query has {wanted} placeholder(s); inputs give {sorted(have)}")
        if errors:
            raise ConfigError(errors)
        connect, style, blocking = self.connector(params["database"])
        out = params["output"]
        js = out.get("json") or {"schema": None, "propertyNames": "AS_IS", "describes": "ALL_ROWS"}
        self._connection = Connection(connect, blocking)
        return SqlConf(sorted(specs, key=lambda s: s["placeholder"]), self._connection, sql, style,
                       out.get("expectedRows", "AT_LEAST_ZERO"), js["schema"], rename(js["propertyNames"]),
                       js["describes"], inputs.TtlCache(params["cache"]["size"], params["cache"]["ttl"]),
                       bool(params.get("ignoreOnError")))

    async def close(self):
        connection = getattr(self, "_connection", None)
        if connection is not None:
            connection.close()

    async def enrich(self, event, ctx, conf):
        values = []
        for spec in conf.inputs:
            v = inputs.value(event, ctx, spec)
            if v is None:
                return []
            values.append(v if isinstance(v, (int, float, str)) else inputs.as_text(v))
        try:
            rows = conf.cache.get(tuple(values))
            if rows is None:
                worker = conf.connection.worker
                if worker is not None:
                    rows = await asyncio.get_running_loop().run_in_executor(worker, _query, conf, values)
                else:
                    rows = _query(conf, values)
                conf.cache.put(tuple(values), rows)
            _check_count(conf.expected, len(rows))
        except Exception as exc:  # noqa: BLE001 - drivers raise their own error types
            if conf.ignore_on_error:
                return []
            raise EnrichmentFailure({"error": f"SQL query enrichment: {exc}"}) from None
        if not conf.schema or not rows:
            return []
        if conf.describes == "EVERY_ROW":
            return [{"schema": conf.schema, "data": row} for row in rows]
        return [{"schema": conf.schema, "data": rows}]


def _query(conf: SqlConf, values: list) -> list[dict]:
    sql = conf.sql.replace("?", "%s") if conf.paramstyle == "format" else conf.sql
    return conf.connection.rows(sql, values, conf.rename)


def _check_count(expected: str, n: int) -> None:
    ok = {"AT_LEAST_ONE": n >= 1, "AT_LEAST_ZERO": True, "AT_MOST_ONE": n <= 1, "EXACTLY_ONE": n == 1}[expected]
    if not ok:
        raise ValueError(f"expected {expected} row(s), the query returned {n}")


class SqliteQuery(SqlQuery):
    """The same enrichment over a local SQLite file (``database.sqlite`` = uri + database asset)."""

    name = "sqlite_query_enrichment_config"
    schema_criterion = "iglu:io.minilab.enrichments/sqlite_query_enrichment_config/jsonschema/1-0-*"
    PARAMS = SQLITE_PARAMS

    def connector(self, database: dict):
        spec = database["sqlite"]
        try:
            path: Path = assets.resolve(spec["uri"], spec["database"], self.home)
        except assets.AssetError as exc:
            raise ConfigError([f"data.parameters.database.sqlite: {exc}"]) from None
        # Read-only: an enrichment looks data up, it never writes the user's database.
        return (lambda: sqlite3.connect(f"file:{path}?mode=ro", uri=True)), "qmark", False
