"""Hot reload end to end: a schema published to the local Iglu Server is used by the very next event,
and a stricter patch of it applies to the very next one after that — enrich is never restarted."""

import json
import urllib.request

import pytest

from tests.service.enrich import support
from tests.unit.enrich import support as payloads
from tests.unit.enrich.support import SELF_DESC, UNSTRUCT

pytestmark = pytest.mark.slow


def put_schema(iglu_server, body: dict) -> int:
    schema = {"$schema": SELF_DESC,
              "self": {"vendor": "com.acme", "name": "hot", "format": "jsonschema", "version": "1-0-0"}, **body}
    request = urllib.request.Request(f"{iglu_server.url}/api/schemas/com.acme/hot/jsonschema/1-0-0",
                                     data=json.dumps(schema).encode(), method="PUT",
                                     headers={"apikey": iglu_server.api_key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def test_publish_then_patch_applies_to_the_next_event(spawn, iglu_server, iglu_central_dir):
    broker = support.start_broker(spawn)
    enrich = spawn("enrich", "services.enrich", env=support.enrich_env(broker, iglu_central_dir))
    record = payloads.payload(body=payloads.post_body(dict(e="ue", p="web", tv="js", ue_pr=json.dumps(
        {"schema": UNSTRUCT, "data": {"schema": "iglu:com.acme/hot/jsonschema/1-0-0", "data": {"n": 5}}}))))

    def send_and_count(n: int) -> dict:
        broker.mpub([record])
        return support.wait_payloads(enrich, n)["counters"]

    counters = send_and_count(1)
    assert counters["events_schema_violations"] == 1  # not published yet: a resolution error
    assert put_schema(iglu_server, {"type": "object", "properties": {"n": {"type": "integer"}}}) == 201
    counters = send_and_count(2)
    assert (counters["events_good"], counters["events_schema_violations"]) == (1, 1)
    assert put_schema(iglu_server, {"type": "object", "properties": {"n": {"type": "integer", "maximum": 3}}}) == 200
    counters = send_and_count(3)
    assert (counters["events_good"], counters["events_schema_violations"]) == (1, 2)
