"""End to end, real processes: switch enrichments through enrich's admin API while events flow.

broker + iglu + enrich + collector run under the supervisor; the Python tracker sends to the collector
and an ephemeral NSQ channel reads EnrichedEvents/BadEvents.  No restart happens between the switches.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import urllib.request
import uuid

import pytest

from mini_kernel.testing.iglu import iglu_central_path
from mini_kernel.testing.processes import wait_for

pytestmark = pytest.mark.slow
SP = "com.snowplowanalytics.snowplow"
ANON = {"schema": f"iglu:{SP}/anon_ip/jsonschema/1-0-1",
        "data": {"vendor": SP, "name": "anon_ip", "enabled": True, "parameters": {"anonOctets": 2}}}
JS_SCRIPT = """
var hoard = [];
function process(event, params) {
  var app = event.getApp_id();
  if (app === 'loop') { while (true) {} }
  if (app === 'hog') { while (true) { hoard.push(new Array(100000).fill(1)); } }
  return [{schema: 'iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0',
           data: {useragentFamily: 'JS', useragentMajor: null, useragentMinor: null, osFamily: 'JS', deviceFamily: 'JS'}}];
}
"""


class Tail:
    """A minimal NSQ TCP consumer (``V2``, SUB on an ephemeral channel) that collects message bodies."""

    def __init__(self, address: str, topic: str):
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.sock.sendall(b"  V2")
        self.sock.sendall(f"SUB {topic} switching{uuid.uuid4().hex[:8]}#ephemeral\n".encode())
        kind, data = self._frame()
        assert (kind, data) == (0, b"OK"), data
        self.sock.sendall(b"RDY 100\n")
        self.bodies: list[bytes] = []

    def _read(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("nsqd closed the connection")
            buf += chunk
        return buf

    def _frame(self) -> tuple[int, bytes]:
        size, kind = struct.unpack(">ii", self._read(8))
        return kind, self._read(size - 4)

    def poll(self, seconds: float = 0.5) -> None:
        self.sock.settimeout(seconds)
        try:
            while True:
                kind, data = self._frame()
                if kind == 0 and data == b"_heartbeat_":
                    self.sock.sendall(b"NOP\n")
                elif kind == 2:
                    self.sock.sendall(b"FIN " + data[10:26] + b"\n")
                    self.bodies.append(data[26:])
        except socket.timeout:
            pass

    def wait(self, predicate, what: str, timeout: float = 90.0) -> bytes:
        def found():
            self.poll()
            return next((b for b in self.bodies if predicate(b)), None)
        return wait_for(found, timeout=timeout, interval=0.05, what=what)

    def close(self) -> None:
        self.sock.close()


def http(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def send_page_view(stack, url: str, ip: str = "203.0.113.7", app_id: str = "switching") -> None:
    from snowplow_tracker import Emitter, PageView, Subject, Tracker

    subject = Subject().set_ip_address(ip)
    tracker = Tracker(namespace="sw", emitters=Emitter(stack.collector_url.removeprefix("http://"), protocol="http",
                                                       method="get", batch_size=1), subject=subject, app_id=app_id)
    tracker.track(PageView(page_url=url))
    tracker.flush()


def tsv_for(tail: Tail, url: str) -> list[str]:
    body = tail.wait(lambda b: url.encode() in b, f"the enriched event of {url}")
    fields = body.decode().split("\t")
    assert len(fields) == 131
    return fields


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from mini_kernel.testing.stack import MiniStack

    env = {"MINI_IGLU_MIRROR_DIRS": str(iglu_central_path()), "MINI_ENRICH_JS_TIME_LIMIT_S": "0.5",
           "MINI_ENRICH_JS_MEMORY_MB": "32"}
    mini = MiniStack(tmp_path_factory.mktemp("switching"), env=env,
                     services=("broker", "iglu", "enrich", "collector")).up()
    try:
        mini.wait_healthy()
        yield mini
    finally:
        mini.down()


def test_anon_ip_switched_on_and_off_without_restart(stack):
    admin = stack.url("enrich")
    pid = stack.service("enrich")["pid"]
    code, listing = http("GET", f"{admin}/enrichments")
    assert code == 200
    by_name = {e["name"]: e for e in listing["enrichments"]}
    assert by_name["anon_ip"]["enabled"] is False and by_name["ua_parser_config"]["enabled"] is True
    tail = Tail(stack.env["MINI_NSQD_TCP_ADDRESS"], "EnrichedEvents")
    try:
        code, answer = http("PUT", f"{admin}/enrichments/anon_ip", ANON)
        assert code == 200 and answer["enrichment"]["enabled"] is True
        on = f"https://shop.example.com/on-{uuid.uuid4().hex}"
        send_page_view(stack, on)
        assert tsv_for(tail, on)[13] == "203.0.x.x"

        code, answer = http("DELETE", f"{admin}/enrichments/anon_ip")
        assert code == 200 and answer["enrichment"]["enabled"] is False
        off = f"https://shop.example.com/off-{uuid.uuid4().hex}"
        send_page_view(stack, off)
        fields = tsv_for(tail, off)
        assert fields[13] == "203.0.113.7"
        assert "ua_parser_context" in fields[122]  # the defaults kept running
    finally:
        tail.close()
    assert stack.service("enrich")["pid"] == pid  # no restart


def test_invalid_config_rejected_and_running_set_untouched(stack):
    admin = stack.url("enrich")
    _, before = http("GET", f"{admin}/enrichments")
    bad = json.loads(json.dumps(ANON))
    bad["data"]["parameters"] = {"anonOctets": 7, "oops": True}
    code, answer = http("PUT", f"{admin}/enrichments/anon_ip", bad)
    assert code == 400 and len(answer["errors"]) == 2
    _, after = http("GET", f"{admin}/enrichments")
    assert after["version"] == before["version"]


def test_runaway_scripts_become_enrichment_failures_and_enrich_stays_healthy(stack):
    admin = stack.url("enrich")
    config = {"schema": f"iglu:{SP}/javascript_script_config/jsonschema/1-0-1",
              "data": {"vendor": SP, "name": "javascript_script_config", "enabled": True,
                       "parameters": {"script": base64.b64encode(JS_SCRIPT.encode()).decode()}}}
    bad_tail = Tail(stack.env["MINI_NSQD_TCP_ADDRESS"], "BadEvents")
    good_tail = Tail(stack.env["MINI_NSQD_TCP_ADDRESS"], "EnrichedEvents")
    try:
        assert http("PUT", f"{admin}/enrichments/javascript_script_config", config)[0] == 200
        urls = {}
        for app in ("loop", "hog"):
            urls[app] = f"https://shop.example.com/{app}-{uuid.uuid4().hex}"
            send_page_view(stack, urls[app], app_id=app)
        for app, needle in (("loop", "time limit"), ("hog", "memory limit")):
            row = json.loads(bad_tail.wait(lambda b, u=urls[app]: u.encode() in b, f"the bad row of {app}"))
            assert row["schema"].startswith("iglu:com.snowplowanalytics.snowplow.badrows/enrichment_failures/")
            assert needle in json.dumps(row["data"]["failure"]["messages"])
        fine = f"https://shop.example.com/fine-{uuid.uuid4().hex}"
        send_page_view(stack, fine, app_id="fine")
        assert '"useragentFamily":"JS"' in tsv_for(good_tail, fine)[122]
        assert stack.service("enrich")["healthy"] is True
    finally:
        http("DELETE", f"{admin}/enrichments/javascript_script_config")
        bad_tail.close()
        good_tail.close()


def test_changes_survive_an_enrich_restart(stack):
    admin = stack.url("enrich")
    assert http("PUT", f"{admin}/enrichments/anon_ip", ANON)[0] == 200
    try:
        old_pid = stack.service("enrich")["pid"]
        stack.restart("enrich")
        stack.wait_healthy("enrich", other_than=old_pid)
        admin = stack.url("enrich")
        _, listing = http("GET", f"{admin}/enrichments")
        assert {e["name"]: e["enabled"] for e in listing["enrichments"]}["anon_ip"] is True
        tail = Tail(stack.env["MINI_NSQD_TCP_ADDRESS"], "EnrichedEvents")
        try:
            url = f"https://shop.example.com/restarted-{uuid.uuid4().hex}"
            send_page_view(stack, url, ip="198.51.100.23")
            assert tsv_for(tail, url)[13] == "198.51.x.x"
        finally:
            tail.close()
    finally:
        http("DELETE", f"{stack.url('enrich')}/enrichments/anon_ip")
