"""The public origin's handlers: tracking (pixel, POST, redirect), preflight, health, robots, status.

Routes and answers follow snowplow-formats.md §1.1-1.6.  Every handler answers ``OPTIONS`` with the
CORS preflight; each request is counted by route and status in ``on_finish``.  The ledger terms
(``requests_accepted = payloads_sunk + dnt_dropped + bounced``) are counted where they happen.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import tornado.web

from services.common.http import ApiError, BaseHandler, NotFoundHandler

from . import cors, payload, tracking
from .cookies import CookiePolicy
from .sink import Sink
from .sizes import SizeLimits

log = logging.getLogger(__name__)

PIXEL = tracking.PIXEL
ROBOTS = "User-agent: *\nDisallow: /\n\nUser-agent: Googlebot\nDisallow: /\n\nUser-agent: AdsBot-Google\nDisallow: /"
TP2 = "/com.snowplowanalytics.snowplow/tp2"


@dataclasses.dataclass
class Context:
    """Everything the handlers share, built once by ``make_app``."""

    sink: Sink
    cookies: CookiePolicy
    sizes: SizeLimits
    counters: dict[str, Any]
    paths: dict[str, str]
    preflight_max_age_s: int = 3600
    drop_payload_size: int = 2_097_152
    redirect_domains: tuple[str, ...] = ()
    root_response: dict[str, Any] | None = None
    cross_domain: tuple[tuple[str, ...], bool] | None = None
    collector_name: str = payload.COLLECTOR_NAME

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n


def parse_paths(items: list[str]) -> dict[str, str]:
    """Custom path mappings ``/com.acme/track=/com.snowplowanalytics.snowplow/tp2``."""
    paths = {}
    for item in items:
        source, sep, target = item.partition("=")
        if not sep or source.count("/") != 2 or not target.startswith("/"):
            raise ValueError(f"custom path {item!r} is not /vendor/version=/target/path")
        paths[source.strip()] = target.strip()
    return paths


class OriginHandler(BaseHandler):
    """Base of every public-origin handler: preflight, counting, no Etag work on the hot path."""

    route = "other"
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def initialize(self, ctx: Context) -> None:
        self.ctx = ctx

    def _no_route(self, *args: Any) -> None:
        # Snowplow answers 404 (not 405) for a method a path does not serve.
        self.route = "not_found"
        raise ApiError(404, f"no route for {self.request.method} {self.request.path}")

    get = head = post = put = patch = delete = _no_route  # type: ignore[assignment]

    def compute_etag(self) -> None:
        return None

    def options(self, *args: Any) -> None:
        for name, value in cors.preflight_headers(self.request.headers.get("Origin"), self.ctx.preflight_max_age_s):
            self.set_header(name, value)
        self.clear_header("Content-Type")
        self.route = "preflight"
        self.finish()

    def on_finish(self) -> None:
        by_route = self.ctx.counters["requests"].setdefault(self.route, {})
        status = str(self.get_status())
        by_route[status] = by_route.get(status, 0) + 1

    def text(self, body: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.finish(body)


@tornado.web.stream_request_body
class TrackHandler(OriginHandler):
    """``/{vendor}/{version}``: GET/HEAD → pixel, POST → ``ok``; the payload is sunk before answering.

    The origin's hot path serves these requests in ``exchange.py`` without a RequestHandler; this
    handler serves them where that path does not apply (OPTIONS, other methods, a plain Application).
    """

    route = "track"

    def prepare(self) -> None:
        self._chunks: list[bytes] | None = []
        self._size = 0
        if self.request.method == "POST":
            length = self.request.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > self.ctx.drop_payload_size:
                # Answer 413 once the body is read (and discarded): answering now would close the
                # connection with unread data, and the client would see a reset instead of the 413.
                self._chunks = None

    def data_received(self, chunk: bytes) -> None:
        if self._chunks is None:
            return
        self._size += len(chunk)
        if self._size > self.ctx.drop_payload_size:
            self._chunks = None  # keep reading (and discarding), answer 413 at the end
        else:
            self._chunks.append(chunk)

    def stored_path(self) -> str:
        return tracking.stored_track_path(self.request.path)

    def hit(self, body: bytes | None) -> tracking.Hit:
        r = self.request
        return tracking.Hit(r.method, r.query, r.headers, r.remote_ip, body, r.protocol, r.path)

    async def get(self) -> None:
        path = self.ctx.paths.get(self.stored_path(), None) or self.stored_path()
        await self.track(path, None, redirect=path == tracking.REDIRECT)

    head = get

    async def post(self) -> None:
        if self._chunks is None:
            if not self._finished:
                self.send(tracking.too_large(self.ctx, self.request.headers))
            return
        path = self.ctx.paths.get(self.stored_path(), None) or self.stored_path()
        await self.track(path, b"".join(self._chunks))

    async def track(self, path: str, body: bytes | None, redirect: bool = False) -> None:
        tracked = tracking.track(self.ctx, self.hit(body), path, redirect)
        answer = tracked.answer
        if tracked.records is not None:
            try:
                await self.ctx.sink.submit(tracked.records)
            except Exception as exc:  # noqa: BLE001 - spool full or disk error: the tracker retries
                log.error("could not sink a payload: %s", exc)
                answer = tracking.unavailable(self.request.headers)
            else:
                tracking.sunk(self.ctx, tracked)
        self.send(answer)

    def send(self, answer: tracking.Answer) -> None:
        if answer.route != "track":
            self.route = answer.route
        self.set_status(answer.status)
        self.clear_header("Content-Type")
        for name, value in answer.headers:
            self.add_header(name, value)
        if answer.body and self.request.method == "HEAD":
            self.set_header("Content-Length", str(len(answer.body)))
            self.finish()
        else:
            self.finish(answer.body or None)


class PixelHandler(TrackHandler):
    """``/i`` and ``/ice.png``: the stored path is the literal request path; POST is not a route."""

    route = "pixel"

    def stored_path(self) -> str:
        return self.request.path

    async def post(self) -> None:
        if not self._finished:
            self._no_route()


class RedirectHandler(TrackHandler):
    """``/r/{x}`` with redirects enabled: the event is sunk (path ``/r/x``), then 302 to ``u``."""

    route = "redirect"

    def stored_path(self) -> str:
        return self.request.path

    async def get(self) -> None:
        await self.track(self.stored_path(), None, redirect=True)

    head = get


class RedirectsDisabledHandler(OriginHandler):
    """``/r/*`` while redirects are disabled: 404 ``redirects disabled`` for every method (even OPTIONS)."""

    route = "redirect"
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def prepare(self) -> None:
        self.text("redirects disabled", 404)


class HealthHandler(OriginHandler):
    route = "health"

    def get(self) -> None:
        self.text("ok")

    head = get


class SinkHealthHandler(OriginHandler):
    route = "sink_health"

    def get(self) -> None:
        if self.ctx.sink.healthy():
            self.text("ok")
        else:
            self.text("Service Unavailable", 503)

    head = get


class RobotsHandler(OriginHandler):
    route = "robots"

    def get(self) -> None:
        self.text(ROBOTS)

    head = get


class StatusHandler(OriginHandler):
    """``GET /status``: the collector's counters (merged into ``mini status``)."""

    route = "status"

    def initialize(self, ctx: Context, status: Any) -> None:
        super().initialize(ctx)
        self.status_fn = status

    def get(self) -> None:
        self.write_json(self.status_fn())


class RootHandler(OriginHandler):
    route = "root"

    def get(self) -> None:
        spec = self.ctx.root_response
        if not spec:
            raise ApiError(404, "no route for GET /")
        self.set_status(spec["status"])
        self.clear_header("Content-Type")
        for line in spec["headers"]:
            name, _, value = line.partition(":")
            if name.strip():
                self.set_header(name.strip(), value.strip())
        self.finish(spec["body"])


class CrossDomainHandler(OriginHandler):
    route = "crossdomain"

    def get(self) -> None:
        if not self.ctx.cross_domain:
            raise ApiError(404, "no route for GET /crossdomain.xml")
        domains, secure = self.ctx.cross_domain
        lines = ['<?xml version="1.0"?>', "<cross-domain-policy>"]
        lines += [f'  <allow-access-from domain="{d}" secure="{str(secure).lower()}" />' for d in domains]
        lines.append("</cross-domain-policy>")
        self.set_header("Content-Type", "text/xml; charset=UTF-8")
        self.finish("\n".join(lines))


class OriginNotFoundHandler(OriginHandler, NotFoundHandler):
    """Anything else: 404 in the shared JSON shape (OPTIONS still gets the preflight)."""

    route = "not_found"
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def prepare(self) -> None:
        if self.request.method != "OPTIONS":
            super().prepare()
