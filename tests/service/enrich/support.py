"""Helpers for enrich service tests: a broker and enrich processes on loopback, publishing raw
payloads over nsqd's HTTP API, and reading topics back through the project's own bus consumer."""

from __future__ import annotations

import asyncio
import json
import struct
import urllib.request

from mini_kernel.testing.processes import wait_for
from services.common import bus, settings as settings_mod


def http(url: str, data: bytes | None = None) -> bytes:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


class Broker:
    def __init__(self, proc):
        self.proc = proc
        info = proc.info()
        self.tcp = f"127.0.0.1:{info['port']}"
        self.http = f"127.0.0.1:{info['http_port']}"

    @property
    def env(self) -> dict[str, str]:
        return {"MINI_NSQD_TCP_ADDRESS": self.tcp, "MINI_NSQD_HTTP_ADDRESS": self.http}

    def channel(self, topic: str, channel: str) -> None:
        http(f"http://{self.http}/channel/create?topic={topic}&channel={channel}", b"")

    def mpub(self, records: list[bytes], topic: str = bus.RAW) -> None:
        body = struct.pack(">i", len(records)) + b"".join(struct.pack(">i", len(r)) + r for r in records)
        http(f"http://{self.http}/mpub?topic={topic}&binary=true", body)

    def stats(self) -> dict:
        stats = json.loads(http(f"http://{self.http}/stats?format=json"))
        return {t["topic_name"]: t for t in stats.get("data", stats)["topics"]}

    def count(self, topic: str) -> int:
        return self.stats().get(topic, {}).get("message_count", 0)

    def drained(self, topic: str = bus.RAW, channel: str = "enrich") -> bool:
        for c in self.stats().get(topic, {}).get("channels", []):
            if c["channel_name"] == channel:
                return c["depth"] == 0 and c["in_flight_count"] == 0 and c.get("deferred_count", 0) == 0
        return False

    def read(self, topic: str, channel: str, n: int, timeout: float = 60.0) -> list[bytes]:
        """``n`` messages from an existing channel (FIN'd as they arrive)."""
        return asyncio.run(_read(self, topic, channel, n, timeout))


async def _read(broker: Broker, topic: str, channel: str, n: int, timeout: float) -> list[bytes]:
    settings = settings_mod.load(settings_mod.COMMON, env={"MINI_NSQD_TCP_ADDRESS": broker.tcp, "MINI_HOME": "/tmp"})
    got: list[bytes] = []
    done = asyncio.Event()

    async def handle(body: bytes, attempts: int) -> None:
        got.append(body)
        if len(got) >= n:
            done.set()

    publisher = bus.Publisher(settings)
    consumer = bus.Consumer(settings, topic, channel, handle, publisher=publisher, processor=bus.badrows.ENRICH)
    try:
        await asyncio.wait_for(done.wait(), timeout)
        await asyncio.sleep(0.2)  # let the last FINs go out
    finally:
        consumer.close()
        publisher.close()
    return got


def start_broker(spawn) -> Broker:
    return Broker(spawn("broker", "services.broker", env={"MINI_DURABILITY_FSYNC": "false"}))


def enrich_env(broker: Broker, iglu_central_dir, **extra: str) -> dict[str, str]:
    return {**broker.env, "MINI_IGLU_MIRROR_DIRS": str(iglu_central_dir), "MINI_BUS_MAX_ATTEMPTS": "3", **extra}


def status(proc) -> dict:
    return json.loads(http(proc.url + "/status"))


def wait_payloads(proc, n: int, timeout: float = 120.0) -> dict:
    return wait_for(lambda: (s := status(proc))["counters"]["payloads"] >= n and s, timeout=timeout,
                    what=f"enrich to process {n} payloads")
