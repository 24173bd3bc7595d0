"""opensearch-py against the node: every REST API the project uses, with OpenSearch 2.x response shapes."""

import json
import urllib.request

import pytest
from opensearchpy import NotFoundError, RequestError, helpers

MINI_SETTINGS = {
    "analysis": {"analyzer": {"default": {"tokenizer": "keyword", "filter": ["oversized-fields"]}},
                 "filter": {"oversized-fields": {"type": "length", "max": 8191}}},
    "index": {"number_of_shards": 2, "number_of_replicas": 0},
}


def test_cluster_info_is_opensearch_2(client):
    info = client.info()
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"].startswith("2.")
    assert info["tagline"] == "The OpenSearch Project: https://opensearch.org/"


def test_cluster_health(client):
    health = client.cluster.health()
    assert health["status"] in ("green", "yellow")
    assert health["number_of_nodes"] == 1


def test_index_lifecycle(client):
    assert client.indices.exists(index="life") is False
    created = client.indices.create(index="life", body={"settings": MINI_SETTINGS,
                                                        "mappings": {"properties": {"a": {"type": "keyword"}}}})
    assert created == {"acknowledged": True, "shards_acknowledged": True, "index": "life"}
    assert client.indices.exists(index="life") is True
    with pytest.raises(RequestError) as exc:
        client.indices.create(index="life")
    assert exc.value.error == "resource_already_exists_exception"
    got = client.indices.get(index="life")
    assert got["life"]["settings"]["index"]["number_of_shards"] == "2"
    assert got["life"]["mappings"] == {"properties": {"a": {"type": "keyword"}}}
    assert client.indices.delete(index="life") == {"acknowledged": True}
    assert client.indices.exists(index="life") is False
    with pytest.raises(NotFoundError) as exc:
        client.indices.delete(index="life")
    assert exc.value.error == "index_not_found_exception"


def test_mapping_get_put_and_conflict(client):
    client.indices.create(index="maps", body={"mappings": {"properties": {"n": {"type": "long"}}}})
    client.indices.put_mapping(index="maps", body={"properties": {"k": {"type": "keyword"}}})
    props = client.indices.get_mapping(index="maps")["maps"]["mappings"]["properties"]
    assert props == {"k": {"type": "keyword"}, "n": {"type": "long"}}
    with pytest.raises(RequestError) as exc:
        client.indices.put_mapping(index="maps", body={"properties": {"n": {"type": "keyword"}}})
    assert exc.value.error == "illegal_argument_exception"
    assert "cannot be changed from type [long] to [keyword]" in exc.value.info["error"]["reason"]


def test_dynamic_mapping_like_opensearch(client):
    client.index(index="dyn", id="1", body={"s": "hello", "i": 3, "f": 1.5, "b": True, "d": "2024-03-01T10:00:00Z",
                                            "o": {"x": "y"}, "arr": [{"name": "a"}, {"name": "b"}], "nul": None},
                 refresh=True)
    props = client.indices.get_mapping(index="dyn")["dyn"]["mappings"]["properties"]
    text_kw = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    assert props == {"arr": {"properties": {"name": text_kw}}, "b": {"type": "boolean"}, "d": {"type": "date"},
                     "f": {"type": "float"}, "i": {"type": "long"}, "o": {"properties": {"x": text_kw}}, "s": text_kw}


def test_total_fields_limit(client):
    client.indices.create(index="limited", body={"settings": {"index.mapping.total_fields.limit": 3}})
    client.index(index="limited", id="1", body={"a": 1, "b": 2})
    with pytest.raises(RequestError) as exc:
        client.index(index="limited", id="2", body={"c": 1, "d": 2})
    assert exc.value.error == "illegal_argument_exception"
    assert exc.value.info["error"]["reason"] == "Limit of total fields [3] has been exceeded"
    props = client.indices.get_mapping(index="limited")["limited"]["mappings"]["properties"]
    assert set(props) == {"a", "b"}  # the rejected document left the mapping as it was
    client.indices.put_settings(index="limited", body={"index.mapping.total_fields.limit": 10})
    client.index(index="limited", id="2", body={"c": 1, "d": 2})


def test_bulk_actions_and_item_results(client):
    client.indices.create(index="bulk", body={"mappings": {"properties": {"n": {"type": "long"}}}})
    body = [
        {"index": {"_index": "bulk", "_id": "1"}}, {"n": 1},
        {"create": {"_index": "bulk", "_id": "1"}}, {"n": 2},
        {"index": {"_index": "bulk", "_id": "2"}}, {"n": "not a number"},
        {"update": {"_index": "bulk", "_id": "1"}}, {"doc": {"m": "x"}},
        {"update": {"_index": "bulk", "_id": "9"}}, {"doc": {"m": "x"}},
        {"delete": {"_index": "bulk", "_id": "1"}},
        {"delete": {"_index": "bulk", "_id": "1"}},
        {"index": {"_index": "bulk"}}, {"n": 5},
    ]
    result = client.bulk(body=body, refresh=True)
    assert result["errors"] is True
    items = result["items"]
    assert items[0]["index"]["result"] == "created" and items[0]["index"]["status"] == 201
    assert items[0]["index"]["_version"] == 1
    assert items[1]["create"]["status"] == 409
    assert items[1]["create"]["error"]["type"] == "version_conflict_engine_exception"
    assert items[2]["index"]["status"] == 400
    assert items[2]["index"]["error"]["type"] == "mapper_parsing_exception"
    assert items[3]["update"]["result"] == "updated" and items[3]["update"]["_version"] == 2
    assert items[4]["update"]["status"] == 404
    assert items[4]["update"]["error"]["type"] == "document_missing_exception"
    assert items[5]["delete"]["result"] == "deleted"
    assert items[6]["delete"]["result"] == "not_found" and items[6]["delete"]["status"] == 404
    assert "error" not in items[6]["delete"]
    assert items[7]["index"]["result"] == "created" and len(items[7]["index"]["_id"]) == 20
    assert client.count(index="bulk")["count"] == 1


def test_bulk_helper_streams_into_auto_created_index(client):
    docs = ({"_index": "auto", "_id": str(i), "_source": {"i": i}} for i in range(250))
    ok, errors = helpers.bulk(client, docs, chunk_size=100, refresh=True)
    assert ok == 250 and errors == []
    assert client.count(index="auto")["count"] == 250


def test_documents_index_get_delete(client):
    put = client.index(index="docs", id="a", body={"x": 1})
    assert put["result"] == "created" and put["_version"] == 1 and put["_primary_term"] == 1
    again = client.index(index="docs", id="a", body={"x": 2})
    assert again["result"] == "updated" and again["_version"] == 2
    got = client.get(index="docs", id="a")
    assert got["found"] is True and got["_source"] == {"x": 2} and got["_version"] == 2
    assert client.exists(index="docs", id="a") is True
    with pytest.raises(NotFoundError):
        client.get(index="docs", id="nope")
    assert client.delete(index="docs", id="a")["result"] == "deleted"
    assert client.exists(index="docs", id="a") is False
    with pytest.raises(NotFoundError):
        client.get(index="missing-index", id="a")


def test_refresh_count_and_cat_indices(client):
    client.index(index="cat", id="1", body={"x": 1})
    assert client.indices.refresh(index="cat")["_shards"]["failed"] == 0
    assert client.count(index="cat", body={"query": {"term": {"x": 1}}})["count"] == 1
    rows = client.cat.indices(index="cat", format="json")
    assert rows[0]["index"] == "cat" and rows[0]["docs.count"] == "1" and rows[0]["status"] == "open"
    text = client.cat.indices(v=True)
    assert text.splitlines()[0].split()[:3] == ["health", "status", "index"]


def test_delete_by_query(client):
    helpers.bulk(client, ({"_index": "dbq", "_id": str(i), "_source": {"n": i}} for i in range(10)), refresh=True)
    result = client.delete_by_query(index="dbq", body={"query": {"range": {"n": {"lt": 4}}}}, refresh=True)
    assert result["deleted"] == 4 and result["total"] == 4 and result["failures"] == []
    assert client.count(index="dbq")["count"] == 6


def test_msearch(client):
    helpers.bulk(client, ({"_index": "ms", "_id": str(i), "_source": {"n": i}} for i in range(5)), refresh=True)
    result = client.msearch(body=[{"index": "ms"}, {"query": {"term": {"n": 1}}},
                                  {"index": "ms"}, {"query": {"bogus": {}}},
                                  {"index": "ms"}, {"size": 0, "query": {"match_all": {}}}])
    responses = result["responses"]
    assert responses[0]["hits"]["total"]["value"] == 1 and responses[0]["status"] == 200
    assert responses[1]["status"] == 400 and "error" in responses[1]
    assert responses[2]["hits"]["total"]["value"] == 5


def test_scroll_and_clear(client):
    helpers.bulk(client, ({"_index": "scr", "_id": f"{i:03d}", "_source": {"n": i}} for i in range(25)), refresh=True)
    page = client.search(index="scr", scroll="1m", size=10, body={"sort": [{"n": "asc"}]})
    seen = [h["_source"]["n"] for h in page["hits"]["hits"]]
    scroll_id = page["_scroll_id"]
    while True:
        page = client.scroll(scroll_id=scroll_id, scroll="1m")
        if not page["hits"]["hits"]:
            break
        seen.extend(h["_source"]["n"] for h in page["hits"]["hits"])
    assert seen == list(range(25))
    assert client.clear_scroll(scroll_id=scroll_id)["succeeded"] is True
    with pytest.raises(NotFoundError):
        client.scroll(scroll_id=scroll_id, scroll="1m")
    assert [h["_source"]["n"] for h in helpers.scan(client, index="scr", size=7, preserve_order=True,
                                                    query={"sort": [{"n": "desc"}]})] == list(range(24, -1, -1))


def test_search_after_sort_source_filtering(client):
    helpers.bulk(client, ({"_index": "sa", "_id": str(i), "_source": {"n": i % 5, "k": f"k{i:02d}", "o": {"a": 1, "b": 2}}}
                          for i in range(20)), refresh=True)
    body = {"size": 6, "sort": [{"n": "desc"}, {"k.keyword": "asc"}],
            "_source": {"includes": ["k", "o.*"], "excludes": ["o.b"]}}
    first = client.search(index="sa", body=body)
    hits = first["hits"]["hits"]
    assert hits[0]["_source"] == {"k": "k04", "o": {"a": 1}}
    assert [h["sort"] for h in hits[:2]] == [[4, "k04"], [4, "k09"]]
    collected = [h["_id"] for h in hits]
    after = hits[-1]["sort"]
    while True:
        page = client.search(index="sa", body={**body, "search_after": after})["hits"]["hits"]
        if not page:
            break
        collected.extend(h["_id"] for h in page)
        after = page[-1]["sort"]
    assert len(collected) == 20 and len(set(collected)) == 20
    assert client.search(index="sa", body={"_source": False, "size": 1})["hits"]["hits"][0].get("_source") is None


def test_track_total_hits(client):
    helpers.bulk(client, ({"_index": "tth", "_source": {"n": i}} for i in range(30)), refresh=True)
    capped = client.search(index="tth", body={"track_total_hits": 10, "size": 0})
    assert capped["hits"]["total"] == {"value": 10, "relation": "gte"}
    exact = client.search(index="tth", body={"track_total_hits": True, "size": 0})
    assert exact["hits"]["total"] == {"value": 30, "relation": "eq"}
    off = client.search(index="tth", body={"track_total_hits": False, "size": 0})
    assert "total" not in off["hits"]


def test_own_health_and_status(node, client):
    client.index(index="st", id="1", body={"x": 1}, refresh=True)
    with urllib.request.urlopen(node.url + "/health") as response:
        assert response.read() == b"ok"
    with urllib.request.urlopen(node.url + "/status") as response:
        status = json.loads(response.read())
    assert status["indexes"]["st"]["docs"] == 1
    assert status["counters"]["bulk_requests"] >= 1
