"""The public origin as a Tornado application (``make_app``) and as a service (``start``).

Route order is the contract of DESIGN §2 and snowplow-formats.md §1.1: ``/r/*`` (when redirects are
off), then the reserved and mounted prefixes, then health/robots/status, the pixel paths and finally
the catch-all ``/{vendor}/{version}`` — so ``/micro/all`` is never sunk as an event.  The tracker
hits themselves (GET/HEAD/POST on the pixel and catch-all routes) take the same decision in
``exchange.py`` without a RequestHandler; ``server.py`` is the HTTP server (431, 408, raw headers).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import socket
from typing import Any

import tornado.gen
import tornado.httpclient
import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.routing
import tornado.util
import tornado.web

from services.common import service
from services.common.bus import Publisher, PublishError, tcp_addresses
from services.common.settings import Settings

from . import routes, tracking
from .cookies import CookiePolicy
from .exchange import OriginApplication
from .mounts import MountHandler, MountMatcher, Mounts, parse_mounts
from .server import OriginServer
from .sink import Sink
from .sizes import SizeLimits
from .spool import Spool

log = logging.getLogger(__name__)

MAX_BODY_READ = 64 * 1024 * 1024  # bodies beyond the 413 limit are read and discarded up to this


def new_counters() -> dict[str, Any]:
    return {
        "requests_accepted": 0,
        "payloads_sunk": 0,
        "dnt_dropped": 0,
        "bounced": 0,
        "size_violations": 0,
        "requests": {},
    }


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Access log of the RequestHandler routes, as the hot path logs (tracker hits at DEBUG)."""
    request = handler.request
    tracking.log_access(handler.get_status(), request.method or "", request.uri or "", request.remote_ip,
                        request.request_time())


def make_app(
    settings: Settings,
    sink: Sink,
    *,
    mounts: Mounts | None = None,
    http_client: tornado.httpclient.AsyncHTTPClient | None = None,
    counters: dict[str, Any] | None = None,
) -> tornado.web.Application:
    """The collector's application; ``app.mounts``, ``app.counters`` and ``app.status()`` are public."""
    s = settings
    counters = new_counters() if counters is None else counters
    mounts = mounts if mounts is not None else Mounts(parse_mounts(s["collector.mounts"]))
    client = http_client or tornado.httpclient.AsyncHTTPClient()
    ctx = routes.Context(
        sink=sink,
        cookies=CookiePolicy.from_settings(s),
        sizes=SizeLimits(s["collector.max_payload_size"], s["collector.sink_max_bytes"]),
        counters=counters,
        paths=routes.parse_paths(s["collector.paths"]),
        preflight_max_age_s=s["collector.cors.access_control_max_age_s"],
        drop_payload_size=s["collector.drop_payload_size"],
        redirect_domains=tuple(s["collector.redirect_domains"]),
        root_response={
            "status": s["collector.root_response.status_code"],
            "headers": s["collector.root_response.headers"],
            "body": s["collector.root_response.body"],
        } if s["collector.root_response.enabled"] else None,
        cross_domain=(tuple(s["collector.cross_domain.domains"]), s["collector.cross_domain.secure"])
        if s["collector.cross_domain.enabled"] else None,
    )

    def status() -> dict[str, Any]:
        return {
            "counters": {**{k: v for k, v in counters.items() if k != "requests"}, **sink.status()},
            "requests": counters["requests"],
            "spool": sink.spool.status(),
            "mounts": dict(mounts.table),
            "sink_healthy": sink.healthy(),
        }

    c = {"ctx": ctx}
    handlers: list[Any] = []
    if s["collector.enable_default_redirect"]:
        handlers.append((r"/r/[^/]+", routes.RedirectHandler, c))
    else:
        handlers.append((r"/r/[^/]+", routes.RedirectsDisabledHandler, c))
    handlers += [
        tornado.routing.Rule(MountMatcher(mounts), MountHandler, {"mounts": mounts, "client": client, "counters": counters,
                                                                  "credentials": s["collector.basic_auth"]}),
        # The tracker routes come next: their patterns are disjoint from the one-segment routes
        # below, so this order only saves the hot path a few regex matches.
        (r"/(?:i|ice\.png)", routes.PixelHandler, c),
        (r"/[^/]+/[^/]+", routes.TrackHandler, c),
        (r"/health", routes.HealthHandler, c),
        (r"/sink-health", routes.SinkHealthHandler, c),
        (r"/robots\.txt", routes.RobotsHandler, c),
        (r"/status", routes.StatusHandler, {"ctx": ctx, "status": status}),
        (r"/crossdomain\.xml", routes.CrossDomainHandler, c),
        (r"/", routes.RootHandler, c),
    ]
    app = OriginApplication(
        handlers,
        default_handler_class=routes.OriginNotFoundHandler,
        default_handler_args=c,
        compress_response=False,
        log_function=log_request,
    )
    app.mounts = mounts  # type: ignore[attr-defined]
    app.counters = counters  # type: ignore[attr-defined]
    app.status = status  # type: ignore[attr-defined]
    app.ctx = ctx  # type: ignore[attr-defined]
    return app


def make_server(app: tornado.web.Application, settings: Settings) -> tornado.httpserver.HTTPServer:
    return OriginServer(
        app,
        xheaders=False,  # X-Forwarded-For is read by the payload builder, Snowplow's way
        header_limit=settings["collector.max_header_bytes"],
        max_header_size=max(settings["collector.max_header_read_bytes"], settings["collector.max_header_bytes"]),
        max_body_size=max(MAX_BODY_READ, settings["collector.drop_payload_size"] + 1),
        request_timeout=settings["collector.request_timeout_s"],
        idle_connection_timeout=settings["collector.idle_connection_timeout_s"],
    )


def make_sink(settings: Settings) -> Sink:
    publisher = None
    if tcp_addresses(settings):
        try:
            publisher = Publisher(settings)
        except PublishError as exc:
            log.warning("no broker: %s; everything is spooled", exc)
    else:
        log.warning("nsqd.tcp_address is not set: tracking requests are spooled until a broker is configured")
    spool = Spool(
        settings.home / "collector" / "spool",
        fsync=settings["durability.fsync"],
        max_bytes=settings["collector.spool_max_bytes"],
    )
    if spool.torn_bytes_dropped:
        log.warning("spool: cut %d bytes of an unfinished append (never acknowledged)", spool.torn_bytes_dropped)
    if spool.depth:
        log.info("spool holds %d records from a previous run; they are replayed when the broker takes writes", spool.depth)
    return Sink(
        publisher,
        spool,
        publish_timeout_s=settings["collector.publish_timeout_ms"] / 1000,
        replay_batch=settings["collector.replay_batch"],
    )


class Collector:
    """The running service: the public origin's HTTP server, its sink and spool."""

    def __init__(self, settings: Settings, sink: Sink, app: tornado.web.Application, server: tornado.httpserver.HTTPServer, port: int):
        self.settings = settings
        self.sink = sink
        self.app = app
        self.server = server
        self.ports = {"port": port}

    def status(self) -> dict[str, Any]:
        return self.app.status()  # type: ignore[attr-defined]

    async def close(self) -> None:
        """Stop accepting, let in-flight requests finish, flush the pending batch (published or spooled)."""
        grace = self.settings["collector.shutdown_grace_s"]
        self.server.stop()
        await self.sink.drain(grace)
        await asyncio.sleep(0.05)  # let handlers whose batch was just delivered write their answers
        try:
            await tornado.gen.with_timeout(datetime.timedelta(seconds=grace), self.server.close_all_connections())
        except tornado.util.TimeoutError:
            log.warning("connections still open after %.1f s", grace)
        await self.sink.close(grace)


class _RefusedReconnects(logging.Filter):
    """Drop pynsq's traceback for each refused reconnect while the broker is down (one every 0.5 s);
    the writer's own 'connection closed' warnings still say what is happening."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, tornado.iostream.StreamClosedError) and "_connect_callback" in record.getMessage())


async def start(settings: Settings) -> Collector:
    logging.getLogger("tornado.application").addFilter(_RefusedReconnects())
    sink = make_sink(settings)
    sink.start()
    app = make_app(settings, sink)
    server = make_server(app, settings)
    sockets = tornado.netutil.bind_sockets(settings["collector.port"], settings["collector.address"], family=socket.AF_INET
                                           if ":" not in settings["collector.address"] else socket.AF_UNSPEC)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    # a gen2 pass then costs a fraction of a millisecond instead of tens (p99 latency)
    service.quiet_gc(young=None)
    log.info("collector listening on http://%s:%d", settings["collector.address"], port)
    return Collector(settings, sink, app, server, port)
