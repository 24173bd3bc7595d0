"""The network-user cookie (``sp``), the do-not-track cookie and the cookie bounce (snowplow-formats.md §1.6).

:class:`CookiePolicy` is built once from settings; per request it resolves the Domain from ``Origin``,
renders ``Set-Cookie`` values in http4s's attribute order, and answers the do-not-track question.
"""

from __future__ import annotations

import dataclasses
import email.utils
import functools
import re
import time
from typing import Mapping
from urllib.parse import urlsplit

from services.common.settings import Settings


def parse_cookies(header: str | None) -> dict[str, str]:
    """Request cookies by name (first wins); tolerant of malformed segments."""
    if not header:
        return {}
    cookies: dict[str, str] = {}
    for segment in header.split(";"):
        name, sep, value = segment.strip().partition("=")
        if sep and name and name not in cookies:
            cookies[name] = value.strip().strip('"')
    return cookies


def origin_hosts(origin: str | None) -> list[str]:
    """Hosts named in an ``Origin`` header (a space-separated list is allowed; ``null`` names none)."""
    if not origin:
        return []
    hosts = []
    for item in origin.split():
        try:
            host = urlsplit(item).hostname
        except ValueError:
            host = None
        if host:
            hosts.append(host)
    return hosts


def http_date(epoch_s: float) -> str:
    """IMF-fixdate, e.g. ``Wed, 21 Oct 2026 07:28:00 GMT`` (memoised per second: it is on the hot path)."""
    return _http_date(int(epoch_s))


@functools.lru_cache(maxsize=8)
def _http_date(epoch_s: int) -> str:
    return email.utils.formatdate(epoch_s, usegmt=True)


@dataclasses.dataclass(frozen=True)
class CookiePolicy:
    enabled: bool = True
    name: str = "sp"
    expiration_s: int = 365 * 86400
    domains: tuple[str, ...] = ()
    fallback_domain: str = ""
    secure: bool = True
    http_only: bool = True
    same_site: str = "None"
    client_cookie_name: str = ""
    dnt_enabled: bool = False
    dnt_name: str = ""
    dnt_value: re.Pattern | None = None
    bounce_enabled: bool = False
    bounce_name: str = "n3pc"
    bounce_fallback_nuid: str = "00000000-0000-4000-A000-000000000000"
    bounce_forwarded_protocol_header: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> "CookiePolicy":
        s = settings
        return cls(
            enabled=s["collector.cookie.enabled"],
            name=s["collector.cookie.name"],
            expiration_s=int(s["collector.cookie.expiration_days"]) * 86400,
            domains=tuple(s["collector.cookie.domains"]),
            fallback_domain=s["collector.cookie.fallback_domain"],
            secure=s["collector.cookie.secure"],
            http_only=s["collector.cookie.http_only"],
            same_site=s["collector.cookie.same_site"],
            client_cookie_name=s["collector.cookie.client_cookie_name"],
            dnt_enabled=s["collector.do_not_track_cookie.enabled"],
            dnt_name=s["collector.do_not_track_cookie.name"],
            dnt_value=re.compile(s["collector.do_not_track_cookie.value"]),
            bounce_enabled=s["collector.cookie_bounce.enabled"],
            bounce_name=s["collector.cookie_bounce.name"],
            bounce_fallback_nuid=s["collector.cookie_bounce.fallback_network_user_id"],
            bounce_forwarded_protocol_header=s["collector.cookie_bounce.forwarded_protocol_header"],
        )

    def domain_for(self, origin: str | None) -> str | None:
        """First configured domain some Origin host equals or ends with ``.domain``; else the fallback."""
        if self.domains:
            hosts = origin_hosts(origin)
            for domain in self.domains:
                bare = domain.lstrip(".")
                if any(h == bare or h.endswith("." + bare) for h in hosts):
                    return domain
        return self.fallback_domain or None

    def do_not_track(self, cookies: Mapping[str, str]) -> bool:
        if not self.dnt_enabled or not self.dnt_name or self.dnt_name not in cookies:
            return False
        return bool(self.dnt_value and self.dnt_value.fullmatch(cookies[self.dnt_name]))

    def _render(self, name: str, value: str, expires: float, domain: str | None, http_only: bool) -> str:
        # http4s ResponseCookie order: name=value; Expires; Domain; Path; SameSite; Secure; HttpOnly
        parts = [f"{name}={value}", f"Expires={http_date(expires)}"]
        if domain:
            parts.append(f"Domain={domain}")
        parts.append("Path=/")
        if self.same_site:
            parts.append(f"SameSite={self.same_site}")
        if self.secure or self.same_site == "None":
            parts.append("Secure")
        if http_only:
            parts.append("HttpOnly")
        return "; ".join(parts)

    def set_cookie_headers(
        self, nuid: str, origin: str | None, anonymous: bool, request_cookies: Mapping[str, str], now: float | None = None
    ) -> list[str]:
        """The ``Set-Cookie`` values for a tracking response (possibly none)."""
        if not self.enabled:
            return []
        now = time.time() if now is None else now
        domain = self.domain_for(origin)
        if anonymous:
            if self.name not in request_cookies:
                return []
            # An anonymous request expires the cookie it carried.
            return [self._render(self.name, "", now - self.expiration_s, domain, self.http_only)]
        values = [self._render(self.name, nuid, now + self.expiration_s, domain, self.http_only)]
        if self.client_cookie_name:
            values.append(self._render(self.client_cookie_name, nuid, now + self.expiration_s, domain, False))
        return values


# RFC 6265 cookie-octet, plus '=' separating name and value.
_COOKIE_SEGMENT = re.compile(r"^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+$")


@functools.lru_cache(maxsize=4096)
def render_cookie_header(value: str) -> str | None:
    """The stored ``Cookie`` header: spaces removed, invalid segments dropped, re-joined with ``;``."""
    segments = [s for s in value.replace(" ", "").split(";") if s and _COOKIE_SEGMENT.match(s)]
    return ";".join(segments) if segments else None

