"""Connections of the SQL query enrichment: drivers (psycopg 3, PyMySQL, sqlite3), a small pool per
config served by worker threads, the ``?`` placeholders of Snowplow's prepared statements, and the
conversion of column values to JSON as Snowplow's JDBC code does it.

Every wait is bounded: connect and query timeouts in the drivers, and the event loop gives up on a
worker after ``ANSWER_TIMEOUT_S`` even if a driver hangs.  A connection that fails is dropped; a reused
one that fails with a connection error (the database restarted) is replaced and the query retried once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import datetime as dt
import decimal
import math
import re
import ssl
import threading
from typing import Any, Callable

CONNECT_TIMEOUT_S = 5
QUERY_TIMEOUT_S = 10
ANSWER_TIMEOUT_S = CONNECT_TIMEOUT_S * 2 + QUERY_TIMEOUT_S * 2 + 5  # a retry may connect and query again
POOL_SIZE = 4  # connections (and threads) per config; Snowplow's Hikari pool keeps one


class SqlError(Exception):
    """A connection or query failure, already worded for the bad row."""


@dataclasses.dataclass
class Driver:
    """How to reach one database: ``connect()`` opens a connection (autocommit, timeouts set)."""

    label: str  # e.g. "PostgreSQL at 127.0.0.1:5432/crm", named in every error
    connect: Callable[[], Any]
    connection_errors: tuple[type[BaseException], ...]  # errors after which a connection is dead
    paramstyle: str  # "qmark" (sqlite3) or "format" (psycopg, PyMySQL)
    threaded: bool = True  # network databases run in worker threads; SQLite runs inline
    cell: Callable[[Any, tuple], Any] = lambda value, column: value  # driver-specific value fix-ups


def postgresql(spec: dict) -> Driver:
    import psycopg

    def connect():
        # sslMode true: encrypted, certificate not verified (Snowplow's NonValidatingFactory); false: libpq's
        # "prefer", as the JDBC driver does.  statement_timeout bounds every query on the server side.
        return psycopg.connect(host=spec["host"], port=spec["port"], user=spec["username"],
                               password=spec["password"], dbname=spec["database"],
                               sslmode="require" if spec["sslMode"] else "prefer", autocommit=True,
                               connect_timeout=CONNECT_TIMEOUT_S, application_name="mini-enrich",
                               options=f"-c statement_timeout={QUERY_TIMEOUT_S * 1000}",
                               keepalives=1, keepalives_idle=30, keepalives_interval=5, keepalives_count=3)

    return Driver(f"PostgreSQL at {spec['host']}:{spec['port']}/{spec['database']}", connect,
                  (psycopg.OperationalError, psycopg.InterfaceError), "format")


MYSQL_TINY, MYSQL_BIT = 1, 16  # pymysql.constants.FIELD_TYPE


def _mysql_cell(value: Any, column: tuple) -> Any:
    # JDBC reads TINYINT(1) and BIT(1) as booleans (tinyInt1isBit); PyMySQL gives 0/1 and b"\x01".
    type_code, size = column[1], column[3]
    if value is not None and size == 1 and type_code in (MYSQL_TINY, MYSQL_BIT):
        return bool(value if isinstance(value, int) else int.from_bytes(value, "big"))
    return value


def mysql(spec: dict) -> Driver:
    import pymysql

    def connect():
        context = None
        if spec["sslMode"]:  # encrypted, certificate not verified (Snowplow's verifyServerCertificate=false)
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        return pymysql.connect(host=spec["host"], port=spec["port"], user=spec["username"],
                               password=spec["password"], database=spec["database"], ssl=context,
                               autocommit=True, charset="utf8mb4", connect_timeout=CONNECT_TIMEOUT_S,
                               read_timeout=QUERY_TIMEOUT_S, write_timeout=QUERY_TIMEOUT_S)

    return Driver(f"MySQL at {spec['host']}:{spec['port']}/{spec['database']}", connect,
                  (pymysql.OperationalError, pymysql.InterfaceError), "format", cell=_mysql_cell)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(line.strip() for line in text.splitlines() if line.strip())[:400]


class Pool:
    """Up to ``size`` connections to one database, each used by one worker thread at a time."""

    def __init__(self, driver: Driver, size: int = POOL_SIZE):
        self.driver = driver
        self.size = size if driver.threaded else 1
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        self._executor = (concurrent.futures.ThreadPoolExecutor(self.size, thread_name_prefix="sql")
                          if driver.threaded else None)

    async def rows(self, sql: str, values: list) -> list[list[tuple[str, Any]]]:
        """The result rows as (column label, value) pairs; raises SqlError."""
        if self._executor is None:
            return self._run(sql, values)
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._run, sql, values)
        try:
            return await asyncio.wait_for(future, ANSWER_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise SqlError(f"no answer from {self.driver.label} within {ANSWER_TIMEOUT_S} s") from None

    # -- in a worker thread ------------------------------------------------------------------
    def _run(self, sql: str, values: list) -> list[list[tuple[str, Any]]]:
        conn, reused = self._take()
        try:
            try:
                result = self._execute(conn, sql, values)
            except self.driver.connection_errors:
                if not reused:
                    raise
                # A pooled connection died while idle (the server restarted): one fresh try.
                self._discard(conn)
                conn = None
                conn = self._open()
                result = self._execute(conn, sql, values)
        except SqlError:
            self._discard(conn)
            raise
        except Exception as exc:  # noqa: BLE001 - each driver raises its own error types
            self._discard(conn)
            raise SqlError(f"query failed on {self.driver.label}: {first_line(exc)}") from None
        self._give_back(conn)
        return result

    def _take(self) -> tuple[Any, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._open(), False

    def _open(self) -> Any:
        try:
            return self.driver.connect()
        except Exception as exc:  # noqa: BLE001
            raise SqlError(f"cannot connect to {self.driver.label}: {first_line(exc)}") from None

    def _execute(self, conn: Any, sql: str, values: list) -> list[list[tuple[str, Any]]]:
        cursor = conn.cursor()
        try:
            cursor.execute(sql, values)
            columns = list(cursor.description or ())
            fetched = cursor.fetchall() if columns else []
        finally:
            cursor.close()
        cell = self.driver.cell
        return [[(c[0], cell(v, c)) for c, v in zip(columns, row)] for row in fetched]

    def _give_back(self, conn: Any) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.size:
                self._idle.append(conn)
                return
        self._discard(conn)

    @staticmethod
    def _discard(conn: Any) -> None:
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close
                pass

    def close(self) -> None:
        """Close idle connections (busy ones close when their query ends); never waits for a worker."""
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
        if self._executor is None:
            for conn in idle:
                self._discard(conn)
            return
        for conn in idle:
            self._executor.submit(self._discard, conn)
        self._executor.shutdown(wait=False)


# -- placeholders ----------------------------------------------------------------------------
_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def placeholders(sql: str, dialect: str) -> tuple[int, str]:
    """(number of ``?`` placeholders, the SQL in ``format`` style: ``?`` → ``%s``, ``%`` → ``%%``).

    ``?`` inside string literals, quoted identifiers and comments is not a placeholder (as in JDBC).
    """
    out: list[str] = []
    count, i, n = 0, 0, len(sql)
    quotes = "'\"`" if dialect == "mysql" else "'\""
    while i < n:
        ch = sql[i]
        end = i + 1
        if ch in quotes:
            while end < n and sql[end] != ch:
                if sql[end] == "\\" and dialect == "mysql":
                    end += 1
                end += 1
            end = min(end + 1, n)
        elif sql.startswith("--", i) or (ch == "#" and dialect == "mysql"):
            newline = sql.find("\n", i)
            end = n if newline < 0 else newline + 1
        elif sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            end = n if close < 0 else close + 2
        elif ch == "$" and dialect == "postgresql" and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            tag = _DOLLAR.match(sql, i)
            if tag:
                close = sql.find(tag.group(0), tag.end())
                end = n if close < 0 else close + len(tag.group(0))
        elif ch == "?":
            count += 1
            out.append("%s")
            i += 1
            continue
        out.append(sql[i:end].replace("%", "%%"))
        i = end
    return count, "".join(out)


# -- values -----------------------------------------------------------------------------------
def json_value(value: Any) -> Any:
    """A column value as JSON, as Snowplow's JDBC conversion gives it: numbers and booleans as such,
    dates as ISO date-times at UTC midnight, timestamps as ``yyyy-mm-dd hh:mm:ss.f`` text, JSON
    columns parsed, anything else as its text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return str(value)
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        fraction = f"{value.microsecond:06d}".rstrip("0") or "0"
        return value.strftime("%Y-%m-%d %H:%M:%S.") + fraction
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%dT00:00:00.000Z")
    if isinstance(value, (dict, list)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)  # time, interval, uuid, inet, ...
