"""Shared pieces of the collector unit tests: settings, an in-process publisher, an app under test."""

from __future__ import annotations

import asyncio
from typing import Any, Sequence

import tornado.testing

from services.collector.app import make_app
from services.collector.settings import SETTINGS
from services.collector.sink import Sink
from services.collector.spool import Spool
from services.common.bus import BAD, RAW, PublishError
from services.common.collector_payload import decode
from services.common.settings import COMMON, load, merge_specs


def make_settings(home, **values: Any):
    """Settings from defaults plus ``values`` (keys with dots written as ``__``), no environment."""
    flags = {"home": str(home), "durability.fsync": False}
    flags.update({k.replace("__", "."): v for k, v in values.items()})
    return load(merge_specs(COMMON, SETTINGS), args=flags, env={})


class MemoryPublisher:
    """The sink's publisher interface, in memory: records what was acknowledged; can be 'down'."""

    def __init__(self) -> None:
        self.up = True
        self.hang = False
        self.published: list[tuple[str, bytes]] = []

    def connected(self) -> bool:
        return self.up

    async def publish(self, topic: str, bodies: Sequence[bytes]) -> None:
        if self.hang:
            await asyncio.sleep(3600)
        if not self.up:
            raise PublishError("broker down")
        self.published.extend((topic, b) for b in bodies)

    def close(self) -> None:
        pass

    def raw(self):
        return [decode(b) for t, b in self.published if t == RAW]

    def bad(self):
        return [b for t, b in self.published if t == BAD]


class CollectorTestCase(tornado.testing.AsyncHTTPTestCase):
    """``make_app`` on a real port, with a real Sink and Spool over a MemoryPublisher."""

    overrides: dict[str, Any] = {}

    def setUp(self) -> None:
        import tempfile

        self._tmp = tempfile.TemporaryDirectory()
        super().setUp()

    def tearDown(self) -> None:
        self.sink.spool.close()
        super().tearDown()
        self._tmp.cleanup()

    def settings_overrides(self) -> dict[str, Any]:
        return dict(self.overrides)

    def get_http_server(self):
        from services.collector.app import make_server

        return make_server(self._app, self.settings)

    def raw(self, data: bytes) -> bytes:
        """Send bytes as they are on a fresh connection; return the answer's head."""
        from tornado.tcpclient import TCPClient

        async def exchange() -> bytes:
            stream = await TCPClient().connect("127.0.0.1", self.get_http_port())
            await stream.write(data)
            head = await stream.read_until(b"\r\n\r\n")
            stream.close()
            return head

        return self.io_loop.run_sync(exchange, timeout=10)

    def get_app(self):
        self.settings = make_settings(self._tmp.name, **self.settings_overrides())
        self.publisher = MemoryPublisher()
        self.spool = Spool(self.settings.home / "collector" / "spool", fsync=False)
        self.sink = Sink(self.publisher, self.spool, publish_timeout_s=0.5)
        return make_app(self.settings, self.sink)

    def req(self, path: str, method: str = "GET", body: bytes | str | None = None, **headers: str):
        hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
        if method in ("POST", "PUT") and body is None:
            body = b""
        return self.fetch(path, method=method, body=body, headers=hdrs, raise_error=False,
                          follow_redirects=False, allow_nonstandard_methods=True)

    def only_payload(self):
        payloads = self.publisher.raw()
        assert len(payloads) == 1, payloads
        return payloads[0]
