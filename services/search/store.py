"""The durable index store: one SQLite database per index under ``$MINI_HOME/search/``.

Tables: ``docs`` (rowid, _id, version, seq_no, _source JSON), ``nested`` (one row per nested object,
negative ids) and ``vals`` — every indexed value as (field id, value, owner), clustered on
(field, value, owner) so term, range and terms-aggregation queries are index range scans in SQLite.
All writes go through one writer thread that commits the pending requests together (group commit,
fsync'd when ``durability.fsync``); a request is answered only after its commit, so an acknowledged
document survives ``kill -9`` and is visible to the next search.
"""

from __future__ import annotations

import base64
import collections
import concurrent.futures
import json
import logging
import os
import queue
import re
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

from .analysis import Analysis
from .errors import SearchError, bad_request, index_not_found
from .mapping import Mapping, Unit, analysis_of, expand_settings, flatten_settings

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fields(fid INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS docs(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL,
                                seq_no INTEGER NOT NULL, source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nested(nid INTEGER PRIMARY KEY, doc INTEGER NOT NULL, parent INTEGER NOT NULL,
                                  path TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS nested_doc ON nested(doc);
CREATE INDEX IF NOT EXISTS nested_path ON nested(path, parent);
CREATE TABLE IF NOT EXISTS vals(f INTEGER NOT NULL, v NOT NULL, k INTEGER NOT NULL, c INTEGER NOT NULL DEFAULT 1,
                                PRIMARY KEY(f, v, k)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS vals_k ON vals(k, f);
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
        self.conn = connect(path, store.fsync, store.cache_mb)
        self.conn.executescript(SCHEMA)
        meta = dict(self.conn.execute("SELECT key, value FROM meta"))
        self.uuid = meta.get("uuid") or base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22]
        self.created = int(meta.get("created") or time.time() * 1000)
        self.settings: dict[str, Any] = json.loads(meta.get("settings", "{}"))
        self.mapping = Mapping(json.loads(meta.get("mapping", "{}")), self.settings, Analysis(analysis_of(self.settings)))
        self.mapping_json = json.dumps(self.mapping.doc)
        self.seq_no = int(meta.get("seq_no", -1))
        self.fids: dict[str, int] = {p: f for f, p in self.conn.execute("SELECT fid, path FROM fields")}
        self.paths: dict[int, str] = {f: p for p, f in self.fids.items()}
        self.next_rowid = (self.conn.execute("SELECT coalesce(max(rowid), 0) FROM docs").fetchone()[0]) + 1
        self.next_nid = (self.conn.execute("SELECT coalesce(min(nid), 0) FROM nested").fetchone()[0]) - 1
        self.doc_count = self.conn.execute("SELECT count(*) FROM docs").fetchone()[0]
        self.deleted = 0
        self.generation = 0  # bumps on every commit that changed something (scroll/caches)
        self._pending: list[tuple] = []

    # ---- metadata ----
    def save_meta(self) -> None:
        mapping = self.mapping_json  # a snapshot: the prepare thread may be growing the live mapping
        rows = [("uuid", self.uuid), ("created", str(self.created)), ("settings", json.dumps(self.settings)),
                ("mapping", mapping), ("seq_no", str(self.seq_no))]
        self.conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", rows)

    def settings_json(self) -> dict[str, Any]:
        flat = {"index.number_of_shards": "1", "index.number_of_replicas": "1", **self.settings,
                "index.provided_name": self.name, "index.creation_date": str(self.created),
                "index.uuid": self.uuid, "index.version.created": VERSION_CREATED}
        return expand_settings(flat)

    def fid(self, path: str) -> int:
        fid = self.fids.get(path)
        if fid is None:
            fid = self.conn.execute("INSERT INTO fields(path) VALUES (?)", (path,)).lastrowid
            self.fids[path] = fid
            self.paths[fid] = path
        return fid

    def fids_under(self, path: str) -> list[int]:
        """Field ids at ``path`` or below it (``exists`` on an object)."""
        return [f for p, f in list(self.fids.items()) if p == path or p.startswith(path + ".")]

    # ---- writes (writer thread) ----
    def _flush(self) -> None:
        if self._pending:
            self.conn.executemany("INSERT INTO vals(f, v, k, c) VALUES (?, ?, ?, ?)", self._pending)
            self._pending = []

    def _write_units(self, rowid: int, units: list[Unit]) -> None:
        owners = [rowid]
        for unit in units[1:]:
            nid = self.next_nid
            self.next_nid -= 1
            parent = owners[unit.parent]
            self.conn.execute("INSERT INTO nested(nid, doc, parent, path) VALUES (?, ?, ?, ?)",
                              (nid, rowid, parent, unit.path))
            owners.append(nid)
        get = self.fids.get
        for owner, unit in zip(owners, units):
            counts = collections.Counter([(get(p) or self.fid(p), v) for p, v in unit.values])
            self._pending.extend([(f, v, owner, c) for (f, v), c in counts.items()])

    def _erase(self, rowid: int) -> None:
        self._flush()
        nids = [r[0] for r in self.conn.execute("SELECT nid FROM nested WHERE doc = ?", (rowid,))]
        self.conn.execute("DELETE FROM vals WHERE k = ?", (rowid,))
        for nid in nids:
            self.conn.execute("DELETE FROM vals WHERE k = ?", (nid,))
        self.conn.execute("DELETE FROM nested WHERE doc = ?", (rowid,))

    def existing(self, doc_id: str) -> tuple[int, int, int, str] | None:
        return self.conn.execute("SELECT rowid, version, seq_no, source FROM docs WHERE id = ?", (doc_id,)).fetchone()

    def put(self, doc_id: str, source: dict[str, Any] | None, op: str = "index", if_seq_no: int | None = None,
            if_primary_term: int | None = None, text: str | None = None,
            units: list[Unit] | None = None) -> dict[str, Any]:
        """Index one document; returns the item result (OpenSearch's shape without _index).

        ``units`` are the document's parsed values when the prepare stage already parsed it.
        """
        old = self.existing(doc_id)
        if op == "create" and old is not None:
            raise SearchError(409, "version_conflict_engine_exception",
                              f"[{doc_id}]: version conflict, document already exists (current version [{old[1]}])",
                              index=self.name, shard="0", index_uuid=self.uuid)
        self._check_cas(doc_id, old, if_seq_no, if_primary_term)
        if units is None:
            units, grew = self.mapping.parse(source, doc_id)
            if grew:
                self.mapping_json = json.dumps(self.mapping.doc)
                self.save_meta_needed = True
        if text is None:
            text = json.dumps(source, separators=(",", ":"), ensure_ascii=False)
        self.seq_no += 1
        if old is None:
            rowid = self.next_rowid
            self.next_rowid += 1
            version = 1
            self.conn.execute("INSERT INTO docs(rowid, id, version, seq_no, source) VALUES (?, ?, ?, ?, ?)",
                              (rowid, doc_id, version, self.seq_no, text))
            self.doc_count += 1
        else:
            rowid, version = old[0], old[1] + 1
            self._erase(rowid)
            self.conn.execute("UPDATE docs SET version = ?, seq_no = ?, source = ? WHERE rowid = ?",
                              (version, self.seq_no, text, rowid))
            self.deleted += 1
        self._write_units(rowid, units)
        if len(self._pending) > 20000:
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
        source = json.loads(old[3])
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

    def close(self) -> None:
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


class Store:
    """The set of indexes, the writer thread (group commit) and per-thread reader connections."""

    def __init__(self, root: Path, fsync: bool = True, cache_mb: int = 64, reader_threads: int = 2):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.cache_mb = cache_mb
        self.indexes: dict[str, Index] = {}
        self._jobs: "queue.Queue[tuple[Callable[[], Any], concurrent.futures.Future] | None]" = queue.Queue()
        self._prep: "queue.Queue[tuple | None]" = queue.Queue()
        self._local = threading.local()
        self.readers = concurrent.futures.ThreadPoolExecutor(reader_threads, thread_name_prefix="search-read")
        self.counters = collections.Counter()
        for path in sorted(self.root.glob("*.sqlite")):
            self.indexes[path.stem] = Index(self, path.stem, path)
        self._writer = threading.Thread(target=self._write_loop, name="search-write", daemon=True)
        self._writer.start()
        self._preparer = threading.Thread(target=self._prepare_loop, name="search-prepare", daemon=True)
        self._preparer.start()

    # ---- writer thread with group commit ----
    def write(self, job: Callable[[], Any]) -> concurrent.futures.Future:
        """Run ``job`` on the writer thread after every earlier request; its future resolves after the commit.

        Such jobs are barriers: no later request is prepared before this one has committed (they may
        change mappings or create and delete indexes).
        """
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._prep.put((None, job, future, True))
        return future

    def pipeline(self, prepare: Callable[[], Any], apply: Callable[[Any], Any],
                 barrier: bool = False) -> concurrent.futures.Future:
        """``prepare()`` on the prepare thread (in request order), then ``apply(result)`` on the writer thread.

        Parsing documents (pure Python) overlaps with the previous request's SQLite work, which runs
        without the GIL.
        """
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._prep.put((prepare, apply, future, barrier))
        return future

    def _prepare_loop(self) -> None:
        while True:
            item = self._prep.get()
            if item is None:
                self._jobs.put(None)
                return
            prepare, apply, future, barrier = item
            try:
                value = prepare() if prepare is not None else None
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
                future.set_exception(exc)
                continue
            job = apply if prepare is None else (lambda apply=apply, value=value: apply(value))
            if not barrier:
                self._jobs.put((job, future))
                continue
            # a barrier may change mappings or indexes: nothing else is prepared until it committed
            done: concurrent.futures.Future = concurrent.futures.Future()
            self._jobs.put((job, done))
            try:
                future.set_result(done.result())
            except BaseException as exc:  # noqa: BLE001
                future.set_exception(exc)

    def _write_loop(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            while True:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._jobs.put(None)
                    break
                batch.append(item)
            self._run_batch(batch)

    def _run_batch(self, batch: list) -> None:
        touched: dict[int, Index] = {}
        self._touched = touched
        results = []
        for job, future in batch:
            try:
                results.append((future, True, job()))
            except BaseException as exc:  # the job's own error is its result; the batch goes on
                results.append((future, False, exc))
        commit_error = None
        for index in touched.values():
            try:
                index.commit()
                index.conn.execute("COMMIT")
                index.generation += 1
            except sqlite3.Error as exc:
                log.exception("commit failed on %s", index.name)
                commit_error = exc
                try:
                    index.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
        for future, ok, value in results:
            if commit_error is not None:
                future.set_exception(SearchError(500, "exception", f"commit failed: {commit_error}"))
            elif ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def begin(self, index: Index) -> Index:
        """Called by a write job before touching ``index``: joins it to the batch's transaction."""
        if id(index) not in self._touched:
            index.conn.execute("BEGIN IMMEDIATE")
            index.dirty = False
            self._touched[id(index)] = index
        return index

    # ---- indexes (these run as write jobs) ----
    def get(self, name: str) -> Index:
        try:
            return self.indexes[name]
        except KeyError:
            raise index_not_found(name) from None

    def create(self, name: str, body: dict[str, Any] | None, auto: bool = False) -> Index:
        check_index_name(name)
        if name in self.indexes:
            index = self.indexes[name]
            raise SearchError(400, "resource_already_exists_exception",
                              f"index [{name}/{index.uuid}] already exists", index_uuid=index.uuid, index=name)
        body = body or {}
        if not isinstance(body, dict):
            raise SearchError(400, "parse_exception", "request body is required")
        unknown = set(body) - {"settings", "mappings", "aliases"}
        if unknown:
            raise SearchError(400, "parse_exception", f"unknown key [{sorted(unknown)[0]}] for create index")
        if body.get("aliases"):
            raise bad_request("aliases are not supported by the Mini search node")
        settings = flatten_settings(body.get("settings") or {})
        settings.setdefault("index.number_of_shards", "1")
        settings.setdefault("index.number_of_replicas", "1")
        _check_settings(settings)
        analysis = Analysis(analysis_of(settings))
        mapping = Mapping(body.get("mappings") or {}, settings, analysis)
        mapping.check_limit()
        path = self.root / f"{name}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        index = Index(self, name, path)
        index.settings = settings
        index.mapping = mapping
        index.mapping_json = json.dumps(mapping.doc)
        index.conn.execute("BEGIN IMMEDIATE")
        index.save_meta()
        index.conn.execute("COMMIT")
        self.indexes[name] = index
        return index

    def delete(self, name: str) -> None:
        index = self.get(name)
        del self.indexes[name]
        index.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(index.path) + suffix).unlink(missing_ok=True)

    def put_settings(self, index: Index, body: dict[str, Any]) -> None:
        flat = flatten_settings(body.get("settings", body) if isinstance(body, dict) else {})
        static = [k for k in flat if k in ("index.number_of_shards",) or k.startswith("index.analysis.")]
        if static:
            raise bad_request(f"Can't update non dynamic settings [[{static[0]}]] for open indices [[{index.name}/{index.uuid}]]")
        merged = {**index.settings, **flat}
        _check_settings(merged)
        self.begin(index)
        index.settings = {k: v for k, v in merged.items() if v is not None}
        index.mapping = Mapping(index.mapping.doc, index.settings, index.mapping.analysis)
        index.mapping_json = json.dumps(index.mapping.doc)
        index.save_meta_needed = True

    # ---- readers ----
    def reader(self, index: Index) -> sqlite3.Connection:
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        conn = conns.get(index.uuid)
        if conn is None:
            live = {i.uuid for i in self.indexes.values()}
            for key in [k for k in conns if k not in live]:
                conns.pop(key).close()
            conn = connect(index.path, self.fsync, self.cache_mb)
            self._register(conn)
            conns[index.uuid] = conn
        return conn

    def _register(self, conn: sqlite3.Connection) -> None:
        """SQL functions the compiled queries call: phrase confirmation, calendar rounding."""
        by_uuid = lambda u: next((i for i in self.indexes.values() if i.uuid == u), None)  # noqa: E731

        def phrase(index_uuid, source, path, analyzer, tokens_json):
            index = by_uuid(index_uuid)
            if index is None:
                return 0
            field = index.mapping.field(path)
            analyze = index.mapping.analysis.get(analyzer or (field.spec.get("analyzer") if field else None))
            wanted = json.loads(tokens_json)
            for value in _values_at(json.loads(source), path.split(".")):
                tokens = analyze(value if isinstance(value, str) else json.dumps(value))
                n = len(wanted)
                if any(tokens[i:i + n] == wanted for i in range(len(tokens) - n + 1)):
                    return 1
            return 0

        def calendar_round(value, unit, tz):
            from . import dates
            return dates.floor_unit(int(value), unit, dates.zone(tz))

        conn.create_function("mini_phrase", 5, phrase, deterministic=True)
        conn.create_function("mini_round", 3, calendar_round, deterministic=True)
        conn.create_function("mini_lower", 1, lambda v: v.lower() if isinstance(v, str) else v, deterministic=True)

    def resolve(self, expr: str | None, allow_missing: bool = False) -> list[Index]:
        """Index names, comma lists, ``*`` wildcards and ``_all`` → indexes (404 for a missing concrete name)."""
        if not expr or expr in ("_all", "*"):
            return [self.indexes[n] for n in sorted(self.indexes)]
        found: list[Index] = []
        for part in expr.split(","):
            part = part.strip()
            if part.startswith("-"):
                rx = re.compile("^" + re.escape(part[1:]).replace(r"\*", ".*") + "$")
                found = [i for i in found if not rx.match(i.name)]
            elif "*" in part:
                rx = re.compile("^" + re.escape(part).replace(r"\*", ".*") + "$")
                found.extend(self.indexes[n] for n in sorted(self.indexes) if rx.match(n) and self.indexes[n] not in found)
            elif part in self.indexes:
                if self.indexes[part] not in found:
                    found.append(self.indexes[part])
            elif not allow_missing:
                raise index_not_found(part)
        return found

    def close(self) -> None:
        self._prep.put(None)
        self._preparer.join(timeout=30)
        self._writer.join(timeout=30)
        self.readers.shutdown(wait=True)
        for index in self.indexes.values():
            index.close()


def _check_settings(flat: dict[str, Any]) -> None:
    for key in ("index.number_of_shards", "index.number_of_replicas", "index.mapping.total_fields.limit",
                "index.max_result_window"):
        if key in flat and flat[key] is not None:
            try:
                int(flat[key])
            except (TypeError, ValueError):
                raise bad_request(f"Failed to parse value [{flat[key]}] for setting [{key}]") from None
    if "index.mapping.total_fields.limit" in flat and flat["index.mapping.total_fields.limit"] is not None \
            and int(flat["index.mapping.total_fields.limit"]) < 1:
        raise bad_request("Failed to parse value [0] for setting [index.mapping.total_fields.limit] must be >= 1")
