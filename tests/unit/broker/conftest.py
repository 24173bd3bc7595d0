"""An in-process broker on free ports, a raw NSQ V2 socket client for protocol tests, and the small
scenario steps (publish, subscribe, wait) the batch and FIN tests share."""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import pytest

from services.broker.server import start
from services.broker.settings import SETTINGS
from services.common import settings as settings_mod


def make_settings(home, **overrides: Any):
    spec = settings_mod.merge_specs(settings_mod.COMMON, SETTINGS)
    values = {"home": str(home), "broker.tick_ms": 20, "broker.checkpoint_ms": 100}
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    return settings_mod.load(spec, args=values, env={})


class Raw:
    """Speaks the wire protocol by hand, so tests control every byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, magic: bytes = b"  V2") -> "Raw":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        raw = cls(reader, writer)
        if magic:
            writer.write(magic)
        return raw

    def send(self, line: bytes, body: bytes | None = None) -> None:
        data = line + b"\n"
        if body is not None:
            data += struct.pack(">i", len(body)) + body
        self.writer.write(data)

    def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)

    async def identify(self, **fields: Any) -> dict:
        body = {"feature_negotiation": True, "heartbeat_interval": 30000, **fields}
        self.send(b"IDENTIFY", json.dumps(body).encode())
        kind, data = await self.frame()
        assert kind == 0, data
        return json.loads(data)

    async def frame(self, timeout: float = 10.0, skip_heartbeats: bool = True) -> tuple[int, bytes]:
        while True:
            head = await asyncio.wait_for(self.reader.readexactly(8), timeout)
            size, kind = struct.unpack(">ii", head)
            data = await asyncio.wait_for(self.reader.readexactly(size - 4), timeout)
            if skip_heartbeats and kind == 0 and data == b"_heartbeat_":
                continue
            return kind, data

    async def message(self, timeout: float = 10.0) -> tuple[int, int, bytes, bytes]:
        kind, data = await self.frame(timeout)
        assert kind == 2, (kind, data)
        ts, attempts = struct.unpack(">qH", data[:10])
        return ts, attempts, data[10:26], data[26:]

    async def is_closed(self, timeout: float = 10.0) -> bool:
        try:
            await asyncio.wait_for(self.reader.read(), timeout)  # read() returns at EOF
        except (ConnectionResetError, asyncio.IncompleteReadError):
            return True
        except asyncio.TimeoutError:
            return False
        return True

    async def close(self) -> None:
        if self.writer.is_closing():
            return
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionResetError, BrokenPipeError):
            pass


class InProcess:
    def __init__(self, running):
        self.running = running
        self.broker = running.broker
        self.port = running.ports["port"]
        self.http_port = running.ports["http_port"]
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.opened: list[Raw] = []

    async def raw(self, magic: bytes = b"  V2") -> Raw:
        raw = await Raw.connect(self.port, magic)
        self.opened.append(raw)
        return raw


def run_broker(home, scenario, **overrides):
    """Run ``await scenario(InProcess)`` against a broker started in this event loop."""

    async def main():
        running = await start(make_settings(home, **overrides))
        b = InProcess(running)
        try:
            return await asyncio.wait_for(scenario(b), 60)
        finally:
            for raw in b.opened:
                await raw.close()
            await running.close()

    return asyncio.run(main())


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "mini-home"
    path.mkdir()
    return path


# -- scenario steps ----------------------------------------------------------------------------

def mpub(bodies: list[bytes]) -> bytes:
    return struct.pack(">i", len(bodies)) + b"".join(struct.pack(">i", len(b)) + b for b in bodies)


async def until(condition, what: str, timeout: float = 20.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError(f"waiting for {what}")
        await asyncio.sleep(0.01)


async def publish(b, topic: str, bodies: list[bytes]) -> None:
    pub = await b.raw()
    pub.send(b"MPUB " + topic.encode(), mpub(bodies))
    assert await pub.frame() == (0, b"OK")
    await pub.close()


async def consumer(b, topic: str, channel: str = "c", rdy: int = 0, **identify):
    raw = await b.raw()
    if identify:
        await raw.identify(**identify)
    raw.send(b"SUB %s %s" % (topic.encode(), channel.encode()))
    assert await raw.frame() == (0, b"OK")
    if rdy:
        raw.send(b"RDY %d" % rdy)
    return raw


async def nothing_more(raw, timeout: float = 0.3) -> bool:
    """True if no frame other than heartbeats arrives in ``timeout`` (used only to show absence)."""
    try:
        await raw.frame(timeout=timeout)
    except asyncio.TimeoutError:
        return True
    return False


def clients(b, topic: str, channel: str = "c"):
    return b.broker.get_topic(topic).channels[channel].clients
