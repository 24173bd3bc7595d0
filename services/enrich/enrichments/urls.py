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


# RFC 3986 appendix B, with the scheme required (Java's URI.create accepts relative URIs too, but a
# page URL without a scheme has no host to report).
_URI = re.compile(r"^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.DOTALL)
_AUTHORITY = re.compile(r"^(?:[^@]*@)?(\[[^\]]*\]|[^:]*)(?::([0-9]*))?$")


def parse_url(text: str) -> UrlParts:
    """Split a URL Snowplow-style; raise :class:`UrlError` when no URI can be made of it."""
    url = text.replace(" ", "%20") if " " in text else text
    if _ILLEGAL.search(url):
        url = _ILLEGAL.sub(_encode, url)
    # A '#' inside the fragment is illegal for Java: keep the first, encode the rest.
    if url.count("#") > 1:
        head, _, fragment = url.partition("#")
        url = head + "#" + fragment.replace("#", "%23")
    scheme, authority, path, query, fragment = _URI.match(url).groups()
    if scheme is not None and not _SCHEME.match(scheme):
        raise UrlError(f"illegal scheme {scheme!r}")
    host = port = None
    if authority:
        match = _AUTHORITY.match(authority)
        if match is None:
            raise UrlError(f"invalid authority {authority!r}")
        host = match.group(1) or None
        explicit = match.group(2)
        if explicit:
            if int(explicit) > 65535:
                raise UrlError(f"port out of range: {explicit}")
            port = str(int(explicit))
    if port is None and (host is not None or scheme is not None):
        port = "443" if scheme == "https" else "80"
    return UrlParts(
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        path=safe(path) if path else None,
        query=safe(query) if query else None,
        fragment=safe(fragment) if fragment else None,
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
