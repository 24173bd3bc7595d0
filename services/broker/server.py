"""Start the broker: open the data dir, bind the TCP and HTTP listeners, run the timers.

``start(settings)`` returns a :class:`Running` (ports, status, close) for the service runner;
``make_broker(settings)`` gives the bare :class:`~services.broker.broker.Broker` for tests.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import tornado.httpserver
import tornado.netutil

from services.common import service
from .broker import Broker
from .http import make_app
from .tcp import serve

log = logging.getLogger(__name__)


class Running:
    def __init__(self, broker: Broker, tcp: asyncio.AbstractServer, http: tornado.httpserver.HTTPServer):
        self.broker = broker
        self._tcp = tcp
        self._http = http
        self.ports = {"port": broker.tcp_port, "http_port": broker.http_port}

    def status(self) -> dict[str, Any]:
        return self.broker.status()

    async def close(self) -> None:
        self._tcp.close()
        self._http.stop()
        self.broker.close()
        await self._tcp.wait_closed()


async def start(settings: Any) -> Running:
    broker = Broker(settings)
    broker.open()
    address = settings["broker.address"]
    tcp_socket = tornado.netutil.bind_sockets(int(settings["broker.tcp_port"]), address)[0]
    tcp = await serve(broker, tcp_socket)
    broker.tcp_port = tcp_socket.getsockname()[1]
    http = tornado.httpserver.HTTPServer(make_app(broker), max_body_size=broker.max_buffer_size)
    http_socket = tornado.netutil.bind_sockets(int(settings["broker.http_port"]), address)
    http.add_sockets(http_socket)
    broker.http_port = http_socket[0].getsockname()[1]
    broker.start_ticker()
    service.quiet_gc()
    return Running(broker, tcp, http)
