"""The DESIGN §6 ledger: per payload one payload-level outcome, or one outcome per event."""

import json

from services.enrich.outputs.ledger import Ledger
from tests.unit.enrich import support
from tests.unit.enrich.support import CONTEXTS_1_0_0

EVENT = dict(e="pv", p="web", tv="js")


def without_path(record):
    from services.common.collector_payload import decode, encode

    payload = decode(record)
    payload.path = None
    return encode(payload)


def test_mixed_requests_give_the_predicted_outcomes(iglu):
    pipe = support.pipeline(iglu, max_record_bytes=2000)
    bad_context = json.dumps({"schema": CONTEXTS_1_0_0, "data": [
        {"schema": "iglu:com.acme/checkout/jsonschema/1-0-0", "data": {"qty": 1}}]})
    records = [
        support.payload(querystring="e=pv&p=web&tv=js"),                      # 1 good
        support.payload(querystring="e=se&se_ca=c&se_ac=a&p=web&tv=js"),      # 1 good
        support.payload(body=support.post_body(EVENT, {**EVENT, "co": bad_context}, {"p": "web", "tv": "js", "e": "pp"},
                                               {**EVENT, "eid": "bad"})),    # good, sv, good, sv
        support.payload(querystring="p=web&tv=js"),                           # enrichment failure
        support.payload(querystring="e=pv&p=web&tv=js&page=" + "x" * 1900),   # size violation (event level)
        b"not thrift at all",                                                 # cpform (payload level)
        without_path(support.payload(querystring="e=pv", nuid="bad-nuid")),   # cpform with 2 messages
        support.payload(path="/com.acme/v9", querystring="e=pv"),             # adapter failure
        support.payload(body=support.post_body(EVENT), content_type="text/plain"),  # tracker protocol violation
    ]
    ledger = Ledger()
    good = bad = 0
    for record in records:
        outcome = support.run(pipe, record)
        ledger.add(outcome)
        good += len(outcome.good)
        bad += len(outcome.bad)
    counts = ledger.as_dict()
    assert ledger.check()
    assert counts["payloads"] == 9
    assert (counts["payloads_with_events"], counts["payloads_cpform"], counts["payloads_adapter_failures"],
            counts["payloads_tracker_protocol_violations"]) == (5, 2, 1, 1)
    assert counts["events"] == 8
    assert (counts["events_good"], counts["events_schema_violations"], counts["events_enrichment_failures"],
            counts["events_size_violation"]) == (4, 2, 1, 1)
    assert good == counts["good_lines"] == 4
    # Payload-level failures write one bad row each, except cpform: one row per loader message.
    assert bad == counts["bad_rows"] == 2 + 1 + 1 + 1 + 1 + 3
