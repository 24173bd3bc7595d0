"""Bad input gets OpenSearch's error shape ({"error": {"root_cause", "type", "reason"}, "status"}) and the node keeps serving."""

import json
import urllib.error
import urllib.request

import pytest
from opensearchpy import RequestError


def raw(node, method, path, body=None, content_type="application/json"):
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(node.url + path, data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def assert_shape(status, body, expected_status, expected_type):
    assert status == expected_status
    assert body["status"] == expected_status
    assert body["error"]["type"] == expected_type
    assert body["error"]["reason"]
    assert body["error"]["root_cause"] and body["error"]["root_cause"][0]["type"]


@pytest.fixture(scope="module", autouse=True)
def index(client):
    client.indices.create(index="bad-input", body={"mappings": {"properties": {"n": {"type": "long"}}}})
    client.index(index="bad-input", id="1", body={"n": 1}, refresh=True)


def test_malformed_json_search(node):
    status, body = raw(node, "POST", "/bad-input/_search", "{not json")
    assert_shape(status, body, 400, "json_parse_exception")


def test_unknown_query_type(client):
    with pytest.raises(RequestError) as exc:
        client.search(index="bad-input", body={"query": {"no_such_query": {}}})
    assert exc.value.status_code == 400
    assert exc.value.info["error"]["root_cause"][0]["type"] == "parsing_exception"
    assert "unknown query [no_such_query]" in exc.value.info["error"]["reason"]


def test_unsupported_feature_names_it(client):
    with pytest.raises(RequestError) as exc:
        client.search(index="bad-input", body={"query": {"fuzzy": {"n": "x"}}})
    assert "fuzzy" in exc.value.info["error"]["reason"]
    with pytest.raises(RequestError) as exc:
        client.search(index="bad-input", body={"aggs": {"p": {"percentiles": {"field": "n"}}}})
    assert "percentiles" in exc.value.info["error"]["reason"]


def test_unknown_aggregation_type(client):
    with pytest.raises(RequestError) as exc:
        client.search(index="bad-input", body={"aggs": {"x": {"nonsense": {"field": "n"}}}})
    assert exc.value.info["error"]["type"] == "parsing_exception"


def test_bad_mappings(node):
    status, body = raw(node, "PUT", "/bad-map", json.dumps({"mappings": {"properties": {"a": {"type": "nope"}}}}))
    assert_shape(status, body, 400, "mapper_parsing_exception")
    assert "No handler for type [nope] declared on field [a]" in body["error"]["reason"]
    status, body = raw(node, "PUT", "/bad-map", json.dumps({"mappings": {"properties": {"a": {"type": "keyword", "bogus": 1}}}}))
    assert_shape(status, body, 400, "mapper_parsing_exception")
    status, body = raw(node, "PUT", "/Bad-Name", json.dumps({}))
    assert_shape(status, body, 400, "invalid_index_name_exception")


def test_value_that_does_not_fit_the_mapping(client):
    with pytest.raises(RequestError) as exc:
        client.index(index="bad-input", id="2", body={"n": "abc"})
    assert exc.value.info["error"]["type"] == "mapper_parsing_exception"
    assert "failed to parse field [n] of type [long]" in exc.value.info["error"]["reason"]


def test_term_value_that_does_not_fit_the_field(client):
    with pytest.raises(RequestError) as exc:
        client.search(index="bad-input", body={"query": {"term": {"n": "abc"}}})
    assert exc.value.info["error"]["type"] == "search_phase_execution_exception"
    assert exc.value.info["error"]["root_cause"][0]["type"] == "query_shard_exception"


def test_malformed_bulk(node):
    status, body = raw(node, "POST", "/_bulk", '{"index": {"_index": "bad-input"}}\n{"n": 1}', "application/x-ndjson")
    assert_shape(status, body, 400, "illegal_argument_exception")  # no final newline
    status, body = raw(node, "POST", "/_bulk", 'garbage\n', "application/x-ndjson")
    assert_shape(status, body, 400, "illegal_argument_exception")
    status, body = raw(node, "POST", "/_bulk", '{"index": {"_index": "bad-input", "_id": "3"}}\n{broken\n',
                       "application/x-ndjson")
    assert status == 200 and body["errors"] is True
    assert body["items"][0]["index"]["error"]["type"] == "mapper_parsing_exception"


def test_missing_index_and_unknown_route(node, client):
    status, body = raw(node, "POST", "/nowhere/_search", "{}")
    assert_shape(status, body, 404, "index_not_found_exception")
    status, body = raw(node, "GET", "/_bulk")
    assert status == 405


def test_text_field_aggregation_refused(client):
    client.index(index="bad-text", id="1", body={"t": "words here"}, refresh=True)
    with pytest.raises(RequestError) as exc:
        client.search(index="bad-text", body={"aggs": {"x": {"terms": {"field": "t"}}}})
    assert "Text fields are not optimised" in exc.value.info["error"]["root_cause"][0]["reason"]


def test_node_keeps_serving(client):
    assert client.count(index="bad-input")["count"] == 1
