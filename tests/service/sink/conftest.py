"""A broker, a search target and both sinks as real processes, for the sink service tests.

Search targets: osmem-server (an in-memory OpenSearch stand-in) always; the embedded search node
(``services.search``) as a process in the test's data dir.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from opensearchpy import OpenSearch

from mini_kernel.testing.processes import ServiceProcess, wait_for

from mini_kernel.testing.search import SearchNode

TARGETS = ["osmem", "embedded"]


@pytest.fixture(params=TARGETS)
def search_url(request, osmem_base, mini_home, spawn):
    """The URL of an empty search cluster: an osmem clone, or an embedded node in the test's data dir."""
    if request.param == "osmem":
        clone = osmem_base.clone()
        yield clone.url
        clone.close()
        return
    node = SearchNode(mini_home, env={"MINI_DURABILITY_FSYNC": "false"}).start()
    yield node.url
    node.stop()


class Pipeline:
    """Broker + both sinks over one search cluster, with helpers to publish and to read counters."""

    def __init__(self, spawn, home, search_url: str, sink_env: dict[str, str] | None = None):
        self.spawn = spawn
        self.home = home
        self.search_url = search_url
        self.broker = spawn("broker", "services.broker")
        self.env = {
            "MINI_NSQD_TCP_ADDRESS": f"127.0.0.1:{self.broker.port}",
            "MINI_NSQD_HTTP_ADDRESS": f"127.0.0.1:{self.broker.http_port}",
            "MINI_OPENSEARCH_URL": search_url,
            "MINI_DURABILITY_FSYNC": "false",
            # The fixtures' events are from 2022: only the retention test applies an age limit.
            "MINI_SINK_RETENTION_DAYS": "0",
            **(sink_env or {}),
        }
        self.good = self.start_sink("good")
        self.bad = self.start_sink("bad")
        self.es = OpenSearch(hosts=[search_url])

    def start_sink(self, kind: str) -> ServiceProcess:
        return self.spawn(f"sink-{kind}", "services.sink", env=self.env, args=["--sink-kind", kind])

    def restart(self, kind: str) -> ServiceProcess:
        proc = self.start_sink(kind)  # through spawn, so teardown stops it
        setattr(self, kind, proc)
        return proc

    def publish(self, topic: str, bodies: list[bytes]) -> None:
        if len(bodies) == 1:
            url, data = f"http://127.0.0.1:{self.broker.http_port}/pub?topic={topic}", bodies[0]
        else:
            url, data = f"http://127.0.0.1:{self.broker.http_port}/mpub?topic={topic}", b"\n".join(bodies)
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=30) as r:
            assert r.read() == b"OK"

    @staticmethod
    def status(proc: ServiceProcess) -> dict[str, Any]:
        with urllib.request.urlopen(f"{proc.url}/status", timeout=10) as r:
            return json.loads(r.read())

    @staticmethod
    def post(proc: ServiceProcess, path: str, body: Any = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(f"{proc.url}{path}", data=data, method="POST")
        with urllib.request.urlopen(request, timeout=60) as r:
            return json.loads(r.read())

    def settled(self, proc: ServiceProcess, received: int) -> dict[str, Any] | None:
        counters = self.status(proc)["counters"]
        if counters["received"] >= received and counters["in_flight"] == 0:
            return counters
        return None

    def wait_settled(self, proc: ServiceProcess, received: int, timeout: float = 90) -> dict[str, Any]:
        return wait_for(lambda: self.settled(proc, received), timeout=timeout,
                        what=f"{proc.name} to receive {received} messages")

    def count(self, index: str) -> int:
        self.es.indices.refresh(index=index)
        return self.es.count(index=index)["count"]


@pytest.fixture
def pipeline(spawn, mini_home, search_url):
    return Pipeline(spawn, mini_home, search_url)
