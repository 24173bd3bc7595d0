"""The real Python tracker (snowplow-tracker 1.1.0) against a running collector and broker:
GET and POST, base64 on and off; every sent event is found on RawEvents field for field."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl

import pytest
from snowplow_tracker import Emitter, PageView, SelfDescribing, SelfDescribingJson, StructuredEvent, Tracker

from services import __version__

from .support import Pipeline, raw_payloads_with_events

TP2 = "/com.snowplowanalytics.snowplow/tp2"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    pipe = Pipeline(tmp_path_factory.mktemp("collector-py")).start()
    yield pipe
    pipe.stop()


def events_of(payload) -> list[dict]:
    if payload.path == "/i":
        return [dict(parse_qsl(payload.querystring, keep_blank_values=True))]
    body = json.loads(payload.body)
    assert body["schema"] == "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
    return body["data"]


def b64(text: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("encode_base64", [True, False], ids=["base64", "plain"])
def test_python_tracker(pipeline, method, encode_base64):
    sent: list[dict] = []
    failed: list = []
    port = int(pipeline.url.rsplit(":", 1)[1])
    emitter = Emitter("127.0.0.1", protocol="http", port=port, method=method, batch_size=1,
                      on_success=lambda batch: sent.extend(batch), on_failure=lambda n, batch: failed.append(batch))
    tracker = Tracker(namespace="py-ns", emitters=emitter, app_id=f"py-{method}-{encode_base64}", encode_base64=encode_base64)
    entity = SelfDescribingJson("iglu:com.acme/entity/jsonschema/1-0-0", {"level": 3})
    tracker.track(PageView(page_url="https://shop.example/cart?x=1", page_title="Cart ✓", context=[entity]))
    tracker.track(StructuredEvent(category="shop", action="add", label="sku-1", property_="size", value=2.5))
    tracker.track(SelfDescribing(SelfDescribingJson("iglu:com.acme/clicked/jsonschema/1-0-0", {"id": "é-1"})))
    emitter.flush()
    assert not failed and len(sent) == 3

    payloads = raw_payloads_with_events(pipeline.nsqd, 3)
    received = [event for p in payloads for event in events_of(p)]
    assert len(received) == 3
    by_eid = {e["eid"]: e for e in received}
    for event in sent:
        got = by_eid[event["eid"]]
        expected = {k: str(v) for k, v in event.items()}
        extra = {k: v for k, v in got.items() if k not in expected}
        assert {k: got.get(k) for k in expected} == expected
        assert set(extra) <= {"stm"}

    for payload in payloads:
        assert payload.path == ("/i" if method == "get" else TP2)
        assert payload.collector == f"mini-collector-{__version__}-nsq"
        assert payload.ip_address == "127.0.0.1"
        assert payload.hostname == "127.0.0.1"
        assert payload.user_agent and payload.user_agent.startswith("python-requests")
        if method == "post":
            assert payload.content_type == "application/json; charset=utf-8"
            assert payload.headers[-1] == "application/json; charset=utf-8"
        else:
            assert payload.content_type is None and payload.body is None

    pv = next(e for e in received if e["e"] == "pv")
    ue = next(e for e in received if e["e"] == "ue")
    assert pv["url"] == "https://shop.example/cart?x=1" and pv["page"] == "Cart ✓"
    if encode_base64:
        contexts, unstruct = b64(pv["cx"]), b64(ue["ue_px"])
    else:
        contexts, unstruct = json.loads(pv["co"]), json.loads(ue["ue_pr"])
    assert contexts["data"] == [{"schema": "iglu:com.acme/entity/jsonschema/1-0-0", "data": {"level": 3}}]
    assert unstruct["data"] == {"schema": "iglu:com.acme/clicked/jsonschema/1-0-0", "data": {"id": "é-1"}}
    se = next(e for e in received if e["e"] == "se")
    assert (se["se_ca"], se["se_ac"], se["se_la"], se["se_pr"], float(se["se_va"])) == ("shop", "add", "sku-1", "size", 2.5)
