"""The public origin's handlers: tracking (pixel, POST, redirect), preflight, health, robots, status.

Routes and answers follow snowplow-formats.md §1.1-1.6.  Every handler answers ``OPTIONS`` with the
CORS preflight; each request is counted by route and status in ``on_finish``.  The ledger terms
(``requests_accepted = payloads_sunk + dnt_dropped + bounced``) are counted where they happen.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import tornado.web

from services.common.http import ApiError, BaseHandler, NotFoundHandler

from . import cors, payload
from .cookies import CookiePolicy, parse_cookies
from .sink import Sink
from .sizes import SizeLimits

log = logging.getLogger(__name__)

PIXEL = base64.b64decode("R0lGODlhAQABAPAAAP///wAAACH5BAUAAAAALAAAAAABAAEAAAICRAEAOw==")
NO_CACHE = "no-cache, no-store, must-revalidate"
ROBOTS = "User-agent: *\nDisallow: /\n\nUser-agent: Googlebot\nDisallow: /\n\nUser-agent: AdsBot-Google\nDisallow: /"
TP2 = "/com.snowplowanalytics.snowplow/tp2"
REDIRECT = "/r/tp2"


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
    """``/{vendor}/{version}``: GET/HEAD → pixel, POST → ``ok``; the payload is sunk before answering."""

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

    def too_large(self) -> None:
        self._cors()
        self.text(f"Request body exceeds {self.ctx.drop_payload_size} bytes", 413)

    def stored_path(self) -> str:
        _, vendor, version = self.request.path.split("/")
        return f"/{unquote(vendor, errors='replace')}/{unquote(version, errors='replace')}"

    def _cors(self) -> None:
        for name, value in cors.tracking_headers(self.request.headers.get("Origin")):
            self.set_header(name, value)

    async def get(self) -> None:
        path = self.ctx.paths.get(self.stored_path(), None) or self.stored_path()
        await self.track(path, None, redirect=path == REDIRECT)

    head = get

    async def post(self) -> None:
        if self._chunks is None:
            if not self._finished:
                self.too_large()
            return
        path = self.ctx.paths.get(self.stored_path(), None) or self.stored_path()
        await self.track(path, b"".join(self._chunks))

    async def track(self, path: str, body: bytes | None, redirect: bool = False) -> None:
        ctx = self.ctx
        headers = self.request.headers
        policy = ctx.cookies
        anonymous = "SP-Anonymous" in headers
        cookie_header = headers.get("Cookie")
        cookies = parse_cookies(cookie_header) if cookie_header else {}
        query = self.request.query
        nuid = payload.network_user_id(anonymous, query, cookies.get(policy.name))
        self._cors()
        if policy.dnt_enabled and policy.do_not_track(cookies):
            ctx.count("requests_accepted")
            ctx.count("dnt_dropped")
            self.respond(body is not None, redirect, set_cookies=[])
            return
        pixel = body is None and not redirect
        bouncing = policy.bounce_enabled and policy.bounce_name in dict(parse_qsl(query, keep_blank_values=True))
        if policy.bounce_enabled and pixel and nuid is None and not bouncing:
            self.bounce()
            return
        if nuid is None:
            nuid = policy.bounce_fallback_nuid if bouncing else payload.new_nuid()
        record = payload.build(self.request, path, nuid, anonymous, body, collector=ctx.collector_name)
        records, violations = ctx.sizes.records(record)
        try:
            await ctx.sink.submit(records)
        except Exception as exc:  # noqa: BLE001 - spool full or disk error: the tracker retries
            log.error("could not sink a payload: %s", exc)
            self.text("Service Unavailable", 503)
            return
        ctx.count("requests_accepted")
        ctx.count("payloads_sunk")
        if violations:
            ctx.count("size_violations", violations)
        cookies_out = policy.set_cookie_headers(nuid, headers.get("Origin"), anonymous, cookies)
        self.respond(body is not None, redirect, cookies_out)

    def respond(self, post: bool, redirect: bool, set_cookies: list[str] | None = None) -> None:
        for value in set_cookies or ():
            self.add_header("Set-Cookie", value)
        if redirect:
            self.redirect_to_u()
        elif post:
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish("ok")
        else:
            self.set_header("Content-Type", "image/gif")
            self.set_header("Cache-Control", NO_CACHE)
            if self.request.method == "HEAD":
                self.set_header("Content-Length", str(len(PIXEL)))
                self.finish()
            else:
                self.finish(PIXEL)

    def redirect_to_u(self) -> None:
        self.route = "redirect"
        target = payload.query_param(self.request.query, "u")
        try:
            host = urlsplit(target).hostname if target else None
            valid = bool(target) and (not self.ctx.redirect_domains or host in self.ctx.redirect_domains)
        except ValueError:
            valid = False
        if not valid:
            self.set_status(400)
            self.clear_header("Content-Type")
            self.finish()
            return
        self.set_status(302)
        self.set_header("Location", target)
        self.finish()

    def bounce(self) -> None:
        """Cookie bounce: 302 to the same URL with ``n3pc=true``, setting a fresh cookie; nothing sunk."""
        ctx, policy = self.ctx, self.ctx.cookies
        ctx.count("requests_accepted")
        ctx.count("bounced")
        self.route = "bounce"
        scheme = self.request.protocol
        if policy.bounce_forwarded_protocol_header:
            scheme = self.request.headers.get(policy.bounce_forwarded_protocol_header, scheme)
        query = self.request.query
        query = f"{query}&{urlencode({policy.bounce_name: 'true'})}" if query else urlencode({policy.bounce_name: "true"})
        for value in policy.set_cookie_headers(payload.new_nuid(), self.request.headers.get("Origin"), False, {}):
            self.add_header("Set-Cookie", value)
        self.set_status(302)
        self.set_header("Location", f"{scheme}://{self.request.host}{self.request.path}?{query}")
        self.finish()


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
