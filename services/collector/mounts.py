"""Mounts: reserved prefixes of the public origin forwarded to services on loopback (DESIGN §2).

``/iglu-server/api/schemas`` with the mount ``/iglu-server=http://127.0.0.1:4001`` is forwarded to
``http://127.0.0.1:4001/api/schemas``: method and headers pass through, the request body streams up
and the response streams back.  A reserved prefix with nothing mounted answers 404, a mount whose target is down 502, both in
the shared JSON error shape.  Tracker routes never come here.  The guarded prefixes (``/home``,
``/dashboard``, ``/control-plane``, ``/elasticsearch``, ``/kibana``) ask for HTTP basic auth when
``collector.basic_auth`` lists credentials, as Mini's Caddy does; Iglu keeps its own API keys.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
from typing import Any, Iterable
from urllib.parse import urlsplit

import tornado.httpclient
import tornado.httputil
import tornado.routing
import tornado.web

from services.common.http import ApiError, BaseHandler

from .settings import GUARDED_PREFIXES, RESERVED_PREFIXES

log = logging.getLogger(__name__)

# Hop-by-hop headers (RFC 7230 §6.1) are the proxy's own business; Host is the target's.
_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host"}


class MountError(ValueError):
    """A mount specification is not ``/prefix=http://host:port[/path]``."""


def parse_mounts(items: Iterable[str]) -> dict[str, str]:
    """``["/iglu-server=http://127.0.0.1:4001", ...]`` → ``{"/iglu-server": "http://127.0.0.1:4001"}``."""
    mounts: dict[str, str] = {}
    for item in items:
        prefix, sep, url = item.partition("=")
        prefix, url = prefix.strip().rstrip("/"), url.strip().rstrip("/")
        parts = urlsplit(url)
        if not sep or not prefix.startswith("/") or parts.scheme not in ("http", "https") or not parts.netloc:
            raise MountError(f"mount {item!r} is not /prefix=http://host:port")
        mounts[prefix] = url
    return mounts


class Mounts:
    """The mount table; a mutable object so a running origin can gain or lose mounts."""

    def __init__(self, mounts: dict[str, str] | None = None, reserved: Iterable[str] = RESERVED_PREFIXES):
        self.table = dict(mounts or {})
        self.reserved = tuple(reserved)
        self._refresh()

    def _refresh(self) -> None:
        # Longest first, so /micro/v2 wins over /micro; a tuple for str.startswith's fast path.
        self._prefixes = tuple(sorted(set(self.reserved) | set(self.table), key=len, reverse=True))

    def prefixes(self) -> list[str]:
        return list(self._prefixes)

    def mount(self, prefix: str, url: str) -> None:
        self.table.update(parse_mounts([f"{prefix}={url}"]))
        self._refresh()

    def unmount(self, prefix: str) -> None:
        self.table.pop(prefix.rstrip("/"), None)
        self._refresh()

    def claims(self, path: str) -> bool:
        """Cheap pre-check on the hot path: could ``path`` be under a prefix at all?"""
        return path.startswith(self._prefixes)

    def resolve(self, path: str) -> tuple[str, str | None, str]:
        """(prefix, target base URL or None, remaining path) for a path under a known prefix."""
        for prefix in self._prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                rest = path[len(prefix):] or "/"
                return prefix, self.table.get(prefix), rest
        raise KeyError(path)



class MountMatcher(tornado.routing.Matcher):
    """Routes a request to the mounts when its path is under a reserved or mounted prefix (checked live)."""

    def __init__(self, mounts: Mounts):
        self.mounts = mounts

    def match(self, request: tornado.httputil.HTTPServerRequest) -> dict | None:
        if not self.mounts.claims(request.path):
            return None
        try:
            self.mounts.resolve(request.path)
        except KeyError:
            return None
        return {}


@tornado.web.stream_request_body
class MountHandler(BaseHandler):
    """Forward a request under a mount prefix; stream the answer back."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def initialize(self, mounts: Mounts, client: tornado.httpclient.AsyncHTTPClient, counters: dict,
                   credentials: Iterable[str] = ()) -> None:
        self.mounts = mounts
        self.credentials = tuple(credentials)
        self.client = client
        self.counters = counters
        self._headers_sent = False
        self._body: asyncio.Queue | None = None
        self._fetch: asyncio.Future | None = None

    def prepare(self) -> None:
        prefix, target, rest = self.mounts.resolve(self.request.path)
        self.prefix = prefix
        if prefix in GUARDED_PREFIXES and self.credentials and not self._authorized():
            raise ApiError(401, f"{prefix} needs the credentials set in collector.basic_auth (HTTP basic auth)")
        if target is None:
            raise ApiError(404, f"nothing is mounted at {prefix}")
        self.target = target
        self.rest = rest
        headers = self.request.headers
        length = headers.get("Content-Length", "")
        if (length.isdigit() and int(length) > 0) or "chunked" in headers.get("Transfer-Encoding", "").lower():
            # Start forwarding now: the body streams up while it arrives.
            self._body = asyncio.Queue()
            self._fetch = asyncio.ensure_future(self._upstream())

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 401:  # (send_error cleared the headers: the challenge goes on here)
            self.set_header("WWW-Authenticate", 'Basic realm="Mini", charset="UTF-8"')
        super().write_error(status_code, **kwargs)

    def _authorized(self) -> bool:
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # Compare with every entry (no early exit), in constant time per entry.
        return any([hmac.compare_digest(given.encode(), c.encode()) for c in self.credentials])

    def data_received(self, chunk: bytes) -> None:
        if self._body is not None:
            self._body.put_nowait(chunk)

    async def _produce(self, write: Any) -> None:
        assert self._body is not None
        while True:
            chunk = await self._body.get()
            if chunk is None:
                return
            await write(chunk)

    def on_connection_close(self) -> None:
        # The client went away mid-request: stop feeding and waiting for the upstream.
        if self._body is not None:
            self._body.put_nowait(None)
        if self._fetch is not None and not self._fetch.done():
            self._fetch.cancel()

    def on_finish(self) -> None:
        by_route = self.counters["requests"].setdefault("mount", {})
        status = str(self.get_status())
        by_route[status] = by_route.get(status, 0) + 1

    def _header_line(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if line.startswith("HTTP/"):
            self._upstream_headers = tornado.httputil.HTTPHeaders()
            self._upstream_status = tornado.httputil.parse_response_start_line(line)
        elif line:
            self._upstream_headers.parse_line(line)

    def _start_response(self) -> None:
        if self._headers_sent:
            return
        self._headers_sent = True
        start = self._upstream_status
        self.set_status(start.code, start.reason)
        self.clear_header("Content-Type")
        for name, value in self._upstream_headers.get_all():
            if name.lower() in _HOP or name.lower() == "server":
                continue
            self.add_header(name, value)

    def _on_chunk(self, chunk: bytes) -> None:
        if self.request.connection.stream.closed():
            return
        self._start_response()
        self.write(chunk)
        self.flush()

    async def _upstream(self) -> None:
        url = self.target + self.rest + (f"?{self.request.query}" if self.request.query else "")
        headers = tornado.httputil.HTTPHeaders()
        for name, value in self.request.headers.get_all():
            if name.lower() not in _HOP:
                headers.add(name, value)
        headers["X-Forwarded-For"] = self.request.remote_ip or ""
        headers["X-Forwarded-Host"] = self.request.host
        headers["X-Forwarded-Proto"] = self.request.protocol
        headers["X-Forwarded-Prefix"] = self.prefix
        method = self.request.method
        request = tornado.httpclient.HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=b"" if self._body is None and method in ("POST", "PUT", "PATCH") else None,
            body_producer=self._produce if self._body is not None else None,
            allow_nonstandard_methods=True,
            follow_redirects=False,
            decompress_response=False,
            header_callback=self._header_line,
            streaming_callback=self._on_chunk,
            connect_timeout=5,
            request_timeout=300,
        )
        await self.client.fetch(request, raise_error=False)

    async def _forward(self) -> None:
        if self._body is not None:
            self._body.put_nowait(None)  # the whole request body has arrived
        try:
            await (self._fetch if self._fetch is not None else self._upstream())
        except (OSError, tornado.httpclient.HTTPClientError) as exc:
            self.counters["mount_errors"] = self.counters.get("mount_errors", 0) + 1
            if self._headers_sent:
                log.warning("mount %s: upstream failed mid-response: %s", self.prefix, exc)
                self.request.connection.close()
                return
            raise ApiError(502, f"{self.prefix} is mounted at {self.target} but it does not answer: {exc}") from None
        if not self._headers_sent:
            if not hasattr(self, "_upstream_status"):
                raise ApiError(502, f"{self.prefix}: no response from {self.target}")
            self._start_response()
        self.finish()

    async def get(self) -> None:
        await self._forward()

    head = post = put = patch = delete = options = get
