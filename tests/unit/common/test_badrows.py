"""Every bad-row builder validates against its schema in Iglu Central (snowplow-formats.md §4)."""

import asyncio
import json

import pytest

from services.common import badrows
from services.common.badrows import ENRICH

COLLECTOR_PAYLOAD = {
    "vendor": "com.snowplowanalytics.snowplow", "version": "tp2", "querystring": [{"name": "e", "value": None}],
    "contentType": "text/plain", "body": "x", "collector": "mini-collector-0.1.0-nsq", "encoding": "UTF-8",
    "hostname": None, "timestamp": "2024-05-01T10:00:00.000Z", "ipAddress": "203.0.113.7", "useragent": "UA",
    "refererUri": None, "headers": ["Host: c.example.com"], "networkUserId": "ecdff4d0-9175-40ac-a8bb-325c49733607"}
RAW = {"vendor": "com.snowplowanalytics.snowplow", "version": "tp2", "parameters": [{"name": "e", "value": "pv"}],
       "contentType": None, "loaderName": "mini-collector-0.1.0-nsq", "encoding": "UTF-8", "hostname": None,
       "timestamp": "2024-05-01T10:00:00.000Z", "ipAddress": None, "useragent": None, "refererUri": None,
       "headers": [], "userId": None}


@pytest.fixture(scope="module")
def checker(iglu_central_dir):
    from services.iglu.client import IgluClient

    return IgluClient.from_resolver_config({
        "schema": "iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-3",
        "data": {"cacheSize": 100, "cacheTtl": None, "repositories": [
            {"name": "central", "priority": 0, "vendorPrefixes": [],
             "connection": {"embedded": {"path": str(iglu_central_dir)}}}]}})


def enriched():
    from services.common.enriched_event import EnrichedEvent

    return EnrichedEvent(event_id="2ec13853-ef9e-414a-8976-e64a4693b134", br_cookies="1").as_payload_dict()


ROWS = {
    "size_violation": lambda: badrows.size_violation(ENRICH, 100, 200, "too big", "abc"),
    "collector_payload_format_violation": lambda: badrows.cpform_violation(
        ENRICH, {"payloadField": "networkUserId", "value": "x", "expectation": "not valid UUID"}, "AAAA"),
    "adapter_failures": lambda: badrows.adapter_failures(
        ENRICH, "com.foo", "v1", [{"field": "vendor/version", "value": "com.foo/v1",
                                   "expectation": "vendor/version combination is not supported"}], COLLECTOR_PAYLOAD),
    "tracker_protocol_violations": lambda: badrows.tracker_protocol_violations(
        ENRICH, "com.snowplowanalytics.snowplow", "tp2",
        [{"schemaKey": "iglu:com.acme/x/jsonschema/1-0-0",
          "schemaCriterion": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-*"}], COLLECTOR_PAYLOAD),
    "schema_violations": lambda: badrows.schema_violations(
        ENRICH, [{"schemaKey": "iglu:com.snowplowanalytics.snowplow/atomic/jsonschema/1-0-0", "error": {
            "dataReports": [{"message": "Not a valid platform", "path": "p", "keyword": "atomic_field_parse_error",
                             "targets": []}], "error": "ValidationError"}}], enriched(), RAW),
    "enrichment_failures": lambda: badrows.enrichment_failures(
        ENRICH, [{"enrichment": None, "message": {"field": "v_collector", "value": None, "expectation": "should be set"}}],
        enriched(), RAW),
    "generic_error": lambda: badrows.generic_error(ENRICH, ["gave up"], "payload"),
}


@pytest.mark.parametrize("kind", list(ROWS))
def test_builder_output_validates(checker, kind):
    row = json.loads(ROWS[kind]())
    assert row["schema"] == f"iglu:com.snowplowanalytics.snowplow.badrows/{kind}/jsonschema/{badrows.VERSIONS[kind]}"
    assert list(row["data"]) == ["processor", "failure", "payload"]
    assert row["data"]["processor"] == {"artifact": "mini-enrich", "version": badrows.ENRICH.version}
    result = asyncio.run(checker.check(row))
    assert result.ok, result.error


def test_versions_are_those_badrows_2_3_0_emits():
    assert badrows.VERSIONS["tracker_protocol_violations"] == "1-0-1"
    assert badrows.VERSIONS["schema_violations"] == badrows.VERSIONS["enrichment_failures"] == "2-0-1"
    assert badrows.VERSIONS["collector_payload_format_violation"] == badrows.VERSIONS["adapter_failures"] == "1-0-0"


def test_joda_and_fit():
    assert badrows.joda(1665398555000) == "2022-10-10T10:42:35.000Z"
    assert badrows.joda(1665398555123) == "2022-10-10T10:42:35.123Z"
    assert badrows.fit("abcdef", 3) == "abc" and badrows.fit(None, 3) is None and badrows.fit("ab", 3) == "ab"
