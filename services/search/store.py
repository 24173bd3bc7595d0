"""The durable index store: the indexes under ``$MINI_HOME/search/``, one writer thread and reader connections.

All writes go through a prepare thread (parsing documents, in request order), one writer thread that
commits the pending requests together (group commit) and, with ``durability.fsync``, a sync thread that
fdatasyncs the committed WAL while the writer goes on with the next batch; a request is answered only
after its commit (and sync), so an acknowledged document survives ``kill -9`` and is visible to the next search.
A checkpoint thread copies committed WAL pages into the database files meanwhile (SQLite would do it on the
writer, inside COMMIT); the writer restarts a WAL itself only once it outgrew ``search.wal_cap_mb``.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import logging
import os
import queue
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable

from .analysis import Analysis
from .errors import SearchError, bad_request, index_not_found
from .index import Index, _values_at, check_index_name, connect, new_id  # noqa: F401  (re-exported)
from .index_settings import analysis_of, flatten_settings
from .mapping import Mapping

log = logging.getLogger(__name__)


class Store:
    """The set of indexes, the writer thread (group commit) and per-thread reader connections."""

    def __init__(self, root: Path, fsync: bool = True, cache_mb: int = 64, reader_threads: int = 2,
                 write_cache_mb: int = 256, wal_cap_mb: int = 256, segment_docs: int = 20000):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.cache_mb = cache_mb
        self.write_cache_mb = write_cache_mb
        self.wal_cap_mb = wal_cap_mb
        self.segment_docs = max(1, int(segment_docs))
        self.indexes: dict[str, Index] = {}
        self._jobs: "queue.Queue[tuple[Callable[[], Any], concurrent.futures.Future] | None]" = queue.Queue()
        self._prep: "queue.Queue[tuple | None]" = queue.Queue()
        self._syncs: "queue.Queue[tuple[dict[int, int], list] | None]" = queue.Queue()
        self._checkpoints: "queue.Queue[Index | None]" = queue.Queue()
        self._local = threading.local()
        self.readers = concurrent.futures.ThreadPoolExecutor(reader_threads, thread_name_prefix="search-read")
        self.counters = collections.Counter()
        for path in sorted(self.root.glob("*.sqlite")):
            self.indexes[path.stem] = Index(self, path.stem, path)
        self._writer = threading.Thread(target=self._write_loop, name="search-write", daemon=True)
        self._writer.start()
        self._preparer = threading.Thread(target=self._prepare_loop, name="search-prepare", daemon=True)
        self._preparer.start()
        self._syncer = threading.Thread(target=self._sync_loop, name="search-sync", daemon=True)
        self._syncer.start()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="search-checkpoint", daemon=True)
        self._checkpointer.start()

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
            batch = _drain(self._jobs)
            if batch is None:
                self._syncs.put(None)
                self._checkpoints.put(None)
                return
            self._run_batch(batch)

    def _run_batch(self, batch: list) -> None:
        touched: dict[int, Index] = {}
        self._touched = touched
        results = []
        commit_error: BaseException | None = None
        for job, future in batch:
            try:
                results.append((future, True, job()))
            except sqlite3.Error as exc:  # the transaction may hold part of this job: none of the batch is kept
                log.exception("a write failed in SQLite; the batch is rolled back")
                results.append((future, False, exc))
                commit_error = exc
            except BaseException as exc:  # the job's own error is its result; the batch goes on
                results.append((future, False, exc))
        for index in touched.values():
            if commit_error is None:
                try:
                    index.commit()
                    index.conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    log.exception("commit failed on %s", index.name)
                    commit_error = exc
                else:
                    index.generation += 1
                    index.committed(True)
                    self._checkpoints.put(index)
                    continue
            try:
                index.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            index.committed(False)
        if commit_error is None and self.fsync and touched:
            fds: dict[int, int] = {}
            try:
                for key, index in touched.items():
                    fds[key] = index.sync_handle()
            except OSError as exc:
                commit_error = exc
                for fd in fds.values():
                    os.close(fd)
            else:
                self._syncs.put((fds, results))  # answered by the sync thread, after fdatasync
                return
        _answer(results, commit_error)

    def _sync_loop(self) -> None:
        """fdatasync the WAL files the writer committed (one per index for all waiting batches), then answer."""
        while True:
            waiting = _drain(self._syncs)
            if waiting is None:
                return
            latest: dict[int, int] = {}
            for fds, _ in waiting:
                latest.update(fds)  # a later descriptor on the same file covers the earlier commits
            error = None
            for fd in latest.values():
                try:
                    os.fdatasync(fd)
                except OSError as exc:
                    log.exception("fdatasync failed")
                    error = exc
            for fds, results in waiting:
                for fd in fds.values():
                    os.close(fd)
                _answer(results, error)

    def _checkpoint_loop(self) -> None:
        """PASSIVE checkpoints of the indexes the writer committed to, on connections of this thread's own."""
        conns: dict[int, sqlite3.Connection] = {}
        while True:
            waiting = _drain(self._checkpoints)
            if waiting is None:
                break
            for index in {id(i): i for i in waiting}.values():
                if self.indexes.get(index.name) is not index:
                    conn = conns.pop(id(index), None)
                    if conn is not None:
                        conn.close()
                    continue
                conn = conns.get(id(index))
                try:
                    if conn is None:
                        conn = conns[id(index)] = connect(index.path, self.fsync, 2)
                        if not self.fsync:
                            conn.execute("PRAGMA synchronous=OFF")
                    index.wal_frames = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
                    self.counters["checkpoints"] += 1
                except sqlite3.Error:
                    log.exception("checkpoint of %s failed (tried again after its next commit)", index.name)
        for conn in conns.values():
            conn.close()

    def _restart_wal(self, index: Index) -> None:
        """Restart a WAL grown past the cap, between two transactions: the background checkpoints never find
        it idle while writes keep coming (most of its pages are copied already).  Readers still on older
        snapshots are waited for briefly; if they stay, the next checkpoint report brings another attempt."""
        index.wal_frames = 0
        index.conn.execute("PRAGMA busy_timeout=250")
        try:
            busy = index.conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]
        finally:
            index.conn.execute("PRAGMA busy_timeout=60000")
        self.counters["wal_restarts_deferred" if busy else "wal_restarts"] += 1

    def begin(self, index: Index) -> Index:
        """Called by a write job before touching ``index``: joins it to the batch's transaction."""
        if id(index) not in self._touched:
            if index.wal_frames * index.page_size > self.wal_cap_mb * 2**20:
                self._restart_wal(index)
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
        if self.fsync:
            index.sync()
        index.committed(True)
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
            for value in _values_at(index.codec.load(source), path.split(".")):
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
        self._syncer.join(timeout=30)
        self._checkpointer.join(timeout=30)
        self.readers.shutdown(wait=True)
        for index in self.indexes.values():
            index.close()


def _drain(q: queue.Queue) -> list | None:
    """Block for one item, then take every item already queued (group commit); None once the stop
    sentinel comes first.  A sentinel behind items is put back, so the next call stops."""
    first = q.get()
    if first is None:
        return None
    items = [first]
    while True:
        try:
            item = q.get_nowait()
        except queue.Empty:
            return items
        if item is None:
            q.put(None)
            return items
        items.append(item)


def _answer(results: list, commit_error: BaseException | None) -> None:
    for future, ok, value in results:
        if commit_error is not None:
            future.set_exception(SearchError(500, "exception", f"commit failed: {commit_error}"))
        elif ok:
            future.set_result(value)
        else:
            future.set_exception(value)


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
