"""Query DSL and aggregations in-process (Store + Searcher, no HTTP): the parts the differential suite
cannot check against osmem, with expectations from OpenSearch's query DSL documentation."""

import json

import pytest

from services.search import documents
from services.search.errors import SearchError
from services.search.search import Searcher, count
from services.search.store import Store

DOCS = [
    {"title": "The quick brown fox", "tag": "a", "n": 1, "when": "2024-01-01T00:00:00Z", "user": {"name": "Ann"}},
    {"title": "lazy brown dog", "tag": "b", "n": 2, "when": "2024-01-02T12:00:00Z", "user": {"name": "Bob"}},
    {"title": "quick thinking", "tag": ["a", "c"], "n": 3, "when": "2024-02-01T00:00:00Z"},
    {"title": "Fox and dog", "tag": "c", "n": 4, "when": "2024-03-15T08:00:00Z", "user": {"name": "Ann Lee"}},
]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("store"), fsync=False)
    store.write(lambda: store.create("t", {"mappings": {"properties": {"tag": {"type": "keyword"},
                                                                           "when": {"type": "date"}}}})).result()
    body = "".join(json.dumps({"index": {"_index": "t", "_id": str(i)}}) + "\n" + json.dumps(d) + "\n"
                   for i, d in enumerate(DOCS)).encode()
    items = documents.parse_bulk(body, None)
    store.pipeline(lambda: documents.prepare_bulk(store, items), lambda p: documents.run_bulk(store, p, False)).result()
    yield store.indexes["t"]
    store.close()


def ids(index, query, **body):
    searcher = Searcher(index, index.reader(), {"query": query, "size": 100, **body}, {})
    try:
        response, _ = searcher.run()
    finally:
        searcher.close()
    return sorted(h["_id"] for h in response["hits"]["hits"])


@pytest.mark.parametrize("text,expected", [
    ("quick", ["0", "2"]),
    ("quick AND fox", ["0"]),
    ("quick OR dog", ["0", "1", "2", "3"]),
    ("brown -dog", ["0"]),
    ("+fox +dog", ["3"]),
    ("NOT fox", ["1", "2"]),
    ('"brown fox"', ["0"]),
    ('"fox brown"', []),
    ("tag:a", ["0", "2"]),
    ("tag:(b OR c)", ["1", "2", "3"]),
    ("n:[2 TO 3]", ["1", "2"]),
    ("n:{2 TO 4]", ["2", "3"]),
    ("n:>=3", ["2", "3"]),
    ("qu*", ["0", "2"]),
    ("_exists_:user", ["0", "1", "3"]),
    ("user.name:ann", ["0", "3"]),
    ("(quick OR lazy) AND tag:b", ["1"]),
])
def test_query_string_common_syntax(index, text, expected):
    assert ids(index, {"query_string": {"query": text, "default_field": "title"}}) == expected


def test_query_string_default_fields_everything(index):
    assert ids(index, {"query_string": {"query": "ann"}}) == ["0", "3"]
    assert ids(index, {"query_string": {"query": "dog", "default_operator": "AND"}}) == ["1", "3"]


def test_match_operators_and_minimum_should_match(index):
    assert ids(index, {"match": {"title": "quick fox"}}) == ["0", "2", "3"]
    assert ids(index, {"match": {"title": {"query": "quick fox", "operator": "and"}}}) == ["0"]
    assert ids(index, {"match": {"title": {"query": "quick brown fox", "minimum_should_match": 2}}}) == ["0"]
    assert ids(index, {"match": {"title": {"query": "quick brown fox", "minimum_should_match": "-1"}}}) == ["0"]


def test_bool_minimum_should_match_with_must(index):
    # with a must clause, should clauses are optional unless minimum_should_match says otherwise
    assert ids(index, {"bool": {"must": [{"term": {"tag": "a"}}], "should": [{"term": {"n": 99}}]}}) == ["0", "2"]
    assert ids(index, {"bool": {"must": [{"term": {"tag": "a"}}], "should": [{"term": {"n": 99}}],
                                "minimum_should_match": 1}}) == []


def test_range_date_math_and_time_zone(index):
    assert ids(index, {"range": {"when": {"gte": "2024-01-02||/d", "lt": "2024-01-02||+1d/d"}}}) == ["1"]
    assert ids(index, {"range": {"when": {"gte": "2024-01-01T01:00:00", "time_zone": "+01:00", "lte": "2024-01-01"}}}) == ["0"]
    assert ids(index, {"range": {"when": {"lt": "now"}}}) == ["0", "1", "2", "3"]


def test_count_and_unknown_query(index):
    assert count(index, index.reader(), {"query": {"term": {"tag": "c"}}}, {}) == 2
    with pytest.raises(SearchError) as exc:
        ids(index, {"bogus": {}})
    assert exc.value.type == "parsing_exception"


def test_source_filtering_and_sort_values(index):
    searcher = Searcher(index, index.reader(), {"sort": [{"when": "desc"}], "size": 2,
                                                "_source": {"includes": ["user.*"], "excludes": []}}, {})
    response, _ = searcher.run()
    searcher.close()
    hits = response["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["3", "2"]
    assert hits[0]["_source"] == {"user": {"name": "Ann Lee"}} and hits[1]["_source"] == {}
    assert hits[0]["sort"] == [1710489600000] and hits[0]["_score"] is None
