"""enrich as a process between a real broker's topics: outcomes, ledger, at-least-once, kill -9."""

import json
import uuid

import pytest

from mini_kernel.testing.processes import ServiceProcess, wait_for
from services.common.enriched_event import EnrichedEvent
from tests.service.enrich import support
from tests.unit.enrich import support as payloads

pytestmark = pytest.mark.slow


def test_mixed_payloads_through_the_broker(spawn, iglu_central_dir):
    broker = support.start_broker(spawn)
    broker.channel("EnrichedEvents", "test")
    broker.channel("BadEvents", "test")
    enrich = spawn("enrich", "services.enrich", env=support.enrich_env(broker, iglu_central_dir))
    event = dict(e="pv", p="web", tv="py-1.1.0")
    records = [
        payloads.payload(querystring="e=pv&p=web&tv=js&aid=get"),
        payloads.payload(body=payloads.post_body(event, {**event, "e": "pp"}, {**event, "eid": "bad"})),
        payloads.payload(path="/com.acme/v9", querystring="e=pv"),
        b"garbage",
    ]
    broker.mpub(records)
    state = support.wait_payloads(enrich, 4)
    counters = state["counters"]
    assert (counters["payloads"], counters["events"], counters["events_good"], counters["events_schema_violations"],
            counters["payloads_adapter_failures"], counters["payloads_cpform"]) == (4, 4, 3, 1, 1, 1)
    wait_for(lambda: broker.drained(), timeout=30, what="RawEvents/enrich drained")
    good = broker.read("EnrichedEvents", "test", 3)
    tsv = [EnrichedEvent.from_tsv(line.decode()) for line in good]
    assert sorted(e.event for e in tsv) == ["page_ping", "page_view", "page_view"]
    assert {e.v_etl for e in tsv} == {"mini-enrich-0.1.0"}
    bad = [json.loads(b) for b in broker.read("BadEvents", "test", 3)]
    assert sorted(b["schema"].split("/")[1] for b in bad) == [
        "adapter_failures", "collector_payload_format_violation", "schema_violations"]
    assert broker.count("EnrichedEvents") == counters["good_lines"] == 3
    assert broker.count("BadEvents") == counters["bad_rows"] == 3


def test_kill_9_mid_stream_loses_nothing(spawn, mini_home, iglu_central_dir):
    """Every payload has its outcome after a kill -9 and a restart (duplicates allowed, none missing)."""
    broker = support.start_broker(spawn)
    broker.channel("EnrichedEvents", "test")
    env = support.enrich_env(broker, iglu_central_dir)
    ids = [str(uuid.uuid4()) for _ in range(400)]
    records = [payloads.payload(body=payloads.post_body(
        *[dict(e="pv", p="web", tv="js", eid=eid) for eid in ids[i:i + 4]])) for i in range(0, len(ids), 4)]
    enrich = ServiceProcess("enrich", "services.enrich", mini_home, env=env).start()
    try:
        broker.mpub(records[:50])
        wait_for(lambda: support.status(enrich)["counters"]["payloads"] >= 5, timeout=120, what="some progress")
        enrich.kill9()
        broker.mpub(records[50:])
    finally:
        enrich.kill9()
    restarted = spawn("enrich", "services.enrich", env=env)
    wait_for(lambda: broker.drained(), timeout=180, what="RawEvents/enrich drained after the restart")
    assert support.status(restarted)["counters"]["events_good"] >= 1
    total = broker.count("EnrichedEvents")
    assert total >= len(ids)
    seen = {EnrichedEvent.from_tsv(line.decode()).event_id for line in broker.read("EnrichedEvents", "test", total)}
    assert set(ids) <= seen
