"""End to end: the Python tracker → collector → enrich → sinks → ``good``/``bad``, read with opensearch-py.

Runs the whole stack (``mini up``) twice: with the embedded search node, and against an external
cluster through ``MINI_OPENSEARCH_URL`` (osmem-server standing in for a real OpenSearch: the embedded
node is then not started).  Bad rows of each type the pipeline can reach land in ``bad``.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.request
import uuid

import pytest
from opensearchpy import OpenSearch
from osmem_server import OsmemServer

from mini_kernel.testing.iglu import iglu_central_path
from mini_kernel.testing.processes import wait_for
from mini_kernel.testing.stack import MiniStack

pytestmark = pytest.mark.slow

BADROWS = "iglu:com.snowplowanalytics.snowplow.badrows"
MAX_PAYLOAD = 20_000


@pytest.fixture(scope="module", params=["embedded", "external"])
def stack(request, tmp_path_factory):
    env = {"MINI_IGLU_MIRROR_DIRS": str(iglu_central_path()), "MINI_COLLECTOR_MAX_PAYLOAD_SIZE": str(MAX_PAYLOAD),
           "MINI_COLLECTOR_SINK_MAX_BYTES": str(MAX_PAYLOAD // 2)}
    osmem = None
    if request.param == "embedded":
        if importlib.util.find_spec("services.search.__main__") is None:
            pytest.skip("the embedded search node (services.search) has no __main__ yet")
    else:
        osmem = OsmemServer.start()
        env["MINI_OPENSEARCH_URL"] = osmem.url
    mini = MiniStack(tmp_path_factory.mktemp("e2e"), env=env).up()
    try:
        search = mini.service("search") if request.param == "embedded" else None
        url = f"http://127.0.0.1:{search['port']}" if search else osmem.url
        mini.es = OpenSearch(hosts=[url])
        mini.target = request.param
        yield mini
    finally:
        mini.down()
        if osmem is not None:
            osmem.close()
            if osmem.process.stdout is not None:
                osmem.process.stdout.close()


def tracker(stack, method: str = "post"):
    from snowplow_tracker import Emitter, Tracker

    host = stack.collector_url.removeprefix("http://")
    return Tracker(namespace="e2e", emitters=Emitter(host, protocol="http", method=method, batch_size=1),
                   app_id="e2e-app")


def find(es: OpenSearch, index: str, query: dict, n: int = 1, timeout: float = 60) -> list[dict]:
    def hits():
        es.indices.refresh(index=index)
        found = es.search(index=index, body={"query": query, "size": 50})["hits"]["hits"]
        return found if len(found) >= n else None

    return wait_for(hits, timeout=timeout, what=f"{n} hits in {index} for {json.dumps(query)}")


def post(url: str, body: bytes, content_type: str) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def test_tracker_events_are_searchable_in_good(stack):
    from snowplow_tracker import PageView, SelfDescribing, SelfDescribingJson, StructuredEvent

    t = tracker(stack)
    web_page = SelfDescribingJson("iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",
                                  {"id": str(uuid.uuid4())})
    pv = t.track(PageView(page_url="https://www.example.com/a?b=c#d", page_title="Home", context=[web_page]))
    se = t.track(StructuredEvent(category="shop", action="add", label="sku-1", value=2.5))
    click = t.track(SelfDescribing(SelfDescribingJson(
        "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1", {"targetUrl": "https://a.example"})))
    t.flush()
    es = stack.es
    doc = find(es, "good", {"ids": {"values": [pv]}})[0]
    assert doc["_id"] == pv
    s = doc["_source"]
    assert s["event"] == "page_view" and s["app_id"] == "e2e-app" and s["platform"] == "pc"
    assert s["page_urlhost"] == "www.example.com" and s["page_urlport"] == 443 and s["page_urlfragment"] == "d"
    assert s["v_collector"].startswith("mini-collector-") and s["v_etl"].startswith("mini-enrich-")
    assert s["v_tracker"].startswith("py-") and s["collector_tstamp"].endswith("Z")
    assert s["contexts_com_snowplowanalytics_snowplow_web_page_1"][0]["_schema_version"] == "1-0-0"
    assert s["user_id"] is None  # nulls are kept (§5.1)
    se_doc = find(es, "good", {"term": {"event_id": se}})[0]["_source"]
    assert se_doc["se_category"] == "shop" and se_doc["se_value"] == 2.5
    ue = find(es, "good", {"term": {"event_id": click}})[0]["_source"]
    assert ue["unstruct_event_com_snowplowanalytics_snowplow_link_click_1"] == {"targetUrl": "https://a.example"}
    # Typed timestamps: range queries with date math work on derived_tstamp too.
    recent = es.count(index="good", body={"query": {"range": {"derived_tstamp": {"gte": "now-1h"}}}})["count"]
    assert recent >= 3
    # The index is reachable through the public origin's /elasticsearch mount, as in Mini.
    public = OpenSearch(hosts=[stack.collector_url + "/elasticsearch"])
    assert public.count(index="good", body={"query": {"ids": {"values": [pv, se, click]}}})["count"] == 3


def test_bad_rows_of_each_type_are_in_bad(stack):
    from snowplow_tracker import SelfDescribing, SelfDescribingJson

    es = stack.es
    collector = stack.collector_url
    tag = uuid.uuid4().hex
    # schema_violations: a self-describing event whose schema no registry has.
    tracker(stack).track(SelfDescribing(SelfDescribingJson(f"iglu:com.acme.{tag}/missing/jsonschema/1-0-0", {})))
    # tracker_protocol_violations: a tp2 body that is not payload_data.
    post(f"{collector}/com.snowplowanalytics.snowplow/tp2", json.dumps({"not": tag}).encode(), "application/json")
    # adapter_failures: a vendor adapter given a body it cannot read.
    post(f"{collector}/com.mailchimp/v1", f"not a form body {tag}".encode(), "application/json")
    # size_violation: a POST larger than the collector's maximum payload size.
    big = json.dumps({"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
                      "data": [{"e": "pv", "p": "web", "tv": "x", "aid": tag, "page": "x" * (2 * MAX_PAYLOAD)}]})
    post(f"{collector}/com.snowplowanalytics.snowplow/tp2", big.encode(), "application/json")

    def kinds():
        es.indices.refresh(index="bad")
        found = es.search(index="bad", body={"size": 200, "query": {"match_all": {}}})["hits"]["hits"]
        return {h["_source"]["schema"].split("/")[1] for h in found}

    wanted = {"schema_violations", "tracker_protocol_violations", "adapter_failures", "size_violation"}
    got = wait_for(lambda: (k := kinds()) >= wanted and k, timeout=90, what=f"bad rows of types {sorted(wanted)}")
    assert got >= wanted
    # The §5.2 rewrite: a size_violation's payload is stored as data.payload_str, timestamps are dates.
    size = find(es, "bad", {"term": {"schema": f"{BADROWS}/size_violation/jsonschema/1-0-0"}})[0]["_source"]
    assert isinstance(size["data"]["payload_str"], str) and "payload" not in size["data"]
    assert es.count(index="bad", body={"query": {"range": {"data.failure.timestamp": {"gte": "now-1h"}}}})["count"] >= 4


def test_sink_ledgers_balance(stack):
    def balanced():
        doc = stack.status()["services"]
        out = {}
        for name in ("sink-good", "sink-bad"):
            c = doc[name]["counters"]
            if c["in_flight"] or c["received"] != c["indexed"] + c["rejected"]:
                return None
            out[name] = c
        return out

    counters = wait_for(balanced, timeout=60, what="sink ledgers to balance")
    assert counters["sink-good"]["received"] >= 3 and counters["sink-bad"]["received"] >= 4


def test_reset_through_the_cli(stack):
    from services.sink import cli

    assert cli.reset(stack.home) == {"good": "good", "bad": "bad"}
    assert stack.es.count(index="good")["count"] == 0
    props = stack.es.indices.get_mapping(index="good")["good"]["mappings"]["properties"]
    assert props["collector_tstamp"]["type"] == "date"
