"""The tracker hot path: GET/HEAD/POST of ``/i``, ``/ice.png`` and ``/{vendor}/{version}`` served at
Tornado's HTTP-delegate level, without a RequestHandler, whose set-up, routing and finish machinery
cost about as much CPU per request as the collector's own work.  Every other request (mounts,
``/r/*``, OPTIONS, health, ...) goes to the Application's routes unchanged; both share ``tracking``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import tornado
import tornado.httputil
import tornado.web

from . import tracking
from .cookies import http_date

log = logging.getLogger(__name__)

_SERVER = f"TornadoServer/{tornado.version}"
_REASONS = tornado.httputil.responses


class _ResponseHeaders(dict):
    """An answer's headers as ``HTTP1Connection.write_headers`` reads them (``in``, ``[]``, ``get_all``):
    canonical names to values, plus the repeated ``Set-Cookie`` values.  Building an ``HTTPHeaders``
    (name normalisation, a list per name) was a tenth of the hot path's CPU."""

    __slots__ = ("cookies",)

    def get_all(self) -> Any:
        yield from self.items()
        for value in self.cookies:
            yield "Set-Cookie", value


class OriginApplication(tornado.web.Application):
    """The origin's Application; its requests start as an :class:`Exchange`.

    ``ctx`` (``routes.Context``) and ``mounts`` are set by ``make_app`` before it serves.
    """

    ctx: Any
    mounts: Any

    def start_request(self, server_conn: object, request_conn: tornado.httputil.HTTPConnection) -> "Exchange":
        return Exchange(self, server_conn, request_conn)

    def routed(self, server_conn: object, request_conn: tornado.httputil.HTTPConnection) -> tornado.httputil.HTTPMessageDelegate:
        """The Application's own routing delegate (for requests off the hot path)."""
        return super().start_request(server_conn, request_conn)


class Exchange(tornado.httputil.HTTPMessageDelegate):
    """One request: a tracking hit answered here, or anything else handed to the routes."""

    __slots__ = ("app", "server_conn", "conn", "fallback", "method", "uri", "path", "query", "headers", "route",
                 "chunks", "size", "started", "tracked")

    def __init__(self, app: OriginApplication, server_conn: object, conn: tornado.httputil.HTTPConnection):
        self.app = app
        self.server_conn = server_conn
        self.conn = conn
        self.fallback: tornado.httputil.HTTPMessageDelegate | None = None

    # -- HTTPMessageDelegate ------------------------------------------------------------------------

    def headers_received(self, start_line: Any, headers: tornado.httputil.HTTPHeaders) -> Any:
        method = start_line.method
        path, _, query = start_line.path.partition("?")
        route = self._route(method, path)
        if getattr(headers, "too_large", None):
            route = "headers_too_large"
        if route is None:
            self.fallback = self.app.routed(self.server_conn, self.conn)
            return self.fallback.headers_received(start_line, headers)
        self.started = time.time()
        self.method, self.uri, self.path, self.query, self.headers, self.route = (
            method, start_line.path, path, query, headers, route)
        self.size = 0
        self.chunks: list[bytes] | None = []
        if route == "headers_too_large":
            self.chunks = None  # the body is read and discarded
        elif method == "POST":
            length = headers.get("Content-Length", "")
            if length.isdigit() and int(length) > self.app.ctx.drop_payload_size:
                self.chunks = None  # read and discard the body, then answer 413 (an early answer is a reset)
        return None

    def data_received(self, chunk: bytes) -> Any:
        if self.fallback is not None:
            return self.fallback.data_received(chunk)
        if self.chunks is not None:
            self.size += len(chunk)
            if self.size > self.app.ctx.drop_payload_size:
                self.chunks = None
            else:
                self.chunks.append(chunk)
        return None

    def finish(self) -> None:
        if self.fallback is not None:
            self.fallback.finish()
            return
        try:
            self._track()
        except Exception:  # noqa: BLE001 - a bug must not leave the client without an answer
            log.exception("tracking request %s %s failed", self.method, self.uri)
            self._send(tracking.error(500, "Internal Server Error"))

    def on_connection_close(self) -> None:
        if self.fallback is not None:
            self.fallback.on_connection_close()

    # -- the hot path -------------------------------------------------------------------------------

    def _route(self, method: str, path: str) -> str | None:
        """The route of a hot-path request, or None (same precedence as the Application's rules)."""
        if method != "GET" and method != "POST" and method != "HEAD":
            return None
        if path == "/i" or path == "/ice.png":
            return None if method == "POST" else "pixel"
        if path.count("/") != 2 or path.startswith("/r/") or self.app.mounts.claims(path):
            return None
        head, vendor, version = path.split("/")
        return "track" if not head and vendor and version else None

    def _track(self) -> None:
        ctx = self.app.ctx
        if self.route == "headers_too_large":
            limit = getattr(self.headers, "too_large", 0)
            self._send(tracking.error(431, f"request line and headers exceed {limit} bytes"))
            return
        if self.chunks is None:
            self._send(tracking.too_large(ctx, self.headers))
            return
        redirect = False
        if self.route == "pixel":
            path = self.path
        else:
            stored = tracking.stored_track_path(self.path)
            path = ctx.paths.get(stored, None) or stored
            redirect = path == tracking.REDIRECT
        body = b"".join(self.chunks) if self.method == "POST" else None
        context = self.conn.context  # type: ignore[attr-defined]
        hit = tracking.Hit(self.method, self.query, self.headers, getattr(context, "remote_ip", None), body,
                           getattr(context, "protocol", "http"), self.path)
        tracked = tracking.track(ctx, hit, path, redirect)
        if tracked.records is None:
            self._send(tracked.answer)
            return
        self.tracked = tracked
        ctx.sink.submit(tracked.records).add_done_callback(self._sunk)

    def _sunk(self, future: Any) -> None:
        if not future.cancelled() and future.exception() is None:
            tracking.sunk(self.app.ctx, self.tracked)
            self._send(self.tracked.answer)
            return
        log.error("could not sink a payload: %s", "cancelled" if future.cancelled() else future.exception())
        self._send(tracking.unavailable(self.headers))

    def _send(self, answer: tracking.Answer) -> None:
        status = answer.status
        route = self.route if answer.route == "track" else answer.route
        by_route = self.app.ctx.counters["requests"].setdefault(route, {})
        key = str(status)
        by_route[key] = by_route.get(key, 0) + 1
        headers = _ResponseHeaders()
        cookies = []
        for name, value in answer.headers:
            if name == "Set-Cookie":
                cookies.append(value)
            else:
                headers[name] = value
        headers.cookies = cookies
        headers["Server"] = _SERVER
        headers["Date"] = http_date(time.time())
        body = answer.body
        headers["Content-Length"] = str(len(body))
        start_line = tornado.httputil.ResponseStartLine("", status, _REASONS.get(status, "Unknown"))
        conn = self.conn
        conn.write_headers(start_line, headers, body if body and self.method != "HEAD" else None)  # type: ignore[arg-type]
        conn.finish()
        if status >= 400 or tracking.access_log.isEnabledFor(logging.DEBUG):
            tracking.log_access(status, self.method, self.uri, getattr(conn.context, "remote_ip", None),  # type: ignore[attr-defined]
                                time.time() - self.started)
