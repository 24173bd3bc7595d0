"""The real JavaScript trackers against a running collector and broker, read back from RawEvents:
``@snowplow/node-tracker`` (eventMethod get and post) under node, and ``@snowplow/browser-tracker`` in
Debian's headless Chromium driven by playwright-core (POST with a CORS preflight, and GET)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.service.collector.support import Pipeline, raw_payloads_with_events, tracker_events

HERE = Path(__file__).parent
REPO = HERE.parents[2]
NODE_MODULES = REPO / "node_modules"
NODE = shutil.which("node")
CHROMIUM = Path("/usr/bin/chromium")

needs_node = pytest.mark.skipif(
    NODE is None or not (NODE_MODULES / "@snowplow" / "node-tracker").is_dir(),
    reason="needs node and `npm ci` at the repo root (node_modules/@snowplow/node-tracker)",
)
needs_browser = pytest.mark.skipif(
    NODE is None or not (NODE_MODULES / "playwright-core").is_dir() or not (NODE_MODULES / "@snowplow" / "browser-tracker").is_dir()
    or not CHROMIUM.exists(),
    reason="needs node, `npm ci` (playwright-core, @snowplow/browser-tracker) and Debian's chromium at /usr/bin/chromium",
)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    pipe = Pipeline(tmp_path_factory.mktemp("collector-js")).start()
    yield pipe
    pipe.stop()


def port_of(pipeline) -> str:
    return pipeline.url.rsplit(":", 1)[1]


def run_node(script: str, *args: str, timeout: float = 180) -> list[dict]:
    result = subprocess.run([NODE, str(HERE / script), *args], capture_output=True, text=True, timeout=timeout,
                            cwd=REPO, env={**os.environ, "NODE_PATH": str(NODE_MODULES)})
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def received_events(payloads) -> list[dict]:
    return [event for payload in payloads for event in tracker_events(payload)]


def assert_found_field_for_field(sent: list[dict], received: list[dict]) -> None:
    by_eid = {e["eid"]: e for e in received}
    assert len(by_eid) == len(received) == len(sent)
    for event in sent:
        got = by_eid[event["eid"]]
        for key, value in event.items():
            assert got[key] == str(value), (key, value, got.get(key))
        assert set(got) - set(event) <= {"stm"}


def b64(text: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


@pytest.mark.node
@needs_node
@pytest.mark.parametrize("method", ["get", "post"])
def test_node_tracker(pipeline, method):
    sent = run_node("node_tracker.mjs", port_of(pipeline), method)
    assert len(sent) == 3
    payloads = raw_payloads_with_events(pipeline.nsqd, len(sent))
    received = received_events(payloads)
    assert_found_field_for_field(sent, received)
    paths = {p.path for p in payloads}
    assert paths == ({"/i"} if method == "get" else {"/com.snowplowanalytics.snowplow/tp2"})
    ue = next(e for e in received if e["e"] == "ue")
    unstruct = b64(ue["ue_px"]) if method == "get" else json.loads(ue["ue_pr"])
    assert unstruct["data"] == {"schema": "iglu:com.acme/clicked/jsonschema/1-0-0", "data": {"id": "é-1"}}
    for payload in payloads:
        assert payload.ip_address == "127.0.0.1" and payload.network_user_id
        if method == "post":
            assert payload.content_type == "application/json; charset=utf-8"


@pytest.mark.browser
@needs_browser
@pytest.mark.parametrize("method", ["post", "get"])
def test_browser_tracker(pipeline, method, tmp_path):
    before = pipeline.status()["requests"].get("preflight", {}).get("200", 0)
    sent = run_node("browser_tracker.mjs", port_of(pipeline), method, str(tmp_path / "chromium-profile"))
    assert [e["e"] for e in sent] == ["pv", "se"]
    payloads = raw_payloads_with_events(pipeline.nsqd, len(sent))
    received = received_events(payloads)
    assert_found_field_for_field(sent, received)
    pv = next(e for e in received if e["e"] == "pv")
    assert pv["page"] == "Shop page" and pv["url"].endswith("/shop/cart?ref=1") and pv["p"] == "web"
    se = next(e for e in received if e["e"] == "se")
    assert (se["se_ca"], se["se_ac"], se["se_la"], se["se_pr"], se["se_va"]) == ("shop", "add", "sku-1", "size", "2")
    for payload in payloads:
        assert "Chrome" in (payload.user_agent or "")
        assert any(h.startswith("Origin: http://127.0.0.1:") for h in payload.headers)
        assert uuid_like(payload.network_user_id)
        if method == "post":
            assert payload.path == "/com.snowplowanalytics.snowplow/tp2"
            assert payload.content_type == "application/json; charset=utf-8"
        else:
            assert payload.path == "/i"
    if method == "post":
        after = pipeline.status()["requests"].get("preflight", {}).get("200", 0)
        assert after > before, "the browser sent no CORS preflight"


def uuid_like(value: str | None) -> bool:
    import uuid

    try:
        uuid.UUID(value or "")
    except ValueError:
        return False
    return True
