"""Outage: broker stopped, 1,000 events all answered 2xx, collector kill -9'd and restarted, broker
started again — all 1,000 are found on RawEvents (from the collector's spool, replayed in order)."""

from __future__ import annotations

import http.client
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl

from mini_kernel.testing.processes import wait_for

from .support import Pipeline, drain
from services.common.collector_payload import decode

N = 1000
WORKERS = 8


def send(port: int, ids: range) -> list[int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    codes = []
    for i in ids:
        conn.request("GET", f"/i?e=se&se_ca=outage&se_ac=a&n={i}")
        response = conn.getresponse()
        response.read()
        codes.append(response.status)
    conn.close()
    return codes


def sink_health(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/sink-health")
    status = conn.getresponse().status
    conn.close()
    return status


def test_events_survive_broker_outage_and_collector_kill9(tmp_path):
    pipe = Pipeline(tmp_path).start()
    try:
        pipe.broker.stop()
        wait_for(lambda: not pipe.status()["counters"]["broker_connected"], timeout=60, what="collector to see the broker gone")
        port = pipe.collector.port
        assert sink_health(port) == 503

        chunks = [range(w, N, WORKERS) for w in range(WORKERS)]
        with ThreadPoolExecutor(WORKERS) as pool:
            codes = [c for result in pool.map(lambda ids: send(port, ids), chunks) for c in result]
        assert codes == [200] * N
        status = pipe.status()
        assert status["counters"]["requests_accepted"] == N
        assert status["spool"]["depth"] == N

        pipe.collector.kill9()
        pipe.collector.start()  # restarts over the same data dir: the spool is recovered
        assert pipe.status()["spool"]["depth"] == N
        assert sink_health(pipe.collector.port) == 503

        pipe.broker.start()
        wait_for(lambda: pipe.status()["spool"]["depth"] == 0, timeout=120, what="the spool to be replayed")
        wait_for(lambda: sink_health(pipe.collector.port) == 200, timeout=60, what="sink-health to recover")

        bodies = drain(pipe.nsqd, "RawEvents", "enrich", N, timeout=120)
        numbers = [int(dict(parse_qsl(decode(b).querystring))["n"]) for b in bodies]
        assert sorted(set(numbers)) == list(range(N))
        counters = pipe.status()["counters"]
        assert counters["records_replayed"] == N
        assert counters["payloads_published"] == N
    finally:
        pipe.stop()
    assert_no_collector_errors(tmp_path)


def assert_no_collector_errors(home) -> None:
    # Includes pynsq's traceback for each refused reconnect while the broker is down, which the
    # collector filters out of its log.
    log = (home / "logs" / "collector.test.log").read_text()
    assert "Traceback" not in log and "ERROR services." not in log, log[-3000:]


def test_graceful_stop_flushes_and_leaves_no_spool(tmp_path):
    pipe = Pipeline(tmp_path).start()
    try:
        codes = send(pipe.collector.port, range(50))
        assert codes == [200] * 50
        pipe.collector.stop()
        assert pipe.collector.proc.returncode == 0
        bodies = drain(pipe.nsqd, "RawEvents", "enrich", 50, timeout=60)
        assert len(bodies) == 50
        spool = tmp_path / "collector" / "spool" / "spool.log"
        assert not spool.exists() or spool.stat().st_size == 0
    finally:
        pipe.stop()
    assert_no_collector_errors(tmp_path)


def test_a_frozen_broker_times_out_into_the_spool(tmp_path):
    """SIGSTOP'd broker: publishes time out (collector.publish_timeout_ms), requests still get 2xx from the spool."""
    import os
    import signal
    import time

    pipe = Pipeline(tmp_path, collector_env={"MINI_COLLECTOR_PUBLISH_TIMEOUT_MS": "300"}).start()
    try:
        os.kill(pipe.broker.proc.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            codes = send(pipe.collector.port, range(20))
            assert codes == [200] * 20
            assert time.monotonic() - started < 60
            assert pipe.status()["counters"]["records_spooled"] >= 1
        finally:
            os.kill(pipe.broker.proc.pid, signal.SIGCONT)
        wait_for(lambda: pipe.status()["spool"]["depth"] == 0, timeout=120, what="the spool to be replayed")
        bodies = drain(pipe.nsqd, "RawEvents", "enrich", lambda b: len({decode(x).querystring for x in b}) >= 20, timeout=60)
        numbers = {int(dict(parse_qsl(decode(b).querystring))["n"]) for b in bodies}
        assert numbers == set(range(20))  # at-least-once: a late acknowledgement may add duplicates
    finally:
        pipe.stop()
    assert_no_collector_errors(tmp_path)
