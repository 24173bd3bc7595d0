"""A corpus of bad inputs, one per failure the spec names: each yields exactly the expected bad-row
type (snowplow-formats.md §4.2), and each bad row validates against its schema in Iglu Central."""

import json
import socket

import pytest

from services.enrich.enrichments.registry import EnrichmentSet
from tests.unit.enrich import support
from tests.unit.enrich.support import CONTEXTS_1_0_0, UNSTRUCT

BADROWS = "iglu:com.snowplowanalytics.snowplow.badrows/"
GOOD_EVENT = dict(e="pv", p="web", tv="js-4.6.8")


def body(**extra):
    return support.post_body({**GOOD_EVENT, **extra})


def unstruct(sdj):
    return json.dumps({"schema": UNSTRUCT, "data": sdj})


CASES = {
    "empty querystring (tp1)": (support.payload(querystring=""), "adapter_failures/jsonschema/1-0-0",
                                {"field": "querystring", "value": None,
                                 "expectation": "empty querystring: not a valid URI redirect"}),
    "unsupported vendor/version": (support.payload(path="/com.foo/bar", querystring="e=pv"),
                                   "adapter_failures/jsonschema/1-0-0",
                                   {"field": "vendor/version", "value": "com.foo/bar",
                                    "expectation": "vendor/version combination is not supported"}),
    "legacy /i under a vendor": (support.payload(path="/com.snowplowanalytics.snowplow/i", querystring="e=pv"),
                                 "adapter_failures/jsonschema/1-0-0", None),
    "invalid content type": (support.payload(body=body(), content_type="text/plain"),
                             "tracker_protocol_violations/jsonschema/1-0-1",
                             {"field": "contentType", "value": "text/plain", "expectation":
                              "expected one of application/json, application/json; charset=utf-8, "
                              "application/json; charset=UTF-8"}),
    "empty tp2": (support.payload(path="/com.snowplowanalytics.snowplow/tp2", querystring=""),
                  "tracker_protocol_violations/jsonschema/1-0-1", None),
    "invalid JSON body": (support.payload(body="{not json"), "tracker_protocol_violations/jsonschema/1-0-1", None),
    "body not self-describing": (support.payload(body='{"data": []}'),
                                 "tracker_protocol_violations/jsonschema/1-0-1",
                                 {"json": {"data": []}, "error": "INVALID_DATA_PAYLOAD"}),
    "body not payload_data": (support.payload(body=json.dumps({"schema": "iglu:com.acme/checkout/jsonschema/1-0-0",
                                                               "data": {"sku": "a"}})),
                              "tracker_protocol_violations/jsonschema/1-0-1",
                              {"schemaKey": "iglu:com.acme/checkout/jsonschema/1-0-0", "schemaCriterion":
                               "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-*"}),
    "unknown key in POST body": (support.payload(body=body(cv="x")), "tracker_protocol_violations/jsonschema/1-0-1",
                                 None),
    "invalid tz (not a string)": (support.payload(body=support.post_body({**GOOD_EVENT, "tz": 1})),
                                  "tracker_protocol_violations/jsonschema/1-0-1", None),
    "redirect without u": (support.payload(path="/r/tp2", querystring="e=pv"),
                           "tracker_protocol_violations/jsonschema/1-0-1", None),
    "invalid base64": (support.payload(querystring="e=pv&p=web&tv=js&cx=%%%%not-base64!!"),
                       "schema_violations/jsonschema/2-0-1", None),
    "invalid JSON context": (support.payload(body=body(co="{nope")), "schema_violations/jsonschema/2-0-1", None),
    "unknown schema": (support.payload(body=body(e="ue", ue_pr=unstruct(
        {"schema": "iglu:com.acme/nothing/jsonschema/1-0-0", "data": {}}))), "schema_violations/jsonschema/2-0-1",
        None),
    "schema mismatch": (support.payload(body=body(e="ue", ue_pr=unstruct(
        {"schema": "iglu:com.acme/checkout/jsonschema/1-0-0", "data": {"sku": "much-too-long-sku"}}))),
        "schema_violations/jsonschema/2-0-1", None),
    "one bad context of three": (support.payload(body=body(co=json.dumps({"schema": CONTEXTS_1_0_0, "data": [
        {"schema": "iglu:com.acme/checkout/jsonschema/1-0-0", "data": {"sku": "a"}},
        {"schema": "iglu:com.acme/checkout/jsonschema/1-0-0", "data": {"qty": 1}},
        {"schema": "iglu:com.acme/checkout/jsonschema/1-0-0", "data": {"sku": "b"}}]}))),
        "schema_violations/jsonschema/2-0-1", None),
    "invalid eid": (support.payload(querystring="e=pv&p=web&tv=js&eid=not-a-uuid"),
                    "schema_violations/jsonschema/2-0-1", None),
    "invalid nuid": (support.payload(querystring="e=pv", nuid="not-a-uuid"),
                     "collector_payload_format_violation/jsonschema/1-0-0",
                     {"payloadField": "networkUserId", "value": "not-a-uuid", "expectation": "not valid UUID"}),
    "over-long field": (support.payload(querystring="e=pv&p=web&tv=js&url=https://a.example/" + "x" * 10000),
                        "schema_violations/jsonschema/2-0-1", None),
    "numeric overflow": (support.payload(querystring="e=pv&p=web&tv=js&vid=2147483648"),
                         "schema_violations/jsonschema/2-0-1", None),
    "timestamp out of range": (support.payload(querystring="e=pv&p=web&tv=js&dtm=999999999999999"),
                               "schema_violations/jsonschema/2-0-1", None),
    "invalid platform and resolution": (support.payload(querystring="e=pv&p=desktop&tv=js&res=big"),
                                        "schema_violations/jsonschema/2-0-1", None),
    "unknown event type": (support.payload(querystring="e=xx&p=web&tv=js"), "schema_violations/jsonschema/2-0-1",
                           None),
    "missing event type": (support.payload(querystring="p=web&tv=js"), "enrichment_failures/jsonschema/2-0-1",
                           None),
    "non-UTF-8 record (not Thrift)": (b"\xff\xfe\xfd garbage \x80\x81", "collector_payload_format_violation/jsonschema/1-0-0",
                                      None),
    "path missing": (support.payload(querystring="e=pv", path=None), "collector_payload_format_violation/jsonschema/1-0-0",
                     None),
    "wrong payload schema": (support.payload(querystring="e=pv", schema="iglu:com.acme/other/thrift/1-0-0"),
                             "collector_payload_format_violation/jsonschema/1-0-0", None),
}


def only_row(pipe, record, expected_type):
    outcome = support.run(pipe, record)
    assert outcome.good == []
    rows = support.bad_rows(outcome)
    assert len(rows) == 1, rows
    assert rows[0]["schema"] == BADROWS + expected_type
    assert rows[0]["data"]["processor"] == {"artifact": "mini-enrich", "version": "0.1.0"}
    assert list(rows[0]["data"]) == ["processor", "failure", "payload"]
    return rows[0]


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_its_bad_row(pipe, badrow_checker, case):
    record, expected_type, message = CASES[case]
    if case == "path missing":
        record = support.payload(querystring="e=pv", path="")
        from services.common.collector_payload import CollectorPayload, decode, encode

        decoded = decode(record)
        decoded.path = None
        record = encode(decoded)
    row = only_row(pipe, record, expected_type)
    support.assert_valid_bad_row(badrow_checker, row)
    if message is not None:
        failure = row["data"]["failure"]
        assert (failure.get("messages") or [failure.get("message")])[0] == message


def test_atomic_errors_are_one_message(pipe):
    row = only_row(pipe, support.payload(querystring="e=pv&p=desktop&tv=js&res=big&eid=x&vid=1.5"),
                   "schema_violations/jsonschema/2-0-1")
    (message,) = row["data"]["failure"]["messages"]
    assert message["schemaKey"] == "iglu:com.snowplowanalytics.snowplow/atomic/jsonschema/1-0-0"
    reports = {r["path"]: r for r in message["error"]["dataReports"]}
    assert set(reports) == {"p", "res", "eid", "vid"}
    assert reports["p"] == {"message": "Not a valid platform", "path": "p", "keyword": "atomic_field_parse_error",
                            "targets": []}
    assert reports["res"]["message"] == "Does not conform to regex (\\d+)x(\\d+)"
    assert message["error"]["error"] == "ValidationError"
    payload = row["data"]["payload"]
    assert payload["raw"]["parameters"][0] == {"name": "e", "value": "pv"}
    assert payload["enriched"]["event"] == "page_view" and payload["enriched"]["platform"] is None
    assert list(payload["enriched"])[121] == "refr_dvce_tstamp" and len(payload["enriched"]) == 131


def test_length_error_names_the_field(pipe):
    row = only_row(pipe, support.payload(querystring="e=pv&p=web&tv=js&tz=" + "z" * 256),
                   "schema_violations/jsonschema/2-0-1")
    (message,) = row["data"]["failure"]["messages"]
    assert message["error"]["dataReports"] == [{"message": "Field is longer than maximum allowed size 255",
                                                "path": "os_timezone", "keyword": "atomic_field_length_exceeded",
                                                "targets": []}]


def test_length_limits_are_settings(iglu):
    pipe = support.pipeline(iglu, limits={"os_timezone": 5})
    outcome = support.run(pipe, support.payload(querystring="e=pv&p=web&tv=js&tz=Europe%2FLondon"))
    assert outcome.events == {"schema_violations": 1}
    lax = support.pipeline(iglu, accept_invalid=True)
    assert support.run(lax, support.payload(querystring="e=pv&p=web&tv=js&tz=" + "z" * 300)).events == {"good": 1}


def test_unknown_schema_is_a_resolution_error(pipe):
    row = only_row(pipe, support.payload(body=body(e="ue", ue_pr=unstruct(
        {"schema": "iglu:com.acme/nothing/jsonschema/1-0-0", "data": {}}))), "schema_violations/jsonschema/2-0-1")
    (message,) = row["data"]["failure"]["messages"]
    assert message["schemaKey"] == "iglu:com.acme/nothing/jsonschema/1-0-0"
    assert message["error"]["error"] == "ResolutionError"
    assert all(h["errors"] == [{"error": "NotFound"}] for h in message["error"]["lookupHistory"])


def test_unreachable_registry_is_a_clear_bad_row(iglu_central_dir, badrow_checker):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    from services.iglu.client import IgluClient

    config = support.resolver_config(iglu_central_dir)
    config["data"]["repositories"].append({"name": "Offline", "priority": 5, "vendorPrefixes": ["com.acme"],
                                           "connection": {"http": {"uri": f"http://127.0.0.1:{port}/api"}}})
    pipe = support.pipeline(IgluClient.from_resolver_config(config, http_timeout=1.0))
    record = support.payload(body=body(e="ue", ue_pr=unstruct({"schema": "iglu:com.acme/x/jsonschema/1-0-0",
                                                                "data": {}})))
    for _ in range(2):  # the second lookup answers from the failure cache, still a bad row
        row = only_row(pipe, record, "schema_violations/jsonschema/2-0-1")
        support.assert_valid_bad_row(badrow_checker, row)
        (message,) = row["data"]["failure"]["messages"]
        errors = [e for h in message["error"]["lookupHistory"] for e in h["errors"]]
        assert any(e["error"] == "RepoFailure" and "unreachable" in e["message"] for e in errors), errors


def test_oversized_tsv_is_a_size_violation(iglu, badrow_checker):
    pipe = support.pipeline(iglu, max_record_bytes=2000)
    row = only_row(pipe, support.payload(querystring="e=pv&p=web&tv=js&page=" + "p" * 1900),
                   "size_violation/jsonschema/1-0-0")
    support.assert_valid_bad_row(badrow_checker, row)
    failure = row["data"]["failure"]
    assert failure["maximumAllowedSizeBytes"] == 2000 and failure["actualSizeBytes"] > 2000
    assert failure["expectation"] == "Enriched event exceeds the maximum allowed size of 2000 bytes"
    assert len(row["data"]["payload"]) == 200


def test_failing_enrichment_gives_enrichment_failures(iglu, badrow_checker):
    from services.enrich.enrichments.registry import Enrichment, EnrichmentFailure

    class Boom(Enrichment):
        name = "boom"
        schema_criterion = "iglu:com.acme/boom/jsonschema/1-0-*"
        slot = 5

        async def enrich(self, event, ctx, conf):
            raise EnrichmentFailure({"field": "page_url", "value": event.page_url, "expectation": "no boom"})

    config = {"schema": "iglu:com.acme/boom/jsonschema/1-0-0",
              "data": {"name": "boom", "vendor": "com.acme", "enabled": True, "parameters": {}}}
    live, errors = EnrichmentSet.from_configs([config], registry={"boom": Boom})
    assert errors == []
    pipe = support.pipeline(iglu, live)
    row = only_row(pipe, support.payload(querystring="e=pv&p=web&tv=js&url=https://x.example/"),
                   "enrichment_failures/jsonschema/2-0-1")
    support.assert_valid_bad_row(badrow_checker, row)
    assert row["data"]["failure"]["messages"] == [{
        "enrichment": {"schemaKey": "iglu:com.acme/boom/jsonschema/1-0-0", "identifier": "boom"},
        "message": {"field": "page_url", "value": "https://x.example/", "expectation": "no boom"}}]


def test_a_batch_with_a_protocol_error_emits_nothing(pipe):
    batch = support.post_body(GOOD_EVENT, {**GOOD_EVENT, "res": 5})
    outcome = support.run(pipe, support.payload(body=batch))
    assert outcome.good == [] and len(outcome.bad) == 1 and outcome.payload_outcome == "tracker_protocol_violations"


def test_oversized_bad_row_becomes_a_size_violation(iglu, badrow_checker):
    pipe = support.pipeline(iglu, max_record_bytes=5000)
    outcome = support.run(pipe, support.payload(body="x" * 20000, content_type="text/plain"))
    (row,) = support.bad_rows(outcome)
    assert row["schema"].endswith("/size_violation/jsonschema/1-0-0")
    assert row["data"]["failure"]["expectation"] == "Bad row exceeds allowed max size of 5000 bytes"
    assert outcome.payload_outcome == "tracker_protocol_violations"
    support.assert_valid_bad_row(badrow_checker, row)
