"""A tracking request → a :class:`CollectorPayload` (snowplow-formats.md §1.2).

Client IP from ``X-Forwarded-For`` or the peer, headers rendered as ``Name: value`` (the ``Cookie``
header cleaned, anonymous requests stripped of identifying headers), the content type re-rendered
and lowercased, the network user id from ``SP-Anonymous`` / ``nuid`` / the cookie / a new UUID.
"""

from __future__ import annotations

import codecs
import functools
import ipaddress
import time
import uuid
from urllib.parse import parse_qsl

import tornado.httputil

from services import __version__
from services.common.collector_payload import CollectorPayload

from .cookies import render_cookie_header

COLLECTOR_NAME = f"mini-collector-{__version__}-nsq"
ANONYMOUS_NUID = "00000000-0000-0000-0000-000000000000"
_ANONYMOUS_DROPPED = {"x-forwarded-for", "x-real-ip", "cookie"}


@functools.lru_cache(maxsize=4096)
def render_ip(text: str) -> str | None:
    """An IP address as a URI host (IPv6 in brackets), or None if ``text`` is not one."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return f"[{addr.compressed}]" if addr.version == 6 else addr.compressed


def client_ip(headers: tornado.httputil.HTTPHeaders, peer: str | None, anonymous: bool) -> str:
    if anonymous:
        return "unknown"
    forwarded = headers.get("X-Forwarded-For")
    if forwarded:
        rendered = render_ip(forwarded.split(",")[0])
        if rendered:
            return rendered
    return (render_ip(peer) if peer else None) or "unknown"


def hostname(headers: tornado.httputil.HTTPHeaders) -> str | None:
    """Host part of the ``Host`` header (DESIGN §6), port removed; IPv6 keeps its brackets."""
    host = headers.get("Host")
    if not host:
        return None
    host = host.strip()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end > 0 else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@functools.lru_cache(maxsize=256)
def content_type(raw: str | None) -> tuple[str | None, str | None]:
    """(stored content type ``type/subtype; charset=x`` lowercased, charset) from a Content-Type header."""
    if not raw:
        return None, None
    media, *params = raw.split(";")
    media = media.strip()
    if media.count("/") != 1 or media.startswith("/") or media.endswith("/") or " " in media:
        return None, None
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    rendered = f"{media}; charset={charset}" if charset else media
    return rendered.lower(), charset


def decode_body(body: bytes, charset: str | None) -> str:
    """The body as text: its declared charset when Python knows it, else UTF-8; bad bytes → U+FFFD."""
    encoding = "utf-8"
    if charset:
        try:
            encoding = codecs.lookup(charset).name
        except LookupError:
            pass
    return body.decode(encoding, "replace")


def render_headers(headers: tornado.httputil.HTTPHeaders, anonymous: bool) -> list[str]:
    """Every header as ``Name: value`` in request order, names as sent when the server kept them."""
    pairs = getattr(headers, "raw_pairs", None)
    if pairs is None:
        pairs = list(headers.get_all())
    out = []
    for name, value in pairs:
        lowered = name.lower()
        if anonymous and lowered in _ANONYMOUS_DROPPED:
            continue
        if lowered == "cookie":
            value = render_cookie_header(value)
            if value is None:
                continue
        out.append(f"{name}: {value}")
    return out


def query_param(query: str, name: str) -> str | None:
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == name:
            return value
    return None


def network_user_id(anonymous: bool, query: str, cookie_value: str | None) -> str | None:
    """The nuid by Snowplow's precedence; None means 'mint one' (or the bounce fallback)."""
    if anonymous:
        return ANONYMOUS_NUID
    if "nuid=" in query:
        nuid = query_param(query, "nuid")
        if nuid is not None:
            return nuid
    return cookie_value


def new_nuid() -> str:
    return str(uuid.uuid4())


def build(
    headers: tornado.httputil.HTTPHeaders,
    remote_ip: str | None,
    query: str,
    path: str,
    nuid: str,
    anonymous: bool,
    body: bytes | None = None,
    now_ms: int | None = None,
    collector: str = COLLECTOR_NAME,
) -> CollectorPayload:
    """The payload Snowplow's collector would sink for this request (``body`` set for POST only)."""
    rendered = render_headers(headers, anonymous)
    ctype = charset = text = None
    if body is not None:
        ctype, charset = content_type(headers.get("Content-Type"))
        text = decode_body(body, charset)
        if ctype is not None:
            rendered.append(ctype)
    return CollectorPayload(
        ip_address=client_ip(headers, remote_ip, anonymous),
        timestamp=int(time.time() * 1000) if now_ms is None else now_ms,
        encoding="UTF-8",
        collector=collector,
        user_agent=headers.get("User-Agent"),
        referer_uri=headers.get("Referer"),
        path=path,
        querystring=query,
        body=text,
        headers=rendered,
        content_type=ctype,
        hostname=hostname(headers),
        network_user_id=nuid,
    )
