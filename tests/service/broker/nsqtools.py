"""pynsq helpers for broker tests: awaitable publishes and a recording Reader."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.request
from typing import Any, Callable

import nsq

# Small timers so redelivery and checkpoints happen quickly in tests.
FAST_ENV = {"MINI_BROKER_TICK_MS": "20", "MINI_BROKER_CHECKPOINT_MS": "100"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def until(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.02)


def stats(http_url: str, topic: str | None = None) -> dict:
    url = f"{http_url}/stats?format=json" + (f"&topic={topic}" if topic else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def channel_stats(http_url: str, topic: str, channel: str) -> dict:
    for t in stats(http_url, topic)["topics"]:
        for c in t["channels"]:
            if c["channel_name"] == channel:
                return c
    raise KeyError(f"{topic}/{channel}")


class Pub:
    """A pynsq Writer whose publishes can be awaited (result: the response or the error)."""

    def __init__(self, address: str):
        self.writer = nsq.Writer([address], reconnect_interval=0.2)

    async def ready(self, timeout: float = 30.0) -> "Pub":
        await until(lambda: any(c.connected() for c in self.writer.conns.values()), timeout, "writer connected")
        return self

    async def _call(self, method: str, *args: Any) -> Any:
        future = asyncio.get_running_loop().create_future()

        def done(conn: Any, data: Any) -> None:
            if not future.done():
                future.set_result(data)

        getattr(self.writer, method)(*args, callback=done)
        return await asyncio.wait_for(future, 30)

    async def pub(self, topic: str, body: bytes) -> Any:
        return await self._call("pub", topic, body)

    async def mpub(self, topic: str, bodies: list[bytes]) -> Any:
        return await self._call("mpub", topic, bodies)

    async def dpub(self, topic: str, delay_ms: int, body: bytes) -> Any:
        return await self._call("dpub", topic, delay_ms, body)

    def close(self) -> None:
        self.writer.connect_to_nsqd = lambda *a, **k: None
        for conn in list(self.writer.conns.values()):
            conn.close()


class Sub:
    """A pynsq Reader recording ``(body, attempts, id, monotonic time)``; ``decide(message)`` may
    return True (FIN), False (REQ) or None (the handler keeps the message async)."""

    def __init__(self, address: str | None, topic: str, channel: str,
                 decide: Callable[[nsq.Message], bool | None] | None = None, **kwargs: Any):
        self.received: list[tuple[bytes, int, bytes, float]] = []
        self.decide = decide
        kwargs.setdefault("max_in_flight", 50)
        kwargs.setdefault("max_tries", 0)
        if address is not None:
            kwargs.setdefault("nsqd_tcp_addresses", [address])
        self.reader = nsq.Reader(topic=topic, channel=channel, message_handler=self._on, **kwargs)

    def _on(self, message: nsq.Message) -> bool | None:
        self.received.append((message.body, message.attempts, message.id, time.monotonic()))
        if self.decide is None:
            return True
        verdict = self.decide(message)
        if verdict is None:
            message.enable_async()
        return verdict

    def bodies(self) -> list[bytes]:
        return [r[0] for r in self.received]

    def connected(self) -> bool:
        return any(c.connected() for c in self.reader.conns.values())

    def close(self) -> None:
        self.reader.close()
