"""The 131-field enriched event: order, TSV round trip, bad-row payload types (snowplow-formats.md §3.1, §4.4)."""

import pytest

from services.common.enriched_event import FIELDS, EnrichedEvent


def test_field_order_and_count():
    assert len(FIELDS) == 131 and len(set(FIELDS)) == 131
    # Spot checks against the table of §3.1 (1-based positions).
    for position, name in [(1, "app_id"), (4, "collector_tstamp"), (7, "event_id"), (12, "v_etl"), (30, "page_url"),
                           (53, "contexts"), (59, "unstruct_event"), (78, "useragent"), (101, "os_timezone"),
                           (119, "etl_tags"), (122, "refr_dvce_tstamp"), (123, "derived_contexts"),
                           (125, "derived_tstamp"), (130, "event_fingerprint"), (131, "true_tstamp")]:
        assert FIELDS[position - 1] == name


def test_sdk_field_names_match_except_refr_dvce_tstamp():
    from snowplow_analytics_sdk.event_transformer import ENRICHED_EVENT_FIELD_TYPES

    sdk = [name for name, _ in ENRICHED_EVENT_FIELD_TYPES]
    assert len(sdk) == 131
    assert [a for a, b in zip(FIELDS, sdk) if a != b] == ["refr_dvce_tstamp"]


def test_tsv_round_trip_keeps_empty_trailing_fields():
    event = EnrichedEvent(app_id="site", event_id="2ec13853-ef9e-414a-8976-e64a4693b134")
    line = event.to_tsv()
    assert line.count("\t") == 130 and line.startswith("site\t") and line.endswith("\t")
    parsed = EnrichedEvent.from_tsv(line)
    assert parsed == event and parsed.true_tstamp is None and parsed.app_id == "site"
    assert EnrichedEvent.from_tsv(line + "\n") == event


@pytest.mark.parametrize("line", ["", "a\tb", "\t" * 131])
def test_wrong_field_count_is_a_value_error(line):
    with pytest.raises(ValueError, match="131"):
        EnrichedEvent.from_tsv(line)


def test_payload_dict_types():
    event = EnrichedEvent(app_id="a", txn_id="12", domain_sessionidx="3", geo_latitude="37.5", br_cookies="1",
                          se_value="1.50", page_urlport="443", collector_tstamp="2022-10-10 10:42:35.000")
    out = event.as_payload_dict()
    assert list(out) == list(FIELDS)
    assert out["txn_id"] == "12" and out["se_value"] == "1.50" and out["collector_tstamp"] == "2022-10-10 10:42:35.000"
    assert out["domain_sessionidx"] == 3 and out["page_urlport"] == 443 and out["br_cookies"] == 1
    assert out["geo_latitude"] == 37.5 and out["true_tstamp"] is None


def test_slots_reject_unknown_fields():
    with pytest.raises(AttributeError):
        EnrichedEvent().not_a_field = "x"
    copy = EnrichedEvent(app_id="x").copy()
    assert copy.app_id == "x"
