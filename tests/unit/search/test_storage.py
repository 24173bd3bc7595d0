"""The on-disk layout in-process (Store, no HTTP): compressed ``_source``, the ``dv`` doc values that erase,
sort and small-set aggregations read, the bulk's write overlay, and the migration of an earlier data dir."""

import json
import sqlite3

import pytest

from mini_kernel.testing.processes import wait_for
from services.search import documents
from services.search.errors import SearchError
from services.search.search import Searcher
from services.search.store import Store

BIG = {"note": "x" * 400, "tag": "a", "n": 1}


def bulk(store, lines):
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    items = documents.parse_bulk(body, None)
    return store.pipeline(lambda: documents.prepare_bulk(store, items),
                          lambda p: documents.run_bulk(store, p, False)).result()


def search(index, body):
    searcher = Searcher(index, index.reader(), body, {})
    try:
        response, _ = searcher.run()
    finally:
        searcher.close()
    return response


def hits(index, query, **body):
    return sorted(h["_id"] for h in search(index, {"query": query, "size": 100, **body})["hits"]["hits"])


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path, fsync=False)
    store.write(lambda: store.create("t", {"mappings": {"properties": {
        "tag": {"type": "keyword"}, "n": {"type": "long"},
        "items": {"type": "nested", "properties": {"k": {"type": "keyword"}}}}}})).result()
    yield store
    store.close()


def test_sources_are_compressed_once_an_index_has_a_dictionary_and_read_back_exactly(store):
    small = {"tag": "s", "n": 2}
    bulk(store, [{"index": {"_index": "t", "_id": "small"}}, small,
                 {"index": {"_index": "t", "_id": "big"}}, BIG,
                 {"index": {"_index": "t", "_id": "big2"}}, dict(BIG, n=3, note="y" * 500)])
    index = store.indexes["t"]
    stored = dict(index.conn.execute("SELECT id, source FROM docs"))
    assert isinstance(stored["small"], str)  # too short to compress: plain JSON text
    assert isinstance(stored["big2"], bytes) and len(stored["big2"]) < 200
    assert index.get(index.reader(), "big2")[3] == stored["big2"]
    assert index.codec.load(stored["big2"]) == dict(BIG, n=3, note="y" * 500)
    found = {h["_id"]: h["_source"] for h in search(index, {"size": 10})["hits"]["hits"]}
    assert found == {"small": small, "big": BIG, "big2": dict(BIG, n=3, note="y" * 500)}


def test_the_dictionary_survives_a_restart(tmp_path):
    store = Store(tmp_path, fsync=False)
    bulk(store, [{"index": {"_index": "auto", "_id": "1"}}, BIG, {"index": {"_index": "auto", "_id": "2"}}, BIG])
    store.close()
    store = Store(tmp_path, fsync=False)
    try:
        index = store.indexes["auto"]
        assert [h["_source"] for h in search(index, {"size": 10})["hits"]["hits"]] == [BIG, BIG]
    finally:
        store.close()


def test_an_update_and_a_delete_erase_every_value_of_the_old_version(store):
    bulk(store, [{"index": {"_index": "t", "_id": "1"}}, {"tag": ["a", "a", "b"], "n": 5, "items": [{"k": "p"}, {"k": "q"}]},
                 {"index": {"_index": "t", "_id": "2"}}, {"tag": "a", "n": 6}])
    index = store.indexes["t"]
    assert hits(index, {"term": {"tag": "b"}}) == ["1"]
    bulk(store, [{"index": {"_index": "t", "_id": "1"}}, {"tag": "c", "n": 7, "items": [{"k": "r"}]}])
    assert hits(index, {"term": {"tag": "b"}}) == []
    assert hits(index, {"term": {"tag": "a"}}) == ["2"]
    assert hits(index, {"term": {"n": 5}}) == []
    assert hits(index, {"nested": {"path": "items", "query": {"term": {"items.k": "p"}}}}) == []
    assert hits(index, {"nested": {"path": "items", "query": {"term": {"items.k": "r"}}}}) == ["1"]
    bulk(store, [{"delete": {"_index": "t", "_id": "1"}}])
    conn = index.conn
    assert conn.execute("SELECT count(*) FROM vals WHERE k <> (SELECT rowid FROM docs WHERE id = '2')").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM dv").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM nested").fetchone() == (0,)


def test_a_bulk_sees_its_own_earlier_items(store):
    result = bulk(store, [{"create": {"_index": "t", "_id": "1"}}, {"tag": "a"},
                          {"create": {"_index": "t", "_id": "1"}}, {"tag": "b"},
                          {"index": {"_index": "t", "_id": "1"}}, {"tag": "c"},
                          {"delete": {"_index": "t", "_id": "1"}},
                          {"index": {"_index": "t", "_id": "1"}}, {"tag": "d"}])
    statuses = [next(iter(i.values()))["status"] for i in result["items"]]
    assert statuses == [201, 409, 200, 200, 201]
    assert [next(iter(i.values())).get("_version") for i in result["items"]] == [1, None, 2, 3, 1]
    index = store.indexes["t"]
    assert hits(index, {"match_all": {}}) == ["1"]
    assert hits(index, {"term": {"tag": "d"}}) == ["1"]
    assert hits(index, {"terms": {"tag": ["a", "b", "c"]}}) == []


def test_owner_driven_reads_sort_and_aggregate_from_doc_values(store):
    lines = []
    for i in range(40):
        lines += [{"index": {"_index": "t", "_id": str(i)}}, {"tag": ["x", "x", "y"] if i % 2 else "z", "n": i}]
    bulk(store, lines)
    index = store.indexes["t"]
    # two sort keys take the per-hit (doc values) path
    got = search(index, {"size": 5, "query": {"range": {"n": {"lt": 10}}}, "sort": [{"tag": "desc"}, {"n": "desc"}]})
    assert [h["_id"] for h in got["hits"]["hits"]] == ["8", "6", "4", "2", "0"]
    # small buckets aggregate from their members' doc values; repeated values count once per document
    got = search(index, {"size": 0, "aggs": {"by": {"terms": {"field": "n", "size": 3, "order": {"_key": "asc"}},
                                                    "aggs": {"t": {"terms": {"field": "tag"}}, "s": {"sum": {"field": "n"}}}}}})
    buckets = [(b["key"], {t["key"]: t["doc_count"] for t in b["t"]["buckets"]}, b["s"]["value"])
               for b in got["aggregations"]["by"]["buckets"]]
    assert buckets == [(0, {"z": 1}, 0.0), (1, {"x": 1, "y": 1}, 1.0), (2, {"z": 1}, 2.0)]
    whole = search(index, {"size": 0, "aggs": {"t": {"terms": {"field": "tag"}}}})
    assert {b["key"]: b["doc_count"] for b in whole["aggregations"]["t"]["buckets"]} == {"x": 20, "y": 20, "z": 20}


OLD_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE fields(fid INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
CREATE TABLE docs(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL,
                  seq_no INTEGER NOT NULL, source TEXT NOT NULL);
CREATE TABLE nested(nid INTEGER PRIMARY KEY, doc INTEGER NOT NULL, parent INTEGER NOT NULL, path TEXT NOT NULL);
CREATE INDEX nested_doc ON nested(doc);
CREATE INDEX nested_path ON nested(path, parent);
CREATE TABLE vals(f INTEGER NOT NULL, v NOT NULL, k INTEGER NOT NULL, c INTEGER NOT NULL DEFAULT 1,
                  PRIMARY KEY(f, v, k)) WITHOUT ROWID;
CREATE INDEX vals_k ON vals(k, f, c);
"""


def test_a_data_dir_of_the_previous_layout_is_migrated(tmp_path):
    conn = sqlite3.connect(tmp_path / "old.sqlite")
    conn.executescript(OLD_SCHEMA)
    mapping = {"properties": {"tag": {"type": "keyword"}, "n": {"type": "long"}}}
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [("uuid", "u" * 22), ("created", "1"), ("settings", "{}"),
                                                       ("mapping", json.dumps(mapping)), ("seq_no", "1")])
    conn.executemany("INSERT INTO fields VALUES (?, ?)", [(1, "tag"), (2, "n")])
    conn.executemany("INSERT INTO docs VALUES (?, ?, 1, ?, ?)", [(1, "a", 0, '{"tag":["p","p"],"n":1}'),
                                                                (2, "b", 1, '{"tag":"q","n":2}')])
    conn.executemany("INSERT INTO vals VALUES (?, ?, ?, ?)", [(1, "p", 1, 2), (2, 1, 1, 1), (1, "q", 2, 1), (2, 2, 2, 1)])
    conn.commit()
    conn.close()
    store = Store(tmp_path, fsync=False)
    try:
        index = store.indexes["old"]
        assert index.conn.execute("SELECT name FROM sqlite_master WHERE name = 'vals_k'").fetchone() is None
        kinds = dict(index.conn.execute("SELECT name, type FROM sqlite_master WHERE name IN ('vals', 'vals_0')"))
        assert kinds == {"vals": "view", "vals_0": "table"}  # the one table became segment 0
        assert index.conn.execute("SELECT count(*) FROM dv").fetchone() == (2,)
        assert hits(index, {"term": {"tag": "p"}}) == ["a"]
        assert [h["_id"] for h in search(index, {"sort": [{"tag": "desc"}, {"n": "asc"}]})["hits"]["hits"]] == ["b", "a"]
        bulk(store, [{"index": {"_index": "old", "_id": "a"}}, {"tag": "r", "n": 3}])
        assert hits(index, {"term": {"tag": "p"}}) == []
        assert hits(index, {"term": {"n": 1}}) == []
        assert hits(index, {"term": {"tag": "r"}}) == ["a"]
        assert index.get(index.reader(), "b")[3] == '{"tag":"q","n":2}'
    finally:
        store.close()


def test_a_bulk_larger_than_one_insert_statement_is_stored_whole_and_synced(tmp_path):
    # 2 345 documents: more rows than one multi-row INSERT takes (1 000), answered after the sync thread's fdatasync
    store = Store(tmp_path, fsync=True)
    try:
        lines = []
        for i in range(2345):
            lines += [{"index": {"_index": "many", "_id": str(i)}}, {"tag": f"t{i % 7}", "n": i}]
        out = bulk(store, lines)
        assert not out["errors"] and len(out["items"]) == 2345
        index = store.indexes["many"]
        assert index.conn.execute("SELECT count(*) FROM docs").fetchone()[0] == 2345
        assert index.conn.execute("SELECT count(*) FROM dv").fetchone()[0] == 2345
        assert hits(index, {"term": {"n": 2344}}) == ["2344"]
        assert len(hits(index, {"term": {"tag": "t3"}}, size=1000)) == len(range(3, 2345, 7))
    finally:
        store.close()
    store = Store(tmp_path, fsync=True)
    try:
        assert store.indexes["many"].get(store.indexes["many"].reader(), "1000")[0] == 1001
    finally:
        store.close()


def test_checkpoints_run_beside_the_writer_and_a_wal_past_its_cap_is_restarted(tmp_path):
    # SQLite's automatic checkpoint is off on the writer: the checkpoint thread copies committed pages.  A
    # reader holding an old snapshot keeps them in the WAL; once it is gone the writer restarts the WAL
    # (past search.wal_cap_mb, 1 MiB here) between two transactions
    store = Store(tmp_path, fsync=True, wal_cap_mb=1)

    def load(start, n):
        lines = []
        for i in range(start, start + n):
            lines += [{"index": {"_index": "w", "_id": str(i)}}, {"tag": f"t{i}", "note": f"{i}" * 100, "n": i}]
        assert not bulk(store, lines)["errors"]
    try:
        load(0, 10)
        index = store.indexes["w"]
        assert index.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        reader = index.reader()
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM docs").fetchone()[0] == 10
        for start in range(10, 3010, 1000):
            load(start, 1000)
        assert reader.execute("SELECT count(*) FROM docs").fetchone()[0] == 10  # its snapshot
        reader.execute("COMMIT")
        wait_for(lambda: index.wal_frames * index.page_size > 2**20, timeout=30)
        load(3010, 10)
        assert store.counters["checkpoints"] >= 1 and store.counters["wal_restarts"] >= 1
        assert len(hits(index, {"range": {"n": {"gte": 3000}}})) == 20
    finally:
        store.close()
    store = Store(tmp_path, fsync=True)
    try:
        index = store.indexes["w"]
        assert index.conn.execute("SELECT count(*) FROM docs").fetchone()[0] == 3020
        assert hits(index, {"term": {"tag": "t2999"}}) == ["2999"]
    finally:
        store.close()


def test_documents_past_segment_docs_go_to_a_new_segment_and_queries_read_them_all(tmp_path):
    store = Store(tmp_path, fsync=False, segment_docs=10)

    def load(ids, tag=lambda i: f"t{i % 3}"):
        lines = []
        for i in ids:
            lines += [{"index": {"_index": "s", "_id": str(i)}}, {"tag": tag(i), "n": i}]
        assert not bulk(store, lines)["errors"]
    try:
        for start in range(0, 35, 7):  # segments open inside bulks too
            load(range(start, start + 7))
        index = store.indexes["s"]
        assert index.segments == [1, 11, 21, 31]
        assert [index.conn.execute(f"SELECT count(DISTINCT k) FROM {t}").fetchone()[0]
                for t in index.segment_tables()] == [10, 10, 10, 5]
        load([3], tag=lambda i: "moved")  # an update rewrites the rows in the document's own segment
        bulk(store, [{"delete": {"_index": "s", "_id": "15"}}])
        assert index.conn.execute("SELECT count(DISTINCT k) FROM vals_0").fetchone()[0] == 10
        assert hits(index, {"term": {"tag": "moved"}}) == ["3"]
        assert len(hits(index, {"term": {"tag": "t0"}})) == len([i for i in range(35) if i % 3 == 0 and i not in (3, 15)])
        top = search(index, {"size": 3, "sort": [{"n": "desc"}], "query": {"range": {"n": {"gte": 5}}}})
        assert [h["_id"] for h in top["hits"]["hits"]] == ["34", "33", "32"] and top["hits"]["total"]["value"] == 29
        buckets = search(index, {"size": 0, "aggs": {"t": {"terms": {"field": "tag.keyword"}}}})["aggregations"]["t"]["buckets"]
        assert buckets == [{"key": "t1", "doc_count": 12}, {"key": "t2", "doc_count": 11},
                           {"key": "t0", "doc_count": 10}, {"key": "moved", "doc_count": 1}]
        schema = index.conn.execute("PRAGMA schema_version").fetchone()[0]
    finally:
        store.close()
    store = Store(tmp_path, fsync=False, segment_docs=10)
    try:
        index = store.indexes["s"]
        assert index.segments == [1, 11, 21, 31]
        assert index.conn.execute("PRAGMA schema_version").fetchone()[0] == schema  # opening rewrote no view
        load(range(35, 42))
        assert index.segments == [1, 11, 21, 31, 41]
        assert hits(index, {"range": {"n": {"gte": 39}}}) == ["39", "40", "41"]
    finally:
        store.close()


@pytest.mark.parametrize("segment_docs", [20000, 50], ids=["fails at commit", "fails inside the bulk"])
def test_a_failed_write_leaves_nothing_of_its_batch_behind(tmp_path, segment_docs):
    # a database that may not grow (SQLite's max_page_count: "database or disk is full") fails a bulk with a
    # new field, at its commit or, when the bulk opens a segment, in the middle of it; once it may grow, the
    # same bulk is stored whole
    store = Store(tmp_path, fsync=False, segment_docs=segment_docs)
    try:
        bulk(store, [{"index": {"_index": "f", "_id": "0"}}, {"a": "x"}])
        index = store.indexes["f"]
        pages = index.conn.execute("PRAGMA page_count").fetchone()[0]
        index.conn.execute(f"PRAGMA max_page_count = {pages}")
        lines = []
        for i in range(1, 400):
            lines += [{"index": {"_index": "f", "_id": str(i)}}, {"a": "y", "fresh": f"v{i}", "note": "z" * 200}]
        with pytest.raises(SearchError, match="commit failed"):
            bulk(store, lines)
        assert index.conn.execute("SELECT count(*) FROM docs").fetchone()[0] == 1
        assert hits(index, {"match_all": {}}) == ["0"]
        index.conn.execute("PRAGMA max_page_count = 1073741823")
        assert not bulk(store, lines)["errors"]
        assert hits(index, {"term": {"fresh.keyword": "v7"}}) == ["7"]
    finally:
        store.close()
    store = Store(tmp_path, fsync=False, segment_docs=segment_docs)
    try:
        index = store.indexes["f"]
        assert hits(index, {"term": {"fresh.keyword": "v399"}}) == ["399"]
        assert len(hits(index, {"term": {"a": "y"}}, size=1000)) == 399
    finally:
        store.close()
