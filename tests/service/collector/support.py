"""Real processes for collector tests: the embedded broker on fixed free ports, the collector, and a
pynsq Reader that drains what landed on a topic."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl

import nsq

from mini_kernel.testing.processes import ServiceProcess, wait_for
from services.common.collector_payload import CollectorPayload, decode


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Pipeline:
    """A broker (fixed ports, so it can be restarted) and a collector pointed at it, in one data dir."""

    def __init__(self, home: Path, collector_env: dict[str, str] | None = None):
        self.home = Path(home)
        self.tcp_port = free_port()
        self.http_port = free_port()
        self.broker = ServiceProcess("broker", "services.broker", self.home,
                                     args=["--broker-tcp-port", str(self.tcp_port), "--broker-http-port", str(self.http_port)])
        env = {"MINI_NSQD_TCP_ADDRESS": f"127.0.0.1:{self.tcp_port}", "MINI_NSQD_HTTP_ADDRESS": f"127.0.0.1:{self.http_port}"}
        env.update(collector_env or {})
        self.collector = ServiceProcess("collector", "services.collector", self.home, env=env, args=["--port", "0"])

    @property
    def nsqd(self) -> str:
        return f"127.0.0.1:{self.tcp_port}"

    @property
    def url(self) -> str:
        return self.collector.url

    def start(self) -> "Pipeline":
        self.broker.start()
        self.collector.start()
        self.wait_broker_connected()
        return self

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/status", timeout=10) as response:
            return json.loads(response.read())

    def wait_broker_connected(self, timeout: float = 60) -> None:
        wait_for(lambda: self.status()["counters"]["broker_connected"], timeout=timeout, what="collector connected to the broker")

    def stop(self) -> None:
        self.collector.stop()
        self.broker.stop()


def drain(nsqd: str, topic: str, channel: str, count: int | Callable[[list[bytes]], bool], timeout: float = 60.0,
          settle: float = 0.3) -> list[bytes]:
    """Read messages from ``topic``/``channel`` until ``count`` arrived (or ``count(bodies)`` is true),
    then ``settle`` seconds more so extras would show."""
    enough_now = count if callable(count) else (lambda bodies: len(bodies) >= count)

    async def main() -> list[bytes]:
        bodies: list[bytes] = []
        enough = asyncio.Event()

        def handler(message: nsq.Message) -> bool:
            bodies.append(message.body)
            if enough_now(bodies):
                enough.set()
            return True

        reader = nsq.Reader(topic=topic, channel=channel, nsqd_tcp_addresses=[nsqd], message_handler=handler,
                            max_in_flight=1000, max_tries=0, lookupd_poll_interval=60)
        try:
            await asyncio.wait_for(enough.wait(), timeout)
            await asyncio.sleep(settle)
        except asyncio.TimeoutError:
            pass
        finally:
            reader.close()
            await asyncio.sleep(0.1)
        return bodies

    return asyncio.run(main())


def tracker_events(payload: CollectorPayload) -> list[dict]:
    """The tracker-protocol events inside one payload (querystring of a GET, ``data`` of a POST)."""
    if payload.body is None:
        return [dict(parse_qsl(payload.querystring or "", keep_blank_values=True))]
    return json.loads(payload.body)["data"]


def raw_events(nsqd: str, count: int, timeout: float = 60.0) -> list[CollectorPayload]:
    """``count`` payloads from RawEvents (channel ``enrich``), decoded."""
    return [decode(body) for body in drain(nsqd, "RawEvents", "enrich", count, timeout)]


def raw_payloads_with_events(nsqd: str, events: int, timeout: float = 60.0) -> list[CollectorPayload]:
    """Payloads from RawEvents until they hold ``events`` tracker events (POSTs batch several)."""
    done = lambda bodies: sum(len(tracker_events(decode(b))) for b in bodies) >= events  # noqa: E731
    return [decode(body) for body in drain(nsqd, "RawEvents", "enrich", done, timeout)]


def bad_rows(nsqd: str, count: int, timeout: float = 60.0) -> list[dict]:
    return [json.loads(body) for body in drain(nsqd, "BadEvents", "ESLoaderChannelBad", count, timeout)]
