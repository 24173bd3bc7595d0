"""Sink processes with a real broker and search cluster: the ledger, rejections, kill -9, retention, reset."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest

from mini_kernel.testing.processes import wait_for
from services.sink import archive

from tests.unit.sink.test_good_documents import tsv

BADROWS = "iglu:com.snowplowanalytics.snowplow.badrows"


def eid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def ue(data) -> str:
    return json.dumps({"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
                       "data": {"schema": "iglu:com.acme/thing/jsonschema/1-0-0", "data": data}})


def bad_row(n: int) -> bytes:
    return json.dumps({"schema": f"{BADROWS}/size_violation/jsonschema/1-0-0", "data": {
        "processor": {"artifact": "mini-collector", "version": "0.1.0"},
        "failure": {"timestamp": "2024-05-01T10:00:00.123Z", "maximumAllowedSizeBytes": 100,
                    "actualSizeBytes": 100 + n, "expectation": "oversized"},
        "payload": f"payload {n}"}}).encode()


def test_ledger_rejections_are_archived(pipeline):
    pipeline.publish("EnrichedEvents", [tsv(event_id=eid(n)) for n in range(50)])
    pipeline.publish("EnrichedEvents", [tsv(event_id=eid(100), unstruct_event=ue({"a": 1}))])
    wait_for(lambda: pipeline.settled(pipeline.good, 51), timeout=60, what="first batch")
    # The second document clashes with the mapping the first one created dynamically; the third is no TSV.
    pipeline.publish("EnrichedEvents", [tsv(event_id=eid(101), unstruct_event=ue({"a": {"b": 1}})), b"garbage"])
    pipeline.publish("BadEvents", [bad_row(n) for n in range(5)] + [bad_row(0)])  # one redelivered row
    good = pipeline.wait_settled(pipeline.good, 53)
    assert good["received"] == good["indexed"] + good["rejected"] == 53
    assert good["rejected"] == 2 and good["index_rejections"] == 1 and good["parse_errors"] == 1
    bad = pipeline.wait_settled(pipeline.bad, 6)
    assert bad["received"] == bad["indexed"] + bad["rejected"] == 6
    assert pipeline.count("good") == 51
    assert pipeline.count("bad") == 5  # deterministic ids: the repeated bad row overwrote itself
    # Both rejections are on BadElasticsearchEvents, archived by the bad sink.
    rows = wait_for(lambda: (r := archive.read(pipeline.home, "BadElasticsearchEvents")) and len(r) >= 2 and r,
                    timeout=60, what="archived rejections")
    parsed = [json.loads(r) for r in rows]
    assert {p["schema"].split("/")[1] for p in parsed} == {"generic_error", "loader_parsing_error"}
    generic = next(p for p in parsed if "generic_error" in p["schema"])
    assert generic["data"]["failure"]["errors"][0].startswith(
        "Failed to write to Elasticsearch: mapper_parsing_exception: ")
    assert json.loads(generic["data"]["payload"])["event_id"] == eid(101)
    assert pipeline.status(pipeline.bad)["counters"]["archived_BadElasticsearchEvents"] == 2
    # PiiEvents are archived too.
    pipeline.publish("PiiEvents", [b"pii-event-1"])
    wait_for(lambda: archive.read(pipeline.home, "PiiEvents") == [b"pii-event-1"], timeout=60, what="PII archived")
    hit = pipeline.es.search(index="bad", body={"query": {"term": {"data.failure.actualSizeBytes": 103}}})
    assert hit["hits"]["hits"][0]["_source"]["data"]["payload_str"] == "payload 3"


# Durability is the broker's and the sink's, not the search target's: one target is enough here.
@pytest.mark.parametrize("search_url", ["embedded"], indirect=True)
def test_kill9_and_redelivery_leave_no_duplicate_and_no_gap(pipeline):
    total = 1500
    bodies = [tsv(event_id=eid(n)) for n in range(total)]

    def feed():
        for start in range(0, total, 50):
            pipeline.publish("EnrichedEvents", bodies[start:start + 50])
            time.sleep(0.01)

    feeder = threading.Thread(target=feed)
    feeder.start()
    wait_for(lambda: pipeline.count("good") >= 200, timeout=60, what="some events indexed")
    pipeline.good.kill9()  # mid-stream: un-FIN'd messages go back to the channel
    feeder.join(60)
    restarted = pipeline.restart("good")
    wait_for(lambda: pipeline.count("good") >= total, timeout=120, what="every event indexed after restart")
    pipeline.publish("EnrichedEvents", bodies[:300])  # a redelivery of the first 300
    wait_for(lambda: pipeline.status(restarted)["counters"]["indexed"] >= 300 or None, timeout=60,
             what="the redelivered events")
    counters = pipeline.status(restarted)["counters"]
    assert counters["rejected"] == 0
    assert pipeline.count("good") == total  # no duplicate
    found = pipeline.es.count(index="good", body={"query": {"ids": {"values": [eid(n) for n in range(total)]}}})
    assert found["count"] == total  # no gap


def test_retention_and_reset_over_http(pipeline):
    now = dt.datetime.now(dt.timezone.utc)
    old = (now - dt.timedelta(days=8)).strftime("%Y-%m-%d %H:%M:%S.000")
    recent = (now - dt.timedelta(days=6)).strftime("%Y-%m-%d %H:%M:%S.000")
    pipeline.publish("EnrichedEvents", [tsv(event_id=eid(1), collector_tstamp=old),
                                        tsv(event_id=eid(2), collector_tstamp=recent)])
    pipeline.wait_settled(pipeline.good, 2)
    result = pipeline.post(pipeline.good, "/retention", {"days": 7})
    assert result["deleted"] == {"good": 1}
    assert [h["_id"] for h in pipeline.es.search(index="good")["hits"]["hits"]] == [eid(2)]
    assert pipeline.post(pipeline.good, "/retention", {"days": 5})["deleted"] == {"good": 1}
    assert pipeline.count("good") == 0
    # reset: both indexes emptied and recreated with the shipped mappings
    pipeline.publish("EnrichedEvents", [tsv(event_id=eid(1), unstruct_event=ue({"a": 1}))])
    pipeline.publish("BadEvents", [bad_row(1)])
    pipeline.wait_settled(pipeline.good, 3)
    pipeline.wait_settled(pipeline.bad, 1)
    assert pipeline.count("good") == 1 and pipeline.count("bad") == 1
    assert pipeline.post(pipeline.bad, "/reset") == {"reset": {"good": "good", "bad": "bad"}}
    assert pipeline.count("good") == 0 and pipeline.count("bad") == 0
    props = pipeline.es.indices.get_mapping(index="good")["good"]["mappings"]["properties"]
    assert "unstruct_event_com_acme_thing_1" not in props and props["derived_tstamp"]["type"] == "date"
    # The sinks keep loading into the recreated indexes.
    pipeline.publish("EnrichedEvents", [tsv(event_id=eid(2))])
    wait_for(lambda: pipeline.count("good") == 1, timeout=60, what="an event after reset")
