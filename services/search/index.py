"""One index on disk: a SQLite database with its documents, nested objects and indexed values.

Tables: ``docs`` (rowid, _id, version, seq_no, _source), ``nested`` (one row per nested object, negative
ids), ``vals`` — every indexed value as (field id, value, owner), clustered on (field, value, owner) so
term, range and terms-aggregation queries are index range scans in SQLite; a view over the segment tables
``vals_0``, ``vals_1``…, each holding the values of a stretch of ``search.segment_docs`` documents (by
rowid), so a bulk inserts into a small B-tree however large the index — and ``dv``, each owner's values
as one JSON object (``{"fid": [value or [value, count], ...]}``, see ``doc_values``): the owner-driven
reads (sorting hits, small sets' aggregations, erasing a document) without a second index on ``vals``.
The writer methods run on the store's writer thread only; readers use their own connections.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import json
import os
import re
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterable

import orjson

from .analysis import Analysis
from . import segments
from .codec import SourceCodec
from .doc_values import VALS_OF_DV, doc_values, migrate_owner_index
from .errors import SearchError, bad_request
from .index_settings import analysis_of, expand_settings
from .mapping import Mapping, Unit

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fields(fid INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS docs(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL,
                                seq_no INTEGER NOT NULL, source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nested(nid INTEGER PRIMARY KEY, doc INTEGER NOT NULL, parent INTEGER NOT NULL,
                                  path TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS nested_doc ON nested(doc);
CREATE INDEX IF NOT EXISTS nested_path ON nested(path, parent);
CREATE TABLE IF NOT EXISTS dv(k INTEGER PRIMARY KEY, b TEXT NOT NULL);
"""
_BAD_NAME = re.compile(r'[\\/*?"<>| ,#:]')
VERSION_CREATED = "136407827"  # OpenSearch 2.19.x's index version id


def check_index_name(name: str) -> None:
    problem = None
    if not name:
        problem = "must not be empty"
    elif name != name.lower():
        problem = "must be lowercase"
    elif _BAD_NAME.search(name):
        problem = 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'
    elif name[0] in "_-+":
        problem = "must not start with '_', '-', or '+'"
    elif name in (".", ".."):
        problem = "must not be '.' or '..'"
    elif len(name.encode()) > 255:
        problem = "index name is too long, (> 255)"
    if problem:
        raise SearchError(400, "invalid_index_name_exception", f"Invalid index name [{name}], {problem}",
                          index=name, index_uuid="_na_")


def new_id() -> str:
    """An auto-generated _id: 20 URL-safe base64 characters, time-ordered like OpenSearch's."""
    raw = int(time.time() * 1000).to_bytes(6, "big") + os.urandom(9)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def connect(path: Path, fsync: bool, cache_mb: int) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
    conn.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")
    conn.execute("PRAGMA temp_store=FILE")
    conn.execute("PRAGMA busy_timeout=60000")
    return conn


class Index:
    """One index: its mapping, settings and database.  Writer methods run on the writer thread only."""

    def __init__(self, store: "Store", name: str, path: Path):
        self.store = store
        self.name = name
        self.path = path
        # The writer's commits are not fsync'd by SQLite (that would stall the next batch behind the disk):
        # the store fdatasyncs the WAL on its sync thread, and answers a request only after that.
        self.conn = connect(path, False, store.write_cache_mb)
        self.conn.execute("PRAGMA wal_autocheckpoint=0")  # the store's checkpoint thread does it
        self.page_size = self.conn.execute("PRAGMA page_size").fetchone()[0]
        self.wal_frames = 0  # frames in the WAL at the last checkpoint (the store restarts it when too large)
        self._wal_fd: int | None = None
        self.conn.executescript(SCHEMA)
        migrate_owner_index(self.conn, path)
        segments.layout(self.conn)
        meta = dict(self.conn.execute("SELECT key, value FROM meta"))
        self.segments: list[int] = segments.starts(self.conn)  # first doc rowid of each segment
        self.uuid = meta.get("uuid") or base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22]
        self.created = int(meta.get("created") or time.time() * 1000)
        self.settings: dict[str, Any] = json.loads(meta.get("settings", "{}"))
        self.mapping = Mapping(json.loads(meta.get("mapping", "{}")), self.settings, Analysis(analysis_of(self.settings)))
        self.mapping_json = json.dumps(self.mapping.doc)
        self.codec = SourceCodec(base64.b64decode(meta["source_dict"]) if meta.get("source_dict") else None)
        self.fids: dict[str, int] = {p: f for f, p in self.conn.execute("SELECT fid, path FROM fields")}
        self.paths: dict[int, str] = {f: p for p, f in self.fids.items()}
        # Field ids are handed out in memory (by the prepare thread too) and written with the next commit;
        # a rollback keeps them, to be written with the one after.
        self._fid_lock = threading.Lock()
        self._next_fid = max(self.paths, default=0) + 1
        self._fields_unsaved: list[tuple[int, str]] = []
        self._fields_in_txn: list[tuple[int, str]] = []
        self._meta_saved: dict[str, str] = meta
        self._meta_pending: dict[str, str] = {}
        self._reload_counters()
        self.deleted = 0
        self.generation = 0  # bumps on every commit that changed something (scroll/caches)
        # Writes of the current batch not yet sent to SQLite (sent together by _flush), and what the
        # batch did to documents by _id (so a bulk looks its ids up once, and sees its own pending inserts).
        self._pending: dict[int, list[int]] = {}  # segment → the owners whose vals rows are to write
        self._pending_rows = 0
        self._docs_pending: list[tuple] = []
        self._dv_pending: list[tuple] = []
        self._known: dict[str, tuple | None] = {}

    def _reload_counters(self) -> None:
        self.seq_no = int(dict(self.conn.execute("SELECT key, value FROM meta WHERE key = 'seq_no'")).get("seq_no", -1))
        self.next_rowid = (self.conn.execute("SELECT coalesce(max(rowid), 0) FROM docs").fetchone()[0]) + 1
        self.next_nid = (self.conn.execute("SELECT coalesce(min(nid), 0) FROM nested").fetchone()[0]) - 1
        self.doc_count = self.conn.execute("SELECT count(*) FROM docs").fetchone()[0]

    # ---- metadata ----
    def save_meta(self) -> None:
        """Write the meta rows that changed since the last commit (the mapping is large and rarely changes)."""
        mapping = self.mapping_json  # a snapshot: the prepare thread may be growing the live mapping
        rows = [("uuid", self.uuid), ("created", str(self.created)), ("settings", json.dumps(self.settings)),
                ("mapping", mapping), ("seq_no", str(self.seq_no)), ("segments", json.dumps(self.segments))]
        if self.codec.dictionary is not None:
            rows.append(("source_dict", base64.b64encode(self.codec.dictionary).decode()))
        changed = [(k, v) for k, v in rows if self._meta_saved.get(k) != v]
        if changed:
            self.conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", changed)
            self._meta_pending.update(changed)

    def committed(self, ok: bool) -> None:
        """After the store's COMMIT (``ok``) or ROLLBACK: what is known to be on disk, and the write overlay."""
        if ok:
            self._meta_saved.update(self._meta_pending)
        else:
            with self._fid_lock:
                self._fields_unsaved[:0] = self._fields_in_txn
        self._fields_in_txn = []
        self._meta_pending = {}
        self._known = {}
        self._docs_pending = []
        self._dv_pending = []
        self._pending = {}
        self._pending_rows = 0
        if not ok:  # counters and segments are re-read from what the rollback left
            self.segments = segments.starts(self.conn)
            self._reload_counters()

    def settings_json(self) -> dict[str, Any]:
        flat = {"index.number_of_shards": "1", "index.number_of_replicas": "1", **self.settings,
                "index.provided_name": self.name, "index.creation_date": str(self.created),
                "index.uuid": self.uuid, "index.version.created": VERSION_CREATED}
        return expand_settings(flat)

    def fid(self, path: str) -> int:
        """The field id of ``path``, handed out on first use (any thread; written by the next ``_flush``)."""
        fid = self.fids.get(path)
        if fid is None:
            with self._fid_lock:
                fid = self.fids.get(path)
                if fid is None:
                    fid = self._next_fid
                    self._next_fid += 1
                    self.paths[fid] = path  # before fids: a reader that finds the id finds its path
                    self.fids[path] = fid
                    self._fields_unsaved.append((fid, path))
        return fid

    @property
    def mapping(self) -> Mapping:
        return self._mapping

    @mapping.setter
    def mapping(self, mapping: Mapping) -> None:
        mapping.field_key = self.fid  # parse files values under this index's field ids
        self._mapping = mapping

    def owner_values(self, units: list[Unit]) -> list[tuple[str, int] | None]:
        """Each unit's ``dv`` row and its number of ``vals`` rows (None for a unit without values)."""
        return [doc_values(unit.values) if unit.values else None for unit in units]

    def fids_under(self, path: str) -> list[int]:
        """Field ids at ``path`` or below it (``exists`` on an object)."""
        return [f for p, f in list(self.fids.items()) if p == path or p.startswith(path + ".")]

    # ---- writes (writer thread) ----
    def _flush(self) -> None:
        if self._fields_unsaved:
            with self._fid_lock:
                fields, self._fields_unsaved = self._fields_unsaved, []
            self._fields_in_txn.extend(fields)
            self.conn.executemany("INSERT INTO fields(fid, path) VALUES (?, ?)", fields)
        if self._docs_pending:
            self._insert("INSERT INTO docs(rowid, id, version, seq_no, source) VALUES ", 5, self._docs_pending)
            self._docs_pending = []
        if self._dv_pending:
            self._insert("INSERT INTO dv(k, b) VALUES ", 2, self._dv_pending)
            self._dv_pending = []
        pending = self._pending
        self._pending = {}
        self._pending_rows = 0
        for segment, owners in pending.items():
            # The vals rows are the dv rows just written, unpacked by SQLite in one statement (without the
            # GIL; building them as tuples here and passing them in cost twice as much), in key order so
            # consecutive rows land on the same pages.
            self.conn.execute(f"INSERT INTO vals_{segment}(f, v, k, c) {VALS_OF_DV} ORDER BY 1, 2, 3",
                              (orjson.dumps(owners).decode("ascii"),))

    def segment_of(self, rowid: int) -> int:
        """The segment holding the ``vals`` rows of document ``rowid`` (and of its nested objects)."""
        return bisect.bisect_right(self.segments, rowid) - 1

    def segment_tables(self) -> list[str]:
        return [f"vals_{n}" for n in range(len(self.segments))]

    def _open_segment(self, rowid: int) -> None:
        """Start a segment at document ``rowid``: later documents' rows go to a new, small table, so a bulk
        dirties the pages of that table only (random keys in one large B-tree dirtied about a page a value)."""
        self._flush()
        self.segments.append(rowid)
        self.conn.execute(segments.TABLE.format(n=len(self.segments) - 1))
        segments.define_views(self.conn, len(self.segments))
        self.save_meta_needed = True

    def _insert(self, head: str, width: int, rows: list[tuple]) -> None:
        """Insert ``rows`` with one multi-row statement per 1,000: executemany releases and retakes the GIL
        per row, and each retake can wait out the prepare thread's switch interval (5 ms)."""
        one = "(" + ", ".join("?" * width) + ")"
        for start in range(0, len(rows), 1000):
            part = rows[start:start + 1000]
            self.conn.execute(head + ", ".join([one] * len(part)), list(itertools.chain.from_iterable(part)))

    def _write_units(self, rowid: int, units: list[Unit], owned: list[tuple[str, int] | None] | None) -> None:
        """Queue the dv rows of a document's owners (its root and nested objects; ``owned``: see
        ``owner_values``); ``_flush`` writes them and their vals rows."""
        if owned is None:
            owned = self.owner_values(units)
        segment = self.segment_of(rowid)
        pending = self._pending.get(segment)
        if pending is None:
            pending = self._pending[segment] = []
        owners = [rowid]
        for unit in units[1:]:
            nid = self.next_nid
            self.next_nid -= 1
            parent = owners[unit.parent]
            self.conn.execute("INSERT INTO nested(nid, doc, parent, path) VALUES (?, ?, ?, ?)",
                              (nid, rowid, parent, unit.path))
            owners.append(nid)
        for owner, values in zip(owners, owned):
            if values is not None:
                self._dv_pending.append((owner, values[0]))
                pending.append(owner)
                self._pending_rows += values[1]

    def _erase(self, rowid: int) -> None:
        self._flush()
        owners = [rowid] + [r[0] for r in self.conn.execute("SELECT nid FROM nested WHERE doc = ?", (rowid,))]
        marks = ",".join("?" * len(owners))
        gone = []
        for owner, blob in self.conn.execute(f"SELECT k, b FROM dv WHERE k IN ({marks})", owners):
            for fid, values in orjson.loads(blob).items():
                for value in values:
                    gone.append((int(fid), value[0] if isinstance(value, list) else value, owner))
        self.conn.executemany(f"DELETE FROM vals_{self.segment_of(rowid)} WHERE f = ? AND v = ? AND k = ?", gone)
        self.conn.execute(f"DELETE FROM dv WHERE k IN ({marks})", owners)
        self.conn.execute("DELETE FROM nested WHERE doc = ?", (rowid,))

    def prefetch(self, doc_ids: Iterable[str]) -> None:
        """Look up many _ids in one query each 500 (a bulk's), for ``existing``."""
        known = self._known
        wanted = [i for i in dict.fromkeys(doc_ids) if i not in known]
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            for row in self.conn.execute(f"SELECT id, rowid, version, seq_no, source FROM docs "
                                         f"WHERE id IN ({','.join('?' * len(part))})", part):
                known[row[0]] = row[1:]
            for doc_id in part:
                known.setdefault(doc_id, None)

    def existing(self, doc_id: str) -> tuple[int, int, int, Any] | None:
        """(rowid, version, seq_no, stored source) of a document, as this batch left it."""
        known = self._known
        if doc_id in known:
            return known[doc_id]
        row = self.conn.execute("SELECT rowid, version, seq_no, source FROM docs WHERE id = ?", (doc_id,)).fetchone()
        known[doc_id] = row
        return row

    def put(self, doc_id: str, source: dict[str, Any] | None, op: str = "index", if_seq_no: int | None = None,
            if_primary_term: int | None = None, raw: bytes | None = None, stored: bytes | str | None = None,
            units: list[Unit] | None = None, owned: list | None = None) -> dict[str, Any]:
        """Index one document; returns the item result (OpenSearch's shape without _index).

        ``raw`` is the source's JSON as sent; ``units``, ``owned`` (their dv rows) and ``stored`` (the encoded
        source) come from the prepare stage when it parsed the document.
        """
        old = self.existing(doc_id)
        if op == "create" and old is not None:
            raise SearchError(409, "version_conflict_engine_exception",
                              f"[{doc_id}]: version conflict, document already exists (current version [{old[1]}])",
                              index=self.name, shard="0", index_uuid=self.uuid)
        self._check_cas(doc_id, old, if_seq_no, if_primary_term)
        if units is None:
            owned = None
            units, grew = self.mapping.parse(source, doc_id)
            if grew:
                self.mapping_json = json.dumps(self.mapping.doc)
                self.save_meta_needed = True
        if stored is None:
            if raw is None:
                raw = json.dumps(source, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            self.codec.choose(raw)
            stored = self.codec.encode(raw)
        self.seq_no += 1
        if old is None:
            rowid = self.next_rowid
            self.next_rowid += 1
            if rowid - self.segments[-1] >= max(self.store.segment_docs, self.doc_count // 64) \
                    and len(self.segments) < segments.MAX_SEGMENTS:
                self._open_segment(rowid)
            version = 1
            self._docs_pending.append((rowid, doc_id, version, self.seq_no, stored))
            self.doc_count += 1
        else:
            rowid, version = old[0], old[1] + 1
            self._erase(rowid)
            self.conn.execute("UPDATE docs SET version = ?, seq_no = ?, source = ? WHERE rowid = ?",
                              (version, self.seq_no, stored, rowid))
            self.deleted += 1
        self._known[doc_id] = (rowid, version, self.seq_no, stored)
        self._write_units(rowid, units, owned)
        if self._pending_rows > 50000:
            self._flush()
        self.dirty = True
        return {"_id": doc_id, "_version": version, "result": "created" if old is None else "updated",
                "_seq_no": self.seq_no, "_primary_term": 1, "status": 201 if old is None else 200}

    def _check_cas(self, doc_id: str, old: tuple | None, if_seq_no: int | None, if_primary_term: int | None) -> None:
        if if_seq_no is None and if_primary_term is None:
            return
        current_seq = old[2] if old else -2
        if old is None or if_seq_no != current_seq or (if_primary_term is not None and if_primary_term != 1):
            current = f"current document has seqNo [{current_seq}] and primary term [1]" if old else "document does not exist"
            raise SearchError(409, "version_conflict_engine_exception",
                              f"[{doc_id}]: version conflict, required seqNo [{if_seq_no}], primary term "
                              f"[{if_primary_term}]. {current}", index=self.name, shard="0", index_uuid=self.uuid)

    def remove(self, doc_id: str, if_seq_no: int | None = None, if_primary_term: int | None = None) -> dict[str, Any]:
        old = self.existing(doc_id)
        self._check_cas(doc_id, old, if_seq_no, if_primary_term)
        self.seq_no += 1
        self.dirty = True
        if old is None:
            return {"_id": doc_id, "_version": 1, "result": "not_found", "_seq_no": self.seq_no,
                    "_primary_term": 1, "status": 404}
        self._erase(old[0])
        self.conn.execute("DELETE FROM docs WHERE rowid = ?", (old[0],))
        self._known[doc_id] = None
        self.doc_count -= 1
        self.deleted += 1
        return {"_id": doc_id, "_version": old[1] + 1, "result": "deleted", "_seq_no": self.seq_no,
                "_primary_term": 1, "status": 200}

    def update(self, doc_id: str, body: dict[str, Any], if_seq_no: int | None = None,
               if_primary_term: int | None = None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("Validation Failed: 1: script or doc is missing;", type="action_request_validation_exception")
        if "script" in body:
            raise bad_request("update with [script] is not supported by the Mini search node")
        unknown = set(body) - {"doc", "upsert", "doc_as_upsert", "detect_noop", "_source", "scripted_upsert"}
        if unknown:
            raise SearchError(400, "x_content_parse_exception", f"[1:2] [UpdateRequest] unknown field [{sorted(unknown)[0]}]")
        if "doc" not in body:
            raise SearchError(400, "action_request_validation_exception", "Validation Failed: 1: script or doc is missing;")
        old = self.existing(doc_id)
        self._check_cas(doc_id, old, if_seq_no, if_primary_term)
        if old is None:
            if body.get("doc_as_upsert"):
                return self.put(doc_id, body["doc"])
            if "upsert" in body:
                return self.put(doc_id, body["upsert"])
            raise SearchError(404, "document_missing_exception", f"[{doc_id}]: document missing",
                              index=self.name, shard="0", index_uuid=self.uuid)
        source = self.codec.load(old[3])
        merged = _merge(source, body["doc"])
        if body.get("detect_noop", True) and merged == source:
            return {"_id": doc_id, "_version": old[1], "result": "noop", "_seq_no": old[2], "_primary_term": 1,
                    "status": 200, "_shards": {"total": 0, "successful": 0, "failed": 0}}
        result = self.put(doc_id, merged)
        return result

    def commit(self) -> None:
        self._flush()
        if getattr(self, "save_meta_needed", False) or self.dirty:
            self.save_meta()
            self.save_meta_needed = False

    # ---- reads (any thread, own connection) ----
    def reader(self) -> sqlite3.Connection:
        return self.store.reader(self)

    def get(self, conn: sqlite3.Connection, doc_id: str) -> tuple[int, int, int, str] | None:
        return conn.execute("SELECT rowid, version, seq_no, source FROM docs WHERE id = ?", (doc_id,)).fetchone()

    def size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.path.getsize(str(self.path) + suffix)
            except OSError:
                pass
        return total

    def sync_handle(self) -> int:
        """A new descriptor for ``fdatasync`` of what the last COMMIT wrote: on the WAL file (the database when
        there is none yet); the caller closes it, so it stays valid if the index is deleted meanwhile."""
        if self._wal_fd is None:
            try:
                self._wal_fd = os.open(str(self.path) + "-wal", os.O_RDONLY)
            except FileNotFoundError:
                return os.open(str(self.path), os.O_RDONLY)
        return os.dup(self._wal_fd)

    def sync(self) -> None:
        fd = self.sync_handle()
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        if self._wal_fd is not None:
            os.close(self._wal_fd)
            self._wal_fd = None
        try:
            self.conn.close()
        except sqlite3.Error:
            pass


def _values_at(obj: Any, parts: list[str]) -> Iterable[Any]:
    if isinstance(obj, list):
        for item in obj:
            yield from _values_at(item, parts)
        return
    if not parts:
        if obj is not None:
            yield obj
        return
    if isinstance(obj, dict):
        for n in range(len(parts), 0, -1):  # keys may themselves contain dots
            key = ".".join(parts[:n])
            if key in obj:
                yield from _values_at(obj[key], parts[n:])


def _merge(old: Any, new: Any) -> Any:
    """Partial update: objects merge recursively, anything else is replaced (OpenSearch's doc merge)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = dict(old)
        for key, value in new.items():
            out[key] = _merge(old.get(key), value) if key in old else value
        return out
    return new
