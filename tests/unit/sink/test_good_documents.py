"""Enriched TSV → good document, with expected values from snowplow-formats.md §3.1a, §5.1 and §6.2."""

from __future__ import annotations

import base64
import json
import warnings

import pytest

from services.common.enriched_event import FIELDS
from services.sink import documents
from services.sink.documents import Document, LoaderBadRow

EID = "2ec13853-ef9e-414a-8976-e64a4693b134"

# §3.1a's worked example (v_collector / v_etl replaced by our identity strings, DESIGN §6).
WORKED = {
    "app_id": "site", "platform": "web", "etl_tstamp": "2022-10-10 10:42:36.123",
    "collector_tstamp": "2022-10-10 10:42:35.000", "dvce_created_tstamp": "2022-10-10 10:42:34.084",
    "event": "page_view", "event_id": EID, "name_tracker": "sp", "v_tracker": "js-4.6.8",
    "v_collector": "mini-collector-0.1.0-nsq", "v_etl": "mini-enrich-0.1.0", "user_ipaddress": "203.0.113.7",
    "domain_userid": "85094061-f702-4b62-a46d-20f7226b4741", "domain_sessionidx": "29",
    "network_userid": "ecdff4d0-9175-40ac-a8bb-325c49733607", "page_url": "https://www.example.com/a?b=c#d",
    "page_title": "Home", "page_urlscheme": "https", "page_urlhost": "www.example.com", "page_urlport": "443",
    "page_urlpath": "/a", "page_urlquery": "b=c", "page_urlfragment": "d", "useragent": "UA", "br_lang": "en-GB",
    "br_cookies": "1", "br_colordepth": "24", "br_viewwidth": "693", "br_viewheight": "1302",
    "os_timezone": "Europe/London", "dvce_screenwidth": "1920", "dvce_screenheight": "1080",
    "doc_charset": "UTF-8", "doc_width": "678", "doc_height": "8188",
    "dvce_sent_tstamp": "2022-10-10 10:42:34.094", "domain_sessionid": "be9520e7-16a5-4d4e-afa1-8e269f99a1cf",
    "derived_tstamp": "2022-10-10 10:42:34.990", "event_vendor": "com.snowplowanalytics.snowplow",
    "event_name": "page_view", "event_format": "jsonschema", "event_version": "1-0-0",
}
ATOMIC = [f for f in FIELDS if f not in ("contexts", "unstruct_event", "derived_contexts")]


def tsv(**values: str) -> bytes:
    fields = {**WORKED, **values}
    return "\t".join(fields.get(name, "") for name in FIELDS).encode()


def sdj(schema: str, data) -> dict:
    return {"schema": schema, "data": data}


def contexts(*entities) -> str:
    return json.dumps(sdj("iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1", list(entities)))


def unstruct(entity) -> str:
    return json.dumps(sdj("iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0", entity))


def doc_of(record: bytes) -> Document:
    result = documents.good_document(record)
    assert isinstance(result, Document), result
    return result


def test_worked_example_document():
    doc = doc_of(tsv())
    assert doc.id == EID
    expected = {name: None for name in ATOMIC}
    expected.update({
        "app_id": "site", "platform": "web",
        "etl_tstamp": "2022-10-10T10:42:36.123Z",
        "collector_tstamp": "2022-10-10T10:42:35Z",  # Instant.toString drops a zero fraction
        "dvce_created_tstamp": "2022-10-10T10:42:34.084Z",
        "event": "page_view", "event_id": EID, "name_tracker": "sp", "v_tracker": "js-4.6.8",
        "v_collector": "mini-collector-0.1.0-nsq", "v_etl": "mini-enrich-0.1.0", "user_ipaddress": "203.0.113.7",
        "domain_userid": "85094061-f702-4b62-a46d-20f7226b4741", "domain_sessionidx": 29,
        "network_userid": "ecdff4d0-9175-40ac-a8bb-325c49733607", "page_url": "https://www.example.com/a?b=c#d",
        "page_title": "Home", "page_urlscheme": "https", "page_urlhost": "www.example.com", "page_urlport": 443,
        "page_urlpath": "/a", "page_urlquery": "b=c", "page_urlfragment": "d", "useragent": "UA",
        "br_lang": "en-GB", "br_cookies": True, "br_colordepth": "24", "br_viewwidth": 693, "br_viewheight": 1302,
        "os_timezone": "Europe/London", "dvce_screenwidth": 1920, "dvce_screenheight": 1080,
        "doc_charset": "UTF-8", "doc_width": 678, "doc_height": 8188,
        "dvce_sent_tstamp": "2022-10-10T10:42:34.094Z", "domain_sessionid": "be9520e7-16a5-4d4e-afa1-8e269f99a1cf",
        "derived_tstamp": "2022-10-10T10:42:34.990Z", "event_vendor": "com.snowplowanalytics.snowplow",
        "event_name": "page_view", "event_format": "jsonschema", "event_version": "1-0-0",
    })
    assert doc.source == expected
    assert len(doc.source) == 128  # every atomic field, nulls kept; no geo_location without coordinates
    assert "contexts" not in doc.source and "unstruct_event" not in doc.source


def test_scalar_types():
    doc = doc_of(tsv(se_value="1.50", tr_total="49.95", ti_price="3", ti_quantity="2", txn_id="-7",
                     br_features_pdf="0", dvce_ismobile="1", geo_latitude="37.443604", geo_longitude="-122.4124",
                     true_tstamp="2013-11-26 00:03:57.885", refr_dvce_tstamp="2013-11-26 00:02:05.000"))
    s = doc.source
    assert s["se_value"] == 1.5 and isinstance(s["se_value"], float)
    assert s["tr_total"] == 49.95 and s["ti_price"] == 3.0 and isinstance(s["ti_price"], float)
    assert s["ti_quantity"] == 2 and s["txn_id"] == -7
    assert s["br_features_pdf"] is False and s["dvce_ismobile"] is True
    assert s["geo_location"] == "37.443604,-122.4124"
    assert s["true_tstamp"] == "2013-11-26T00:03:57.885Z"
    assert s["refr_dvce_tstamp"] == "2013-11-26T00:02:05Z"


def test_geo_location_needs_both_coordinates():
    assert "geo_location" not in doc_of(tsv(geo_latitude="51.5")).source
    assert doc_of(tsv(geo_latitude="51", geo_longitude="0.0001")).source["geo_location"] == "51.0,1.0E-4"


def test_event_id_is_the_canonical_uuid():
    doc = doc_of(tsv(event_id=EID.upper()))
    assert doc.id == EID and doc.source["event_id"] == EID


def test_contexts_are_shredded_with_schema_version():
    co = contexts(
        sdj("iglu:org.w3/PerformanceTiming/jsonschema/1-0-0", {"navigationStart": 1}),
        sdj("iglu:com.acme/my-entity_v2/jsonschema/2-1-3", {"a": 1}),
        sdj("iglu:com.acme/my-entity_v2/jsonschema/2-0-0", {"a": 2}),
        sdj("iglu:com.Acme-Co/user/jsonschema/1-0-0", {"id": "x"}),
    )
    doc = doc_of(tsv(contexts=co))
    s = doc.source
    assert s["contexts_org_w3_performance_timing_1"] == [{"navigationStart": 1, "_schema_version": "1-0-0"}]
    assert s["contexts_com_acme_my_entity_v2_2"] == [
        {"a": 1, "_schema_version": "2-1-3"}, {"a": 2, "_schema_version": "2-0-0"}]
    assert s["contexts_com_acme_co_user_1"] == [{"id": "x", "_schema_version": "1-0-0"}]


def test_unstruct_event_key_and_data():
    ue = unstruct(sdj("iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1",
                      {"targetUrl": "https://a.example"}))
    s = doc_of(tsv(unstruct_event=ue)).source
    assert s["unstruct_event_com_snowplowanalytics_snowplow_link_click_1"] == {"targetUrl": "https://a.example"}


def test_derived_contexts_win_a_key_clash():
    co = contexts(sdj("iglu:com.acme/thing/jsonschema/1-0-0", {"from": "contexts"}))
    derived = contexts(sdj("iglu:com.acme/thing/jsonschema/1-0-1", {"from": "derived"}),
                       sdj("iglu:nl.basjes/yauaa_context/jsonschema/1-0-4", {"deviceClass": "Desktop"}))
    s = doc_of(tsv(contexts=co, derived_contexts=derived)).source
    assert s["contexts_com_acme_thing_1"] == [{"from": "derived", "_schema_version": "1-0-1"}]
    assert s["contexts_nl_basjes_yauaa_context_1"] == [{"deviceClass": "Desktop", "_schema_version": "1-0-4"}]


def test_name_transform_examples_from_the_spec():
    assert documents.shredded_name("contexts", "iglu:org.w3/PerformanceTiming/jsonschema/1-0-0") == \
        "contexts_org_w3_performance_timing_1"
    assert documents.shredded_name("unstruct_event",
                                   "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1") == \
        "unstruct_event_com_snowplowanalytics_snowplow_link_click_1"
    assert documents.shredded_name("contexts", "iglu:com.acme/ABTest_Group/jsonschema/3-0-0") == \
        "contexts_com_acme_abtest_group_3"


def failure_of(record: bytes) -> dict:
    result = documents.good_document(record)
    assert isinstance(result, LoaderBadRow), result
    row = json.loads(result.row)
    assert row["schema"] == "iglu:com.snowplowanalytics.snowplow.badrows/loader_parsing_error/jsonschema/2-0-0"
    assert row["data"]["processor"]["artifact"] == "mini-sink"
    assert list(row["data"]) == ["processor", "failure", "payload"]
    assert base64.b64decode(row["data"]["payload"]) == record
    return row["data"]["failure"]


def test_not_tsv():
    assert failure_of(b"hello world") == {"type": "NotTSV"}


def test_field_number_mismatch():
    assert failure_of(b"a\tb\tc") == {"type": "FieldNumberMismatch", "fieldCount": 3}
    assert failure_of(tsv() + b"\textra") == {"type": "FieldNumberMismatch", "fieldCount": 132}


def test_row_decoding_errors_name_each_field():
    failure = failure_of(tsv(collector_tstamp="", domain_sessionidx="abc", br_cookies="yes",
                             event_id="not-a-uuid", etl_tstamp="2022-13-40 00:00:00.000", se_value="x1"))
    assert failure["type"] == "RowDecodingError"
    errors = {e["key"]: e for e in failure["errors"]}
    assert set(errors) == {"collector_tstamp", "domain_sessionidx", "br_cookies", "event_id", "etl_tstamp",
                           "se_value"}
    assert errors["collector_tstamp"] == {"type": "InvalidValue", "key": "collector_tstamp", "value": "",
                                          "message": "Field collector_tstamp cannot be empty"}
    assert errors["domain_sessionidx"]["message"] == "Cannot parse key domain_sessionidx into integer"
    assert errors["br_cookies"]["message"] == "Cannot parse key br_cookies into boolean"
    assert errors["event_id"]["message"] == "Cannot parse key event_id into UUID"
    assert errors["etl_tstamp"]["message"] == "Cannot parse key etl_tstamp into datetime"
    assert errors["se_value"]["message"] == "Cannot parse key se_value into double"


@pytest.mark.parametrize("field", ["event_id", "v_collector", "v_etl", "collector_tstamp"])
def test_mandatory_fields(field):
    failure = failure_of(tsv(**{field: ""}))
    assert failure["errors"][0]["message"] == f"Field {field} cannot be empty"


def test_json_columns_must_be_the_right_sdj():
    wrong = json.dumps(sdj("iglu:com.acme/other/jsonschema/1-0-0", []))
    failure = failure_of(tsv(contexts=wrong, unstruct_event="{not json"))
    errors = {e["key"]: e["message"] for e in failure["errors"]}
    assert errors["contexts"] == "Unknown payload: iglu:com.acme/other/jsonschema/1-0-0"
    assert errors["unstruct_event"].startswith("Cannot parse key unstruct_event into JSON")


# --- agreement with the Python analytics SDK (§6.1), modulo its documented differences ------------------

def test_agrees_with_python_analytics_sdk():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from snowplow_analytics_sdk.event_transformer import transform
    record = tsv(
        se_value="2.5", tr_total="49.95", geo_latitude="37.443604", geo_longitude="-122.4124",
        contexts=contexts(sdj("iglu:org.w3/PerformanceTiming/jsonschema/1-0-0", {"navigationStart": 1})),
        unstruct_event=unstruct(sdj("iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1",
                                    {"targetUrl": "u"})),
        refr_dvce_tstamp="2022-10-10 10:42:30.000",
    )
    theirs = transform(record.decode())
    ours = doc_of(record).source
    for key, value in theirs.items():
        if key == "refr_device_tstamp":  # the Python SDK's name for field 122 (§3.1)
            key = "refr_dvce_tstamp"
        mine = ours[key]
        if key.endswith("_tstamp"):  # the Python SDK keeps ".000"; Instant.toString drops it
            assert documents.instant(value[:-1].replace("T", " ")) == mine, key
        elif key == "se_value":  # the Python SDK leaves se_value a string
            assert float(value) == mine
        elif key.startswith("contexts_"):  # the Python SDK adds no _schema_version
            assert [{k: v for k, v in e.items() if k != "_schema_version"} for e in mine] == value
        else:
            assert mine == value, key
    # Ours keeps nulls for every empty field where the Python SDK omits the key.
    omitted = set(ours) - set(theirs) - {"refr_dvce_tstamp"}
    assert omitted and all(ours[k] is None for k in omitted)
