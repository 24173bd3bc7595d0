"""An index's segments: the ``vals`` rows split into tables of a stretch of documents each, and the views
over them that the queries read (see ``index.Index``)."""

from __future__ import annotations

import json
import sqlite3

MAX_SEGMENTS = 400  # SQLite allows 500 terms in a compound SELECT (the view); segments also grow with the index
TABLE = ("CREATE TABLE IF NOT EXISTS vals_{n}(f INTEGER NOT NULL, v NOT NULL, k INTEGER NOT NULL, "
         "c INTEGER NOT NULL DEFAULT 1, PRIMARY KEY(f, v, k)) WITHOUT ROWID")


def starts(conn: sqlite3.Connection) -> list[int]:
    """The first document rowid of each segment, as the index's meta has them (as committed)."""
    return json.loads(dict(conn.execute("SELECT key, value FROM meta")).get("segments", "[1]"))


def layout(conn: sqlite3.Connection) -> None:
    """``vals`` is a view over the segment tables ``vals_0``, ``vals_1``…; a data dir from before segments
    has one table ``vals``, which becomes segment 0."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        kinds = dict(conn.execute("SELECT name, type FROM sqlite_master WHERE name LIKE 'vals%'"))
        if kinds.get("vals") == "table":
            conn.execute("ALTER TABLE vals RENAME TO vals_0")
        conn.execute(TABLE.format(n=0))
        define_views(conn, len(starts(conn)))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def define_views(conn: sqlite3.Connection, n: int) -> None:
    """The views the queries read: ``vals``, every segment's rows (SQLite pushes a query's filters on f and v
    into each segment's primary-key search, and merges segments in k order where a query pages by owner), and
    ``vals_sorted``, the same merged in key order, for walks in value order that also test membership: SQLite
    never flattens that view, as it would copy the ``IN (subquery)`` test into every segment, each copy run
    on its own."""
    arms = " UNION ALL ".join(f"SELECT f, v, k, c FROM vals_{i}" for i in range(n))
    wanted = {"vals": f"CREATE VIEW vals AS {arms}",
              "vals_sorted": f"CREATE VIEW vals_sorted AS {arms}" + (" ORDER BY f, v, k" if n > 1 else "")}
    have = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'"))
    for name, sql in wanted.items():
        if have.get(name) != sql:  # as this version reads them; an unchanged schema is left alone
            conn.execute(f"DROP VIEW IF EXISTS {name}")
            conn.execute(sql)
