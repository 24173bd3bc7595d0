"""What a tracking request (pixel, POST, redirect) sinks and how it is answered (snowplow-formats.md §1.2-1.6).

:func:`track` turns a :class:`Hit` into a :class:`Tracked`: the records to sink (none for do-not-track
and the cookie bounce) and the :class:`Answer` to send once they are durable.  Both HTTP adapters use
it: the light exchange of the hot path (``exchange.py``) and the RequestHandler routes (``routes.py``).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import tornado.httputil

from services.common.http import error_body

from . import cors, payload
from .cookies import parse_cookies

log = logging.getLogger(__name__)
access_log = logging.getLogger("tornado.access")

PIXEL = base64.b64decode("R0lGODlhAQABAPAAAP///wAAACH5BAUAAAAALAAAAAABAAEAAAICRAEAOw==")
NO_CACHE = "no-cache, no-store, must-revalidate"
TEXT = "text/plain; charset=UTF-8"
JSON = "application/json; charset=utf-8"
REDIRECT = "/r/tp2"


@dataclasses.dataclass(slots=True)
class Hit:
    """The parts of a tracking request the collector reads."""

    method: str
    query: str
    headers: tornado.httputil.HTTPHeaders
    remote_ip: str | None
    body: bytes | None = None  # POST only
    protocol: str = "http"
    path: str = "/"  # the request path as sent (bounce Location)


@dataclasses.dataclass(slots=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    route: str = "track"


@dataclasses.dataclass(slots=True)
class Tracked:
    """Records to sink (None: nothing to sink, answer at once) and the answer once they are durable."""

    records: list[tuple[str, bytes]] | None
    answer: Answer
    violations: int = 0


def stored_track_path(request_path: str) -> str:
    """``/{vendor}/{version}`` percent-decoded, as Snowplow stores it."""
    _, vendor, version = request_path.split("/")
    return f"/{unquote(vendor, errors='replace')}/{unquote(version, errors='replace')}"


def too_large(ctx: Any, headers: tornado.httputil.HTTPHeaders) -> Answer:
    return Answer(413, [*cors.tracking_headers(headers.get("Origin")), ("Content-Type", TEXT)],
                  f"Request body exceeds {ctx.drop_payload_size} bytes".encode())


def error(status: int, message: str) -> Answer:
    """An answer in the shared error shape (``services.common.http.error_body``)."""
    return Answer(status, [("Content-Type", JSON)], json.dumps(error_body(status, message)).encode())


def unavailable(headers: tornado.httputil.HTTPHeaders) -> Answer:
    return Answer(503, [*cors.tracking_headers(headers.get("Origin")), ("Content-Type", TEXT)], b"Service Unavailable")


def track(ctx: Any, hit: Hit, path: str, redirect: bool = False) -> Tracked:
    """The synchronous part of a tracking request; ``ctx`` is the app's ``routes.Context``."""
    headers = hit.headers
    policy = ctx.cookies
    anonymous = "SP-Anonymous" in headers
    cookie_header = headers.get("Cookie")
    cookies = parse_cookies(cookie_header) if cookie_header else {}
    query = hit.query
    origin = headers.get("Origin")
    nuid = payload.network_user_id(anonymous, query, cookies.get(policy.name))
    out = cors.tracking_headers(origin)
    post = hit.body is not None
    if policy.dnt_enabled and policy.do_not_track(cookies):
        ctx.count("requests_accepted")
        ctx.count("dnt_dropped")
        return Tracked(None, respond(ctx, hit, out, post, redirect))
    pixel = not post and not redirect
    bouncing = policy.bounce_enabled and policy.bounce_name in dict(parse_qsl(query, keep_blank_values=True))
    if policy.bounce_enabled and pixel and nuid is None and not bouncing:
        return Tracked(None, bounce(ctx, hit, out))
    if nuid is None:
        nuid = policy.bounce_fallback_nuid if bouncing else payload.new_nuid()
    record = payload.build(headers, hit.remote_ip, query, path, nuid, anonymous, hit.body, collector=ctx.collector_name)
    records, violations = ctx.sizes.records(record)
    for value in policy.set_cookie_headers(nuid, origin, anonymous, cookies):
        out.append(("Set-Cookie", value))
    return Tracked(records, respond(ctx, hit, out, post, redirect), violations)


def sunk(ctx: Any, tracked: Tracked) -> None:
    """Count a request whose records are durable (the ledger's collector terms)."""
    ctx.count("requests_accepted")
    ctx.count("payloads_sunk")
    if tracked.violations:
        ctx.count("size_violations", tracked.violations)


def respond(ctx: Any, hit: Hit, out: list[tuple[str, str]], post: bool, redirect: bool) -> Answer:
    if redirect:
        return redirect_to_u(ctx, hit, out)
    if post:
        out.append(("Content-Type", TEXT))
        return Answer(200, out, b"ok")
    out.append(("Content-Type", "image/gif"))
    out.append(("Cache-Control", NO_CACHE))
    return Answer(200, out, PIXEL)


def redirect_to_u(ctx: Any, hit: Hit, out: list[tuple[str, str]]) -> Answer:
    target = payload.query_param(hit.query, "u")
    try:
        host = urlsplit(target).hostname if target else None
        valid = bool(target) and (not ctx.redirect_domains or host in ctx.redirect_domains)
    except ValueError:
        valid = False
    if not valid:
        return Answer(400, out, route="redirect")
    out.append(("Location", target or ""))
    return Answer(302, out, route="redirect")


def bounce(ctx: Any, hit: Hit, out: list[tuple[str, str]]) -> Answer:
    """Cookie bounce: 302 to the same URL with ``n3pc=true``, setting a fresh cookie; nothing sunk."""
    policy = ctx.cookies
    ctx.count("requests_accepted")
    ctx.count("bounced")
    scheme = hit.protocol
    if policy.bounce_forwarded_protocol_header:
        scheme = hit.headers.get(policy.bounce_forwarded_protocol_header, scheme)
    query = hit.query
    mark = urlencode({policy.bounce_name: "true"})
    query = f"{query}&{mark}" if query else mark
    for value in policy.set_cookie_headers(payload.new_nuid(), hit.headers.get("Origin"), False, {}):
        out.append(("Set-Cookie", value))
    host = hit.headers.get("Host") or "127.0.0.1"
    out.append(("Location", f"{scheme}://{host}{hit.path}?{query}"))
    return Answer(302, out, route="bounce")


def log_access(status: int, method: str, uri: str, remote_ip: str | None, seconds: float) -> None:
    """Access log: tracker hits at DEBUG (the hot path must not pay for a log line), failures louder."""
    if status < 400:
        if not access_log.isEnabledFor(logging.DEBUG):
            return
        level = logging.DEBUG
    elif status < 500:
        level = logging.INFO
    else:
        level = logging.WARNING
    access_log.log(level, "%d %s %s (%s) %.2fms", status, method, uri, remote_ip, 1000.0 * seconds)
