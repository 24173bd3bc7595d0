"""SQLite storage of the local Iglu Server: schemas, API-key permissions, and the generation file.

Every write bumps ``generation`` (atomic replace of a small file beside the database); resolvers
in other processes ``stat`` it before trusting cached answers, so a publish shows at once.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import sqlite3
import uuid
from pathlib import Path

from ..core import SELF_DESC_URI, SchemaKey, SchemaVer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS iglu_schemas (
    vendor TEXT NOT NULL, name TEXT NOT NULL, format TEXT NOT NULL,
    model INTEGER NOT NULL, revision INTEGER NOT NULL, addition INTEGER NOT NULL,
    body TEXT NOT NULL, is_public INTEGER NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, position INTEGER NOT NULL,
    superseded_by TEXT, supersedes TEXT,
    PRIMARY KEY (vendor, name, format, model, revision, addition)
);
CREATE TABLE IF NOT EXISTS iglu_permissions (
    apikey TEXT PRIMARY KEY, vendor TEXT NOT NULL, wildcard INTEGER NOT NULL,
    schema_action TEXT, key_action TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS iglu_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclasses.dataclass
class SchemaRow:
    key: SchemaKey
    body: dict
    is_public: bool
    created_at: str
    updated_at: str
    superseded_by: str | None
    supersedes: list[str]

    def canonical(self) -> dict:
        out: dict = {"$schema": SELF_DESC_URI}
        if self.superseded_by:
            out["$supersededBy"] = self.superseded_by
        if self.supersedes:
            out["$supersedes"] = self.supersedes
        out["self"] = {"vendor": self.key.vendor, "name": self.key.name, "format": self.key.format,
                       "version": str(self.key.version)}
        out.update(self.body)
        return out

    def meta(self) -> dict:
        return {**self.canonical(), "metadata": {"createdAt": self.created_at, "updatedAt": self.updated_at,
                                                 "isPublic": self.is_public}}


@dataclasses.dataclass
class PermissionRow:
    apikey: str
    vendor: str
    wildcard: bool
    schema_action: str | None
    key_actions: tuple[str, ...]


class Storage:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.generation_file = self.directory / "generation"
        self.db = sqlite3.connect(self.directory / "iglu.sqlite3", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)
        self.generation = self._read_generation()

    def close(self) -> None:
        self.db.close()

    # ---- generation ---------------------------------------------------------------------
    def _read_generation(self) -> int:
        try:
            return int(self.generation_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def bump(self) -> None:
        self.generation += 1
        tmp = self.generation_file.with_name(f".generation.{os.getpid()}.tmp")
        tmp.write_text(f"{self.generation} {uuid.uuid4()}\n")
        os.replace(tmp, self.generation_file)

    # ---- schemas ------------------------------------------------------------------------
    def _row(self, r: tuple) -> SchemaRow:
        vendor, name, fmt, m, rv, a, body, public, created, updated, _pos, sup_by, sups = r
        return SchemaRow(SchemaKey(vendor, name, fmt, SchemaVer(m, rv, a)), json.loads(body), bool(public),
                         created, updated, sup_by, json.loads(sups) if sups else [])

    def get(self, key: SchemaKey) -> SchemaRow | None:
        v = key.version
        cur = self.db.execute(
            "SELECT * FROM iglu_schemas WHERE vendor=? AND name=? AND format=? AND model=? AND revision=? AND addition=?",
            (key.vendor, key.name, key.format, v.model, v.revision, v.addition))
        row = cur.fetchone()
        return self._row(row) if row else None

    def list(self, vendor: str | None = None, name: str | None = None, fmt: str | None = None,
             model: int | None = None) -> list[SchemaRow]:
        clauses, args = [], []
        for column, value in (("vendor", vendor), ("name", name), ("format", fmt), ("model", model)):
            if value is not None:
                clauses.append(f"{column}=?")
                args.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        cur = self.db.execute(f"SELECT * FROM iglu_schemas {where} ORDER BY position", args)
        return [self._row(r) for r in cur.fetchall()]

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM iglu_schemas").fetchone()[0]

    def put(self, key: SchemaKey, body: dict, is_public: bool, supersedes: list[str]) -> bool:
        """Insert or overwrite; returns True when it overwrote (a patch moves to the end of list order)."""
        v = key.version
        now = _now()
        existing = self.get(key)
        position = (self.db.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM iglu_schemas").fetchone()[0])
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "INSERT OR REPLACE INTO iglu_schemas VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (key.vendor, key.name, key.format, v.model, v.revision, v.addition, json.dumps(body),
                 int(is_public), now, now, position, existing.superseded_by if existing else None,
                 json.dumps(supersedes) if supersedes else None))
            for old in supersedes:
                o = SchemaVer.parse(old)
                row = self.get(key.with_version(o))
                if row is not None and (row.superseded_by is None or SchemaVer.parse(row.superseded_by) < v):
                    self.db.execute(
                        "UPDATE iglu_schemas SET superseded_by=?, updated_at=? WHERE vendor=? AND name=? AND format=? "
                        "AND model=? AND revision=? AND addition=?",
                        (str(v), now, key.vendor, key.name, key.format, o.model, o.revision, o.addition))
        self.bump()
        return existing is not None

    def delete(self, key: SchemaKey) -> bool:
        v = key.version
        cur = self.db.execute(
            "DELETE FROM iglu_schemas WHERE vendor=? AND name=? AND format=? AND model=? AND revision=? AND addition=?",
            (key.vendor, key.name, key.format, v.model, v.revision, v.addition))
        if cur.rowcount:
            self.bump()
        return bool(cur.rowcount)

    # ---- permissions --------------------------------------------------------------------
    def permission(self, apikey: str) -> PermissionRow | None:
        row = self.db.execute("SELECT * FROM iglu_permissions WHERE apikey=?", (apikey,)).fetchone()
        if row is None:
            return None
        return PermissionRow(row[0], row[1], bool(row[2]), row[3], tuple(json.loads(row[4])))

    def add_permission(self, perm: PermissionRow) -> None:
        self.db.execute("INSERT OR REPLACE INTO iglu_permissions VALUES (?,?,?,?,?)",
                        (perm.apikey, perm.vendor, int(perm.wildcard), perm.schema_action, json.dumps(list(perm.key_actions))))

    def delete_permission(self, apikey: str) -> bool:
        return bool(self.db.execute("DELETE FROM iglu_permissions WHERE apikey=?", (apikey,)).rowcount)

    def meta_get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM iglu_meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def meta_set(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO iglu_meta VALUES (?,?)", (key, value))
