"""CORS for tracking responses and preflights (snowplow-formats.md §1.3-1.4).

The browser tracker POSTs with ``credentials: include``, so the answer must echo the request's
Origin (never ``*`` when one is given) with ``Access-Control-Allow-Credentials: true``.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit


@functools.lru_cache(maxsize=1024)  # a site's pages send a handful of Origins: no urlsplit per request
def allow_origin(origin: str | None) -> str:
    """``scheme://host[:port]`` of the first Origin, or ``*`` when there is none (or it is ``null``)."""
    if not origin:
        return "*"
    first = origin.split()[0] if origin.split() else ""
    if not first or first == "null":
        return "*"
    try:
        parts = urlsplit(first)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "*"
    if not parts.scheme or not host:
        return "*"
    rendered = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{rendered}" + (f":{port}" if port is not None else "")


def tracking_headers(origin: str | None) -> list[tuple[str, str]]:
    return [("Access-Control-Allow-Origin", allow_origin(origin)), ("Access-Control-Allow-Credentials", "true")]


def preflight_headers(origin: str | None, max_age_s: int) -> list[tuple[str, str]]:
    return tracking_headers(origin) + [
        ("Access-Control-Allow-Headers", "Content-Type, SP-Anonymous"),
        ("Access-Control-Max-Age", str(max_age_s)),
    ]
