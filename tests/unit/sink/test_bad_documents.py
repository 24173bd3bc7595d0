"""Bad row → bad document: §5.2's rewrite for each bad-row type, and deterministic ids."""

from __future__ import annotations

import json

from services.sink import documents
from services.sink.documents import Document, LoaderBadRow

V = "iglu:com.snowplowanalytics.snowplow.badrows"
PROC = {"artifact": "mini-enrich", "version": "0.1.0"}
TS = "2024-05-01T10:00:00.123Z"
CP = {  # a collector payload (§4.4), keys in order
    "vendor": "com.snowplowanalytics.snowplow", "version": "tp2", "querystring": [{"name": "e", "value": None}],
    "contentType": "text/plain", "body": "x", "collector": "mini-collector-0.1.0-nsq", "encoding": "UTF-8",
    "hostname": None, "timestamp": "2024-05-01T10:00:00.000Z", "ipAddress": "203.0.113.7", "useragent": "UA",
    "refererUri": None, "headers": ["Host: c.example.com"], "networkUserId": "ecdff4d0-9175-40ac-a8bb-325c49733607",
}
ENRICHMENT_PAYLOAD = {
    "enriched": {"app_id": "site", "collector_tstamp": "2024-05-01 10:00:00.000", "true_tstamp": None},
    "raw": {"vendor": "com.snowplowanalytics.snowplow", "version": "tp2",
            "parameters": [{"name": "e", "value": "ue"}, {"name": "aid", "value": "site"}],
            "contentType": None, "loaderName": "mini-collector-0.1.0-nsq", "encoding": "UTF-8",
            "hostname": None, "timestamp": "2024-05-01T10:00:00.000Z", "ipAddress": None, "useragent": None,
            "refererUri": None, "headers": [], "userId": None},
}


def row(kind: str, version: str, failure, payload) -> bytes:
    return json.dumps({"schema": f"{V}/{kind}/jsonschema/{version}",
                       "data": {"processor": PROC, "failure": failure, "payload": payload}}).encode()


def data_of(record: bytes) -> dict:
    result = documents.bad_document(record)
    assert isinstance(result, Document), result
    assert result.source["schema"] == json.loads(record)["schema"]
    return result.source["data"]


def test_size_violation_payload_becomes_payload_str():
    failure = {"timestamp": TS, "maximumAllowedSizeBytes": 1048576, "actualSizeBytes": 1500000,
               "expectation": "oversized collector payload"}
    data = data_of(row("size_violation", "1-0-0", failure, "CollectorPayload(…"))
    assert data == {"processor": PROC, "failure": failure, "payload_str": "CollectorPayload(…"}


def test_cpform_message_object_unchanged():
    failure = {"timestamp": TS, "loader": "thrift",
               "message": {"payloadField": "path", "value": None, "expectation": "request does not contain a path"}}
    data = data_of(row("collector_payload_format_violation", "1-0-0", failure, "AAAA"))
    assert data["failure"] == failure and data["payload_str"] == "AAAA" and "payload" not in data
    failure2 = {"timestamp": TS, "loader": "thrift", "message": {"error": "error deserializing raw event: x"}}
    assert data_of(row("collector_payload_format_violation", "1-0-0", failure2, "AAAA"))["failure"] == failure2


def test_adapter_failures_messages():
    failure = {"timestamp": TS, "vendor": "com.acme", "version": "v1", "messages": [
        {"field": "body", "value": "{x", "error": "invalid json"},                       # NotJson
        {"json": {"schema": "bad"}, "error": "INVALID_IGLUURI"},                         # NotIglu
        {"actual": "x", "expectedMapping": {"a": "iglu:com.acme/a/jsonschema/1-0-0"},  # SchemaMapping
         "expectation": "y"},
        {"field": "vendor", "value": "v", "expectation": "known"},                        # InputData
    ]}
    data = data_of(row("adapter_failures", "1-0-0", failure, CP))
    m = data["failure"]["messages"]
    assert m[0] == {"field": "body", "value": "{x", "error_str": "invalid json"}
    assert m[1] == {"json": '{"schema":"bad"}', "error_str": "INVALID_IGLUURI"}
    assert m[2] == {"actual": "x", "expectedMapping": '{"a":"iglu:com.acme/a/jsonschema/1-0-0"}', "expectation": "y"}
    assert m[3] == failure["messages"][3]
    assert data["payload"] == CP  # a collector payload object keeps its name


def test_tracker_protocol_violations_iglu_error_stays_an_object():
    iglu = {"error": "ResolutionError", "lookupHistory": [
        {"errors": [{"error": "NotFound"}], "attempts": 1, "lastAttempt": TS, "repository": "Iglu Central"}]}
    failure = {"timestamp": TS, "vendor": "com.snowplowanalytics.snowplow", "version": "tp2", "messages": [
        {"schemaKey": "iglu:com.acme/x/jsonschema/1-0-0", "error": iglu},
        {"schemaKey": "iglu:com.acme/x/jsonschema/2-0-0",
         "schemaCriterion": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-*"},
    ]}
    data = data_of(row("tracker_protocol_violations", "1-0-1", failure, CP))
    assert data["failure"] == failure


def test_schema_violations_parameters_are_stringified():
    failure = {"timestamp": TS, "messages": [
        {"field": "unstruct", "value": "{", "error": "not json"},
        {"schemaKey": "iglu:com.snowplowanalytics.snowplow/atomic/jsonschema/1-0-0", "error": {
            "dataReports": [{"message": "Not a valid platform", "path": "p", "keyword": "atomic_field_parse_error",
                             "targets": []}], "error": "ValidationError"}},
    ]}
    data = data_of(row("schema_violations", "2-0-1", failure, ENRICHMENT_PAYLOAD))
    assert data["failure"]["messages"][0] == {"field": "unstruct", "value": "{", "error_str": "not json"}
    assert data["failure"]["messages"][1] == failure["messages"][1]
    assert data["payload"]["raw"]["parameters"] == \
        '[{"name":"e","value":"ue"},{"name":"aid","value":"site"}]'
    assert data["payload"]["enriched"] == ENRICHMENT_PAYLOAD["enriched"]


def test_enrichment_failures_message_error_str():
    failure = {"timestamp": TS, "messages": [
        {"enrichment": {"schemaKey": "iglu:com.snowplowanalytics.snowplow/ua_parser_config/jsonschema/1-0-0",
                        "identifier": "ua-parser"}, "message": {"error": "boom"}},
        {"enrichment": None, "message": {"field": "page_url", "value": "ht tp://", "expectation": "a URI"}},
    ]}
    data = data_of(row("enrichment_failures", "2-0-1", failure, ENRICHMENT_PAYLOAD))
    assert data["failure"]["messages"][0]["message"] == {"error_str": "boom"}
    assert data["failure"]["messages"][1] == failure["messages"][1]


def test_loader_parsing_error_and_generic_error_lists():
    lpe = {"type": "RowDecodingError", "errors": [
        {"type": "InvalidValue", "key": "br_cookies", "value": "x", "message": "Cannot parse key br_cookies into boolean"}]}
    data = data_of(row("loader_parsing_error", "2-0-0", lpe, "dGVzdA=="))
    assert data["failure"] == {"type": "RowDecodingError", "errors_list": lpe["errors"]}
    assert data["payload_str"] == "dGVzdA=="
    data = data_of(row("generic_error", "1-0-0", {"timestamp": TS, "errors": ["e1", "e2"]}, "p"))
    assert data["failure"] == {"timestamp": TS, "errors_list": ["e1", "e2"]} and data["payload_str"] == "p"


def test_failure_as_string_or_list():
    data = data_of(row("generic_error", "1-0-0", "just text", "p"))
    assert data["failure_str"] == "just text" and "failure" not in data
    data = data_of(row("generic_error", "1-0-0", [{"error": "e", "value": {"a": 1}}, {"error": {"x": 1}, "value": "s"}], "p"))
    assert data["failure_list"] == [{"error_str": "e", "value": '{"a":1}'}, {"error": {"x": 1}, "value": "s"}]


def test_failure_error_and_message_renamed():
    data = data_of(row("generic_error", "1-0-0", {"timestamp": TS, "error": "oops", "message": ["a"]}, ["p1"]))
    assert data["failure"] == {"timestamp": TS, "error_str": "oops", "message_list": ["a"]}
    assert data["payload_list"] == ["p1"]


def test_other_json_is_indexed_unchanged():
    other = {"schema": "iglu:com.acme/thing/jsonschema/1-0-0", "data": {"failure": "x", "payload": "y"}}
    result = documents.bad_document(json.dumps(other).encode())
    assert isinstance(result, Document) and result.source == other


def test_ids_are_deterministic():
    a = row("generic_error", "1-0-0", {"timestamp": TS, "errors": ["e"]}, "p")
    b = row("generic_error", "1-0-0", {"timestamp": TS, "errors": ["f"]}, "p")
    assert documents.bad_document(a).id == documents.bad_document(a).id
    assert documents.bad_document(a).id != documents.bad_document(b).id


def test_not_json_becomes_a_generic_error():
    result = documents.bad_document(b"{nope")
    assert isinstance(result, LoaderBadRow)
    parsed = json.loads(result.row)
    assert parsed["schema"] == f"{V}/generic_error/jsonschema/1-0-0"
    assert parsed["data"]["payload"] == "{nope"
    assert parsed["data"]["failure"]["errors"][0].startswith("Cannot parse bad row as JSON")


def test_index_rejection_message_and_payload():
    doc = Document("id-1", {"event_id": "id-1", "x": 1})
    result = documents.index_rejection(doc, "mapper_parsing_exception", "failed to parse field [x]")
    parsed = json.loads(result.row)
    assert parsed["data"]["failure"]["errors"] == [
        "Failed to write to Elasticsearch: mapper_parsing_exception: failed to parse field [x]"]
    assert json.loads(parsed["data"]["payload"]) == doc.source
