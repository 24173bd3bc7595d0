"""Page and referrer URLs: components for ``page_url*``/``refr_url*`` and the cross-domain ``_sp``.

Parsing mirrors Java's ``URI.create`` after spaces become ``%20``; characters Java rejects are
percent-encoded first (Snowplow's lenient fallback).  Components stay raw (still percent-encoded),
TSV-safe, empty -> None; the port defaults to 443 for https and 80 otherwise (§3.4).
"""

from __future__ import annotations

import re
import urllib.parse
from typing import NamedTuple

from .conversions import ConversionError, format_ms, safe

# Characters java.net.URI refuses anywhere (besides controls and space): re-encoded leniently.
_ILLEGAL = re.compile(r"[\"<>\\^`{|}\x00-\x20\x7f]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")


class UrlParts(NamedTuple):
    url: str
    scheme: str | None
    host: str | None
    port: str | None
    path: str | None
    query: str | None
    fragment: str | None


class UrlError(ValueError):
    pass


def _encode(match: re.Match) -> str:
    return urllib.parse.quote(match.group(0), safe="")


def parse_url(text: str) -> UrlParts:
    """Split a URL Snowplow-style; raise :class:`UrlError` when no URI can be made of it."""
    url = text.replace(" ", "%20")
    if _ILLEGAL.search(url):
        url = _ILLEGAL.sub(_encode, url)
    # A '#' inside the fragment is illegal for Java: keep the first, encode the rest.
    head, hash_, fragment = url.partition("#")
    if hash_ and "#" in fragment:
        url = head + "#" + fragment.replace("#", "%23")
    try:
        parts = urllib.parse.urlsplit(url)
        port_number = parts.port
    except ValueError as exc:
        raise UrlError(str(exc)) from None
    if parts.scheme and not _SCHEME.match(parts.scheme):
        raise UrlError(f"illegal scheme {parts.scheme!r}")
    scheme = parts.scheme or None
    host = parts.hostname
    if host is not None and parts.netloc:
        # hostname lowercases; Java keeps the original case of the host.
        raw_host = parts.netloc.rpartition("@")[2]
        if raw_host.startswith("["):
            raw_host = raw_host[: raw_host.find("]") + 1]
        else:
            raw_host = raw_host.split(":", 1)[0]
        host = raw_host or None
    if port_number is None:
        port = "443" if scheme == "https" else "80"
    else:
        port = str(port_number)
    return UrlParts(
        url=url,
        scheme=scheme,
        host=host,
        port=port if host is not None or scheme is not None else None,
        path=safe(parts.path) if parts.path else None,
        query=safe(parts.query) if parts.query else None,
        fragment=safe(parts.fragment) if parts.fragment else None,
    )


def cross_domain(query: str | None) -> tuple[str | None, str | None]:
    """``_sp=<duid>.<ms>[...]`` in the page query -> (refr_domain_userid, refr_dvce_tstamp)."""
    if not query or "_sp=" not in query:
        return None, None
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if name == "_sp":
            parts = value.split(".")
            duid = safe(parts[0]) if parts[0] else None
            tstamp = None
            if len(parts) > 1 and parts[1]:
                try:
                    tstamp = format_ms(int(parts[1]))
                except (ValueError, ConversionError):
                    raise UrlError(f"{parts[1]} is not a timestamp in ms") from None
            return duid, tstamp
    return None, None
