"""The public origin's HTTP server: raw header copies, the header size limit (431) and timeouts (408).

Tornado closes a connection whose header block exceeds its limit, and one whose headers or body are
late, without an answer.  :class:`OriginServer` lets Tornado read header blocks up to a hard cap and
marks those over ``collector.max_header_bytes`` (``headers.too_large``) for the application to answer
431 once the body is read; a once-a-tick sweep (no per-request timer) answers 408 to a client whose
request started but is not complete within ``collector.request_timeout_s``, and quietly closes
connections idle for longer than ``collector.idle_connection_timeout_s``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import tornado.http1connection
import tornado.httpserver
import tornado.httputil
import tornado.ioloop
import tornado.iostream

from services.common.http import error_body

from .raw_headers import parse_raw_pairs

log = logging.getLogger(__name__)


class _Pending:
    """What the sweep knows about a connection: its current request, idle since, request started at."""

    __slots__ = ("conn", "since", "started")

    def __init__(self, conn: Any, since: float):
        self.conn = conn
        self.since = since
        self.started: float | None = None


class _OriginConnection(tornado.http1connection.HTTP1Connection):
    """Tornado's HTTP/1 connection, keeping ``headers.raw_pairs`` and marking ``headers.too_large``."""

    header_limit: int | None = None

    def _parse_headers(self, data: bytes) -> tuple[str, tornado.httputil.HTTPHeaders]:
        start_line, headers = super()._parse_headers(data)
        if self.header_limit is not None and len(data) > self.header_limit:
            headers.too_large = self.header_limit  # type: ignore[attr-defined]
        text = data.decode("latin1").lstrip("\r\n")
        eol = text.find("\n")
        try:
            headers.raw_pairs = parse_raw_pairs(text[eol + 1:] if eol >= 0 else "")  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - never fail a request over the copy
            log.debug("could not keep raw headers", exc_info=True)
        return start_line, headers


class OriginServer(tornado.httpserver.HTTPServer):
    """An HTTPServer whose requests carry ``headers.raw_pairs`` (the headers as sent), answering 431/408.

    ``header_limit``: largest request line + headers (bigger ones get 431); ``max_header_size`` is
    the hard cap Tornado reads up to (beyond it the connection is closed).  ``request_timeout`` and
    ``idle_connection_timeout`` are enforced by the sweep, not by Tornado's per-request timers.
    """

    def initialize(self, request_callback: Any, *, header_limit: int | None = None, request_timeout: float | None = None,
                   idle_connection_timeout: float | None = None, **kwargs: Any) -> None:
        kwargs.pop("body_timeout", None)
        super().initialize(request_callback, **kwargs)
        self.header_limit = header_limit
        self.request_timeout = request_timeout
        self.idle_timeout = idle_connection_timeout
        # The sweep replaces Tornado's header/body timeouts (one timer per request, and no answer).
        self.conn_params.header_timeout = None
        self.conn_params.body_timeout = None
        self._pending: dict[Any, _Pending] = {}
        self._sweeper: tornado.ioloop.PeriodicCallback | None = None
        limits = [t for t in (request_timeout, idle_connection_timeout) if t]
        self._sweep_every = max(0.05, min([1.0, *(t / 4 for t in limits)]))

    # -- connections and requests -------------------------------------------------------------------

    def handle_stream(self, stream: tornado.iostream.IOStream, address: tuple) -> None:
        if self._sweeper is None and (self.request_timeout or self.idle_timeout):
            self._sweeper = tornado.ioloop.PeriodicCallback(self._sweep, self._sweep_every * 1000)
            self._sweeper.start()
        super().handle_stream(stream, address)

    def start_request(self, server_conn: object, request_conn: Any) -> tornado.httputil.HTTPMessageDelegate:
        pending = self._pending.get(server_conn)
        if pending is None:
            self._pending[server_conn] = _Pending(request_conn, time.monotonic())
        else:
            pending.conn, pending.since, pending.started = request_conn, time.monotonic(), None
        if type(request_conn) is tornado.http1connection.HTTP1Connection:
            # A class swap, not a per-request closure: a closure over the connection's own bound
            # method made every request's connection cyclic garbage (GC pauses, p99 latency).
            request_conn.__class__ = _OriginConnection
            request_conn.header_limit = self.header_limit
        if not self.xheaders and hasattr(self.request_callback, "start_request"):
            return self.request_callback.start_request(server_conn, request_conn)
        return super().start_request(server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        self._pending.pop(server_conn, None)
        super().on_close(server_conn)

    def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.stop()
            self._sweeper = None
        super().stop()

    # -- the sweep ----------------------------------------------------------------------------------

    def _sweep(self) -> None:
        now = time.monotonic()
        for server_conn, pending in list(self._pending.items()):
            stream = getattr(server_conn, "stream", None)
            if stream is None or stream.closed():
                continue
            conn = pending.conn
            if getattr(conn, "_request_start_line", None) is None:
                if not getattr(stream, "_read_buffer_size", 0):  # idle: no byte of a next request yet
                    if self.idle_timeout and now - pending.since > self.idle_timeout:
                        stream.close()
                    continue
            elif getattr(conn, "_read_finished", True):
                continue  # the request is in; answering it is the application's business
            if pending.started is None:
                pending.started = now
            elif self.request_timeout and now - pending.started > self.request_timeout:
                self._time_out(stream, conn)

    def _time_out(self, stream: tornado.iostream.IOStream, conn: Any) -> None:
        context = getattr(conn, "context", None)
        log.info("408: request from %s not complete within %g s", getattr(context, "remote_ip", "?"), self.request_timeout)
        counters = getattr(self.request_callback, "counters", None)
        if counters is not None:
            by_route = counters["requests"].setdefault("timeout", {})
            by_route["408"] = by_route.get("408", 0) + 1
        if getattr(conn, "_write_finished", False):
            stream.close()  # the application already answered (early); nothing more to say
            return
        body = json.dumps(error_body(408, f"request not complete within {self.request_timeout:g} s")).encode()
        head = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json; charset=utf-8\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
        try:
            written = stream.write(head + body)
        except tornado.iostream.StreamClosedError:
            return
        written.add_done_callback(lambda f: (f.cancelled() or f.exception(), stream.close()))
