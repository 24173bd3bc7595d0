"""The second, independent client: gnsq (gevent-based), run in a subprocess per scenario."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .nsqtools import FAST_ENV

ROOT = Path(__file__).resolve().parents[3]


def gnsq(broker, scenario: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.service.broker.gnsq_client", str(broker.port), str(broker.http_port), scenario],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_gnsq_pub_mpub_dpub_and_two_channels(broker):
    out = gnsq(broker, "core")
    assert (out["pub"], out["mpub"], out["dpub"]) == ("OK", "OK", "OK")
    assert out["bodies"] == ["deferred", "one", "three", "two"]
    assert out["other_bodies"] == out["bodies"]
    assert out["attempts"] == [1]
    assert out["deferred_after"] >= 1.1


def test_gnsq_requeue_counts_attempts(broker):
    out = gnsq(broker, "requeue")
    assert out == {"attempts": [1, 2, 3], "ids": 1}


def test_gnsq_message_timeout_redelivers(spawn):
    # gnsq cannot ask for a msg_timeout in IDENTIFY, so the broker's default is made short.
    broker = spawn("broker", "services.broker", env={**FAST_ENV, "MINI_BROKER_MSG_TIMEOUT_MS": "1000"})
    assert gnsq(broker, "timeout")["attempts"] == [1, 2]


def test_gnsq_consumers_share_a_channel(broker):
    out = gnsq(broker, "shared")
    assert out["a"] and out["b"]
    assert sorted(out["a"] + out["b"]) == sorted("s%d" % i for i in range(40))


def test_gnsq_touch_extends_the_timeout(spawn):
    broker = spawn("broker", "services.broker", env={**FAST_ENV, "MINI_BROKER_MSG_TIMEOUT_MS": "1000"})
    assert gnsq(broker, "touch") == {"deliveries": 1}


def test_gnsq_http_client(broker):
    out = gnsq(broker, "http_api")
    assert out["ping"] == "OK" and out["version"] == "1.3.0"
    assert out["pub"] == out["mpub"] == out["mpub_binary"] == "OK"
    assert out["depth"] == 5
    assert out["bodies"] == ["h1", "h2", "h3", "h4\nwith newline", "h5"]
    assert "g_http" not in out["topics_after"]
