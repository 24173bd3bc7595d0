"""Doc values: each owner's indexed values as one JSON row of ``dv`` (``{"fid": [value or [value, count], ...]}``),
for the owner-driven reads, and the SQL that reads them back."""

from __future__ import annotations

import collections
import logging
import sqlite3
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)


def doc_values(values: dict[int, list[Any]]) -> tuple[str, int]:
    """One owner's ``dv`` row from its values by field id — ``[v, c]`` for a value that occurs c > 1 times —
    and the number of ``vals`` rows it stands for. ``values``' lists may be replaced."""
    rows = 0
    for f, stored in values.items():
        if len(stored) > 1 and len(set(stored)) < len(stored):
            values[f] = stored = [v if c == 1 else [v, c] for v, c in collections.Counter(stored).items()]
        rows += len(stored)
    return orjson.dumps(values, option=orjson.OPT_NON_STR_KEYS).decode("utf-8"), rows


DV_VALUE = "CASE j.type WHEN 'array' THEN j.value ->> 0 ELSE j.value END"
DV_COUNT = "CASE j.type WHEN 'array' THEN j.value ->> 1 ELSE 1 END"
# The (f, v, k, c) rows of the owners listed in the JSON array bound to the statement, read from their dv rows.
VALS_OF_DV = (f"SELECT CAST(fj.key AS INTEGER), {DV_VALUE}, dv.k, {DV_COUNT} FROM json_each(?) AS o "
              f"CROSS JOIN dv ON dv.k = o.value CROSS JOIN json_each(dv.b) AS fj CROSS JOIN json_each(fj.value) AS j")


def dv_values_sql(fid: int, source: str) -> str:
    """``(k, v, c)`` rows of field ``fid`` read from the ``dv`` rows of the owners selected by ``source`` (SQL
    selecting ``dk``): the owner-driven read, for small sets."""
    return (f"SELECT dk AS k, {DV_VALUE} AS v, {DV_COUNT} AS c "
            f"FROM ({source}) CROSS JOIN dv ON dv.k = dk CROSS JOIN {dv_field(fid)}")


def dv_field(fid: int) -> str:
    """The table-valued ``json_each`` over one field's values in a ``dv`` row (alias ``j``)."""
    return f"json_each(dv.b, '$.\"{int(fid)}\"') AS j"


def migrate_owner_index(conn: sqlite3.Connection, path: Path) -> None:
    """Data dirs before ``dv`` kept owner lookups in an index ``vals_k``: build ``dv`` from it, then drop it."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'vals_k'").fetchone():
        return
    log.warning("search index %s: migrating to the doc-values layout (once; may take a while)", path.name)
    conn.execute("BEGIN IMMEDIATE")
    try:
        batch: list[tuple] = []
        owner, values = None, {}
        for k, f, v, c in conn.execute("SELECT k, f, v, c FROM vals INDEXED BY vals_k ORDER BY k"):
            if k != owner:
                if values:
                    batch.append((owner, doc_values(values)[0]))
                owner, values = k, {}
                if len(batch) >= 5000:
                    conn.executemany("INSERT OR REPLACE INTO dv(k, b) VALUES (?, ?)", batch)
                    batch = []
            values.setdefault(f, []).extend([v] * c)
        if values:
            batch.append((owner, doc_values(values)[0]))
        conn.executemany("INSERT OR REPLACE INTO dv(k, b) VALUES (?, ?)", batch)
        conn.execute("DROP INDEX vals_k")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
